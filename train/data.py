"""The public names of sketchgen's training data in one place, re-exported from the modules that hold
them, so that user code importing from ``sketchgen.train.data`` keeps working:

- ``train.shards``: listing a split's shards, the dataset manifest (``read_dataset_manifest``, also under
  its former name ``read_manifest``), and ``ShardStream`` with its split across workers and ranks;
- ``train.images``: PNG decoding, ink, the triplets' augmentation, crops around points;
- ``train.zooms``: zooms drawn from stored strokes (``StrokeZooms``) and the drawing they are drawn at;
- ``train.triplets``: triplet decoding and ``triplet_stream``;
- ``train.pairs``: pair decoding (images, flow, strokes, keypoints) and ``pair_stream``;
- ``train.points``: descriptor training points of pairs and ``point_stream``.

sketchgen's own code imports from those modules.
"""

from sketchgen.train.images import crop, decode_grey, rotate_flip, to_ink, zoom_crops
from sketchgen.train.pairs import (decode_pair_arrays, load_flow, make_pair_decoder, pair_keypoints, pair_meta,
                                   pair_stream, pair_strokes, resize_flow)
from sketchgen.train.points import (NEAR_NEGATIVE_PX, correspondence_points, make_point_decoder, pick_negatives,
                                    point_stream, thin)
from sketchgen.train.shards import (ShardStream, consumer_index, dataset_kind, distributed_rank, list_shards,
                                    read_dataset_manifest)
from sketchgen.train.triplets import (FLIP_P, ROTATION_DEG, make_triplet_decoder, triplet_negative_count,
                                      triplet_stream, triplet_zoom_count)
from sketchgen.train.zooms import TRIPLET_DRAWING, StrokeZooms, point_drawing, zoom_drawing_of

read_manifest = read_dataset_manifest  # the name before it was told apart from datagen's manifest readers

__all__ = ["FLIP_P", "NEAR_NEGATIVE_PX", "ROTATION_DEG", "TRIPLET_DRAWING", "ShardStream", "StrokeZooms",
           "consumer_index", "correspondence_points", "crop", "dataset_kind", "decode_grey", "decode_pair_arrays",
           "distributed_rank", "list_shards", "load_flow", "make_pair_decoder", "make_point_decoder",
           "make_triplet_decoder", "pair_keypoints", "pair_meta", "pair_stream", "pair_strokes", "pick_negatives",
           "point_drawing", "point_stream", "read_dataset_manifest", "read_manifest", "resize_flow",
           "rotate_flip", "thin", "to_ink", "triplet_negative_count", "triplet_stream", "triplet_zoom_count",
           "zoom_crops", "zoom_drawing_of"]
