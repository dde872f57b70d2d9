"""The shard schema: what a sample of each dataset holds, shared by the builders and ``train/``.

Shards use WebDataset's tar layout: a sample is the run of members ``<key>.<ext>`` sharing a key, keys
built from ids (``<name>_<unit:04d>_<index:04d>``, no dots). A dataset directory holds
``manifest.json`` and ``<split>/<name>-<unit:03d>.tar`` shards. ``<name>`` is ``id_name(shape id)``: the
id itself when it is a plain name, else a readable stem and a digest of the id, so two ids never share
a file or a key, on a case-insensitive file system too.

Schema version 3 (``SCHEMA_VERSION``, in the manifest as "schema"): a triplet holds the strokes of each
view it draws once, and no images: each zoom names its view and its window, and is redrawn from them
(``triplet_images``). Version 2: strokes beside every drawn image (a triplet's zoom images stored as PNGs,
each with its own strokes), styles, per-sample seeds. Pair samples are the same in both.

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
    json              sample JSON (below)
    v0.strokes.npz    the strokes of each view the sample draws (``view_key``; ``v1.strokes.npz``, ...): the
                      visible lines of one shape from one base camera, in that camera's pixels (its full
                      image, e.g. 512x512), drawn in the sample's style once for every role seen in that view
  No images are stored: zoom ``z`` of a role is the square window of half-size ``half`` px around
  (``cx``, ``cy``) in its view's pixels, redrawn at ``zoom_size`` x ``zoom_size`` px with each stroke's
  ``width`` px (of the zoom image) times its weight (``render.strokearrays.draw_windows``), so a line is
  equally wide at every zoom; ``triplet_images`` makes them all, the same bytes from the same sample.
  Key index: base view * points + anchor (gaps where a triplet failed).
  JSON: {"kind": "triplet", "split", "style", "zoom_size", "drawings", "anchor", "positive", "negative",
  "negatives", "surface_distance", "negative_strategy": "random" | "same-part" | "hard",
  "positive_source": "view" | "shape"}; ``drawings``: one entry per view member, in member order,
  {"shape", "base_view", "camera": {...} (the base camera, whose pixels the strokes are in), "member":
  "v<k>.strokes.npz"}; each role is {"shape", "category", "part", "face", "bary": [3], "point": [x, y, z],
  "base_view", "base_camera": {...}, "views": [{"view": k, "window": [cx, cy, half], "xy": [x, y]}, ...]},
  one entry per zoom, largest window first: ``view`` indexes ``drawings``, ``window`` is in that view's
  pixels (centred on the exact projection of the point; half-size = the zoom factor
  (``render.views.sketchzooms_factors``) times half the view's height), ``xy`` is where the point is
  drawn in the zoom image (its centre, moved by the style's displacement when sketchy).
  ``surface_distance``: from the positive point to the negative, on their shape. ``negatives``: every
  negative in order (index 0 is ``negative``), each a role as above plus {"kind": "near" | "hard" |
  "same-part" | "random" | "other-shape", "pixel_distance", "surface_distance"} (``datagen.negatives``):
  pixels of the base view and surface distance on the negative's shape, from the positive, or for an
  other-shape negative from the anchor's correspondence on that shape.
  Version 2 triplets held ``a0.png`` ... (``zoom_key``), ``n1_0.png`` ... (``negative_key``) and each
  image's ``<image>.strokes.npz``, and every zoom a "camera" instead of "view" and "window";
  ``triplet_images`` reads both.

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

import hashlib
import re
import unicodedata

TRIPLET_ROLES = ("a", "p", "n")
ROLE_NAMES = {"a": "anchor", "p": "positive", "n": "negative"}
PAIR_IMAGES = ("a.png", "b.png")
PAIR_FLOW = "flow.npy"
PAIR_MASKS = ("amask.png", "bmask.png")
STROKES_SUFFIX = ".strokes.npz"
MANIFEST = "manifest.json"
SCHEMA_VERSION = 3  # 3: a triplet's strokes once per view, zooms redrawn from windows; 2: strokes beside images
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


# an id used as it is in file names and keys: lower-case ASCII letters, digits, '_' and '-'
PLAIN_NAME = re.compile(r"[a-z0-9_-]{1,64}")
NAME_DIGEST = 16  # hex digits of SHA-256(id) after the '~' of a name that is not the id itself


def id_name(shape_id: str) -> str:
    """The name of a shape in shard names and sample keys, one to one with the id.

    A plain id (``PLAIN_NAME``: at most 64 of ``[a-z0-9_-]``) is its own name. Any other id (an upper-case
    letter, an accent, a dot, a space, a slash, anything longer) is named ``<stem>~<digest>``: the stem is
    the id folded to ASCII (NFKD, accents dropped), lower case, every run of other characters made
    one ``-``, at most 40 characters; the digest the first ``NAME_DIGEST`` hex digits of SHA-256 of the
    id's UTF-8 bytes. Plain names hold no ``~``, so they never equal a digested one; names are lower
    case, so ids differing in case only do not share a file where the file system ignores case.
    """
    if PLAIN_NAME.fullmatch(shape_id):
        return shape_id
    ascii_id = unicodedata.normalize("NFKD", shape_id).encode("ascii", "ignore").decode("ascii").lower()
    stem = re.sub(r"[^a-z0-9_-]+", "-", ascii_id)[:40]
    return f"{stem}~{hashlib.sha256(shape_id.encode('utf-8')).hexdigest()[:NAME_DIGEST]}"


def sample_key(shape_id: str, unit: int, index: int) -> str:
    """Key of one sample: ``<id_name(shape_id)>_<unit:04d>_<index:04d>``, no dots (WebDataset splits member
    names at the first dot); one to one with (shape id, unit, index)."""
    return f"{id_name(shape_id)}_{unit:04d}_{index:04d}"


def view_key(k: int) -> str:
    """Member extension of a triplet's ``k``-th view strokes: ``view_key(1) == "v1.strokes.npz"``."""
    return f"v{k}{STROKES_SUFFIX}"


