"""The shard schema: what a sample of each dataset holds, shared by the builders and ``train/``.

Shards use WebDataset's tar layout: a sample is the run of members ``<key>.<ext>`` sharing a key, keys
built from ids (``<shape>_<unit:04d>_<index:04d>``, no dots). A dataset directory holds
``manifest.json`` and ``<split>/<name>.tar`` shards.

Triplet sample (``kind == "triplet"``), SketchZooms:
    json          sample JSON (below)
    a0.png ...    anchor zoom images, one per zoom, largest field of view first (8-bit grey, 224x224)
    p0.png ...    positive zoom images
    n0.png ...    negative zoom images (the first negative)
    n1_0.png ...  zoom images of negative 1, 2, ... (``n<k>_<zoom>.png``, ``negative_key``), when the set
                  has more than one negative per anchor (``TripletConfig.extra_negatives``)
  JSON: {"kind": "triplet", "split", "anchor", "positive", "negative", "negatives", "surface_distance",
  "negative_strategy": "random" | "same-part" | "hard", "positive_source": "view" | "shape"}; each role
  is {"shape", "category", "part", "face", "bary": [3], "point": [x, y, z], "base_view", "base_camera":
  {...}, "views": [{"camera": {...}, "xy": [x, y]}, ...]}, one view per zoom, the point lying at ``xy``
  (the image centre) in each; ``base_camera`` is the view the lines were extracted from (same position
  as every zoom camera). ``surface_distance``: from the positive point to the negative, on their shape.
  ``negatives``: every negative in member order (index 0 is ``negative``), each a role as above plus
  {"kind": "near" | "hard" | "same-part" | "random" | "other-shape", "pixel_distance", "surface_distance"}
  (``datagen.negatives``): pixels of the base view and surface distance on the negative's shape, from the
  positive, or for an other-shape negative from the anchor's correspondence on that shape. Sets built
  before this field have one negative and no ``negatives``.

Pair sample (``kind == "pair"``), warp pretraining:
    json          sample JSON (below)
    a.png, b.png  images A and B (8-bit grey sketch, or RGB for a shaded render), default 256x256
    flow.npy      (H, W, 2) float32: displacement (dx, dy) in pixels taking each pixel centre of A to its
                  position in B; NaN where that surface point is not visible in B (or A is background)
    amask.png, bmask.png   8-bit masks of the object in A and B (255 = object)
  JSON: {"kind": "pair", "pair_kind": "views" | "shapes" | "deform", "modality": "sketch-sketch" |
  "sketch-shaded", "split", "a": {...}, "b": {...}}; each side is {"shape", "category", "camera": {...},
  "keypoints": [{"id", "point": [x, y, z], "xy": [x, y], "visible": bool}, ...]} (``id``: the keypoint's
  semantic id, shared by corresponding keypoints of A and B). In "sketch-shaded" pairs A is the shaded
  (RGB) image. A "deform" pair also holds "deformation": {"matrix": 2x2, "offset": [2], "tps_src",
  "tps_dst": Kx2 or null} in coordinates normalised to [-1, 1] (``datagen.deform.Deformation``); its B
  camera is A's and B's keypoint ``xy`` are A's moved by the deformation.

All cameras are in the JSON form of ``render.camera``; pixel positions follow its conventions.
"""

from __future__ import annotations

TRIPLET_ROLES = ("a", "p", "n")
ROLE_NAMES = {"a": "anchor", "p": "positive", "n": "negative"}
PAIR_IMAGES = ("a.png", "b.png")
PAIR_FLOW = "flow.npy"
PAIR_MASKS = ("amask.png", "bmask.png")
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")


def zoom_key(role: str, zoom: int) -> str:
    """Member extension of a triplet's zoom image: ``zoom_key("a", 0) == "a0.png"``."""
    if role not in TRIPLET_ROLES:
        raise ValueError(f"unknown triplet role {role!r}")
    return f"{role}{zoom}.png"


def negative_key(k: int, zoom: int) -> str:
    """Member extension of negative ``k``'s zoom image: ``n<zoom>.png`` for the first, then
    ``n<k>_<zoom>.png``: ``negative_key(0, 2) == "n2.png"``, ``negative_key(3, 1) == "n3_1.png"``."""
    return zoom_key("n", zoom) if k == 0 else f"n{k}_{zoom}.png"


def sample_key(shape_id: str, unit: int, index: int) -> str:
    """Key of one sample: ids only, no dots (WebDataset splits member names at the first dot)."""
    return f"{shape_id.replace('.', '-')}_{unit:04d}_{index:04d}"
