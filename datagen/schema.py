"""The shard schema: what a sample of each dataset holds, shared by the builders and ``train/``.

Shards use WebDataset's tar layout: a sample is the run of members ``<key>.<ext>`` sharing a key, keys
built from ids (``<shape>_<unit:04d>_<index:04d>``, no dots). A dataset directory holds
``manifest.json`` and ``<split>/<name>.tar`` shards.

Schema version 2 (``SCHEMA_VERSION``, in the manifest as "schema"): strokes beside every line drawing,
styles, per-sample seeds.

Strokes (``<image>.strokes.npz`` beside every line drawing ``<image>.png``, e.g. ``a0.strokes.npz``; no
strokes beside a shaded render): an uncompressed ``np.savez`` archive, ``render.strokearrays``:
    xy      (N, 2) float32  pixel position of each stroke vertex as drawn
    offset  (N, 2) float32  what the style moved it by: drawn minus exact projection of ``point`` (zeros
                            for clean strokes); a deformed B keeps its source's offset, so there
                            ``xy = deformation(projection + offset)``
    stroke  (N,) int32      the stroke it belongs to, in [0, S), non-decreasing
    point   (N, 3) float32  3D point in the collection's unit-sphere frame (a style's overshoot repeats
                            the end vertex's point)
    face    (N,) int32      mesh face it lies on
    part    (N,) int32      that face's part label (-1 unknown)
    kind    (N,) uint8      line type: 0 contour, 1 boundary, 2 crease, 3 suggestive (``KIND_CODES``)
    weight  (N,) float32    width factor along the stroke (the style's pressure; 0 in a gap; 1 clean)
    width   (S,) float32    stroke width in pixels at weight 1
  Pieces join consecutive vertices of one stroke (a one-vertex stroke is a dot), ``width[stroke] *
  weight`` px wide; ``render.strokearrays.draw_strokes`` of them is the PNG, byte for byte.

Every sample's JSON holds "style": the style its drawings were drawn in ("clean" | "sketchy"), drawn
per sample from the ``--style`` mix. Stored pixel positions (a triplet view's ``xy``, keypoints, flow,
masks) are those of the drawing as drawn, style included. A sample's key index is its own seed: every
random choice of sample ``index`` comes from ``datagen.plan.sample_rng(seed, shape, unit, index)``
(``datagen.regenerate`` makes it again alone).

Triplet sample (``kind == "triplet"``), SketchZooms:
    json          sample JSON (below)
    a0.png ...    anchor zoom images, one per zoom, largest field of view first (8-bit grey, 224x224)
    p0.png ...    positive zoom images
    n0.png ...    negative zoom images (the first negative)
    n1_0.png ...  zoom images of negative 1, 2, ... (``n<k>_<zoom>.png``, ``negative_key``), when the set
                  has more than one negative per anchor (``TripletConfig.extra_negatives``)
    a0.strokes.npz ...   the strokes of each zoom image (``n1_0.strokes.npz`` beside ``n1_0.png``)
  Key index: base view * points + anchor (gaps where a triplet failed).
  JSON: {"kind": "triplet", "split", "style", "anchor", "positive", "negative", "negatives", "surface_distance",
  "negative_strategy": "random" | "same-part" | "hard", "positive_source": "view" | "shape"}; each role
  is {"shape", "category", "part", "face", "bary": [3], "point": [x, y, z], "base_view", "base_camera":
  {...}, "views": [{"camera": {...}, "xy": [x, y]}, ...]}, one view per zoom, the point drawn at ``xy``
  in each (the image centre, moved by the style's displacement when sketchy); ``base_camera`` is the view the lines were extracted from (same position
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
    a.strokes.npz, b.strokes.npz   the strokes of A (absent when A is shaded) and of B
  JSON: {"kind": "pair", "pair_kind": "views" | "shapes" | "deform", "modality": "sketch-sketch" |
  "sketch-shaded", "split", "style", "a": {...}, "b": {...}}; each side is {"shape", "category", "camera": {...},
  "keypoints": [{"id", "point": [x, y, z], "xy": [x, y], "visible": bool}, ...]} (``id``: the keypoint's
  semantic id, shared by corresponding keypoints of A and B). In "sketch-shaded" pairs A is the shaded
  (RGB) image. A "deform" pair also holds "deformation": {"matrix": 2x2, "offset": [2], "tps_src",
  "tps_dst": Kx2 or null} in coordinates normalised to [-1, 1] (``datagen.deform.Deformation``); its B
  camera is A's, B's strokes are A's drawn strokes moved by the deformation (their ``point`` and
  ``offset`` kept) and B's keypoint ``xy`` are A's drawn ones moved by the deformation.

All cameras are in the JSON form of ``render.camera``; pixel positions follow its conventions.
"""

from __future__ import annotations

TRIPLET_ROLES = ("a", "p", "n")
ROLE_NAMES = {"a": "anchor", "p": "positive", "n": "negative"}
PAIR_IMAGES = ("a.png", "b.png")
PAIR_FLOW = "flow.npy"
PAIR_MASKS = ("amask.png", "bmask.png")
STROKES_SUFFIX = ".strokes.npz"
MANIFEST = "manifest.json"
SCHEMA_VERSION = 2  # 2: strokes beside every drawn image, styles, per-sample seeds
SPLITS = ("train", "val", "test")


def zoom_key(role: str, zoom: int) -> str:
    """Member extension of a triplet's zoom image: ``zoom_key("a", 0) == "a0.png"``."""
    if role not in TRIPLET_ROLES:
        raise ValueError(f"unknown triplet role {role!r}")
    return f"{role}{zoom}.png"


def strokes_key(image: str) -> str:
    """Member extension of an image's strokes: ``strokes_key("a0.png") == "a0.strokes.npz"``."""
    if not image.endswith(".png"):
        raise ValueError(f"not an image member: {image!r}")
    return image[:-len(".png")] + STROKES_SUFFIX


def negative_key(k: int, zoom: int) -> str:
    """Member extension of negative ``k``'s zoom image: ``n<zoom>.png`` for the first, then
    ``n<k>_<zoom>.png``: ``negative_key(0, 2) == "n2.png"``, ``negative_key(3, 1) == "n3_1.png"``."""
    return zoom_key("n", zoom) if k == 0 else f"n{k}_{zoom}.png"


def sample_key(shape_id: str, unit: int, index: int) -> str:
    """Key of one sample: ids only, no dots (WebDataset splits member names at the first dot)."""
    return f"{shape_id.replace('.', '-')}_{unit:04d}_{index:04d}"