def triplet_roles(meta: dict) -> list[tuple[str, dict]]:
    """(image prefix, role JSON) of a triplet's roles in order: anchor "a", positive "p", then every
    negative ("n", then "n1", "n2", ...; a set without ``negatives`` has the one "negative")."""
    negatives = meta.get("negatives") or [meta["negative"]]
    return [("a", meta["anchor"]), ("p", meta["positive"])] + [("n" if k == 0 else f"n{k}", n)
                                                               for k, n in enumerate(negatives)]


def image_name(prefix: str, zoom: int) -> str:
    """Name of a triplet's zoom image, as the version-2 members were named: ``image_name("a", 0) ==
    "a0.png"``, ``image_name("n3", 1) == "n3_1.png"``."""
    return f"{prefix}{zoom}.png" if len(prefix) == 1 else f"{prefix}_{zoom}.png"


def triplet_images(sample: dict, meta: dict | None = None) -> dict[str, "np.ndarray"]:
    """{image name (``image_name``): (S, S) uint8 grey zoom image, 255 paper} of every zoom of every role
    of a triplet sample (a dict of member extension -> bytes, as ``datagen.shards.read_shard`` gives),
    in role then zoom order. Version 3 samples are redrawn from their views' strokes
    (``render.strokearrays.draw_windows``), version 2 ones decoded from their PNGs. Raises ValueError
    naming a missing or unreadable member. meta: the sample's parsed ``json`` member, when already read."""
    import json

    import numpy as np

    if meta is None:
        meta = json.loads(sample["json"])
    names, windows = [], []
    for prefix, role in triplet_roles(meta):
        for z, zoom in enumerate(role["views"]):
            names.append(image_name(prefix, z))
            if "window" in zoom:
                windows.append((int(zoom["view"]), *(float(v) for v in zoom["window"])))
    if not windows:  # version 2: the images are members
        import cv2

        out = {}
        for name in names:
            if name not in sample:
                raise ValueError(f"missing member {name}")
            img = cv2.imdecode(np.frombuffer(sample[name], np.uint8), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise ValueError(f"{name}: not a decodable image")
            out[name] = img
        return out
    from sketchgen.render.strokearrays import StrokeArrays, draw_windows

    records = []
    for k, drawing in enumerate(meta["drawings"]):
        member = view_key(k)
        if member not in sample:
            raise ValueError(f"missing member {member}")
        records.append(StrokeArrays.from_npz(sample[member]))
    if any(not 0 <= w[0] < len(records) for w in windows):
        raise ValueError("a zoom names a view the sample does not hold")
    images = draw_windows(records, windows, int(meta["zoom_size"]))
    return dict(zip(names, images))
