"""Export a triplet dataset in the layout SketchZooms' training code reads.

SketchZooms (Navarro, Orlando, Delrieux, Iarussi; CGF 2021) trains from ``data/csv/{train,test}.csv``
and one drawing per point and view (its ``utils/SZDataset.py``, ``SketchZoomDataset``). Written under
``out`` (SketchZooms' ``data/`` folder: ``train_net.py`` hard-codes ``data_sketch_root="data/"``)::

    csv/train.csv      the train split's triplets
    csv/test.csv       the val split's (``train_net.py`` validates on the "test" stage)
    csv/heldout.csv    the test split's, same layout (not read by ``train_net.py``: held-out shapes)
    pts_<Category>/<model>/<index>/view_<v>.png

CSV (``pd.read_csv(..., index_col=0)``, columns read by name): an unnamed index column 0..n-1, then
``model_0, model_1, index_0, index_1, view, model``: anchor shape, positive shape, the anchor's and the
positive's point index on their shapes, ``view`` = "<anchor view> <positive view>" and ``model`` = the
category. Each row's anchor is ``pts_<model>/<model_0>/<index_0>/view_<v0>.png``, its positive
``pts_<model>/<model_1>/<index_1>/view_<v1>.png``; SketchZooms mines its negatives from other rows of the
category (the triplets' own negatives are not exported). ``<index>`` numbers the distinct surface points
of a shape (0, 1, ... in order of appearance; a same-shape positive shares its anchor's folder),
``<v>`` is the base view the point was drawn from (``<v>-<k>`` for a further, different drawing of the
same point and view: a sketchy style draws each sample anew). Categories are named with a capital first
letter (``pts_Airplane``, as SketchZooms' own folders); names are kept to letters, digits and ``._-``, and a
name that pandas would read as a number or as missing gets an ``m`` in front.

Views. Each is a 512 x 512 RGBA drawing centred on the point as drawn, at SketchZooms' scale: the base
view's full height spans the 512 px, so SketchZooms' zoom windows (half-size 100 z px, z = [1.8, 1.3,
0.8] minus a jitter in +-0.3) show what the triplets' zooms show (``render.views.sketchzooms_factors``).
Each view is redrawn from the sample's strokes at 512 px (never resampled from a zoom image), with
lines ``width`` px wide (default: the triplets' width scaled so that SketchZooms' middle zoom, a 260 px
window resized to 224, shows the triplets' width). SketchZooms opens the PNG as RGBA and paints white
where alpha is 0, then keeps RGB: paper is written white with alpha 0, ink as its grey with alpha 255,
so the RGB it keeps is the drawing exactly. A triplet set of schema 3 stores the strokes of whole views
(``datagen.schema``): its views are drawn whole. One of schema 2 holds strokes per zoom, clipped to each
zoom's window: its views are drawn from the widest zoom's strokes, so beyond that window (half-size
100 z0 px, 150 to 210 px from the centre by the set's own jitter) they are blank; ``views_clipped``
counts them.

Row counts. ``train_net.py``'s Config hard-codes 14,400 train and 1,440 "test" rows: the loader's length
is that number and row i is ``df.iloc[i]``, so a CSV with fewer rows fails and rows past it are never
read. With ``rows`` set (the defaults), a split with fewer triplets repeats them in order up to the count
(a repeated row can be drawn as a negative of its copy: about (copies - 1) / rows of the category per
draw), and a split with more is written whole in an order shuffled by a fixed seed, so the rows read are
a uniform sample (set Config's count to the row count to read them all). ``rows`` 0 writes each triplet
once, in order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.datagen.manifest import drawing_width
from sketchgen.datagen.plan import DATASET_WIDTH_PX
from sketchgen.datagen.schema import SPLITS, strokes_key, view_key, zoom_key
from sketchgen.datagen.shards import dataset_samples
from sketchgen.errors import InputError
from sketchgen.files import atomic_write

log = logging.getLogger(__name__)

VIEW_SIZE = 512                    # SketchZooms' drawings: 512 x 512 centred on the point
CONFIG_ROWS = {"train": 14400, "test": 1440}   # train_net.py's Config.train_data_n and val_data_n
CSV_OF_SPLIT = {"train": "train", "val": "test", "test": "heldout"}
COLUMNS = ["", "model_0", "model_1", "index_0", "index_1", "view", "model"]
MIDDLE_WINDOW = 2 * 100 * 1.3      # SketchZooms' middle zoom: a window of half-size 100 * 1.3 px
SHUFFLE_SEED = 22                  # the order of a split written whole when it has more rows than Config's
# what pandas' read_csv turns into a number or NaN (its default na_values, ints, floats, inf)
_PANDAS_NON_TEXT = re.compile(r"^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity)|nan|-?nan|na|n/a|"
                              r"null|none|<na>|-1\.#ind|1\.#qnan|-1\.#qnan|#n/a|#n/a n/a|#na|1\.#ind|true|false)$",
                              re.IGNORECASE)


@dataclass(frozen=True)
class ViewDrawing:
    """The strokes of one role's view and the 512 px window on them: ``record`` (``StrokeArrays``), the
    window's centre (2,) and half-size in the record's pixels, and whether the record covers the whole
    window (False for a schema 2 zoom's strokes, clipped to that zoom)."""

    record: object
    centre: np.ndarray
    half: float
    whole: bool


def safe_name(text: str) -> str:
    """``text`` as a folder name SketchZooms' CSV round trip keeps: letters, digits and ``._-`` (others
    become ``-``), with an ``m`` in front when pandas would read it as a number or a missing value."""
    name = re.sub(r"[^A-Za-z0-9._-]", "-", str(text))
    return "m" + name if not name or _PANDAS_NON_TEXT.match(name) else name


def category_name(category: str) -> str:
    """SketchZooms' category folder name: ``pts_<this>``, first letter capital (``airplane`` -> ``Airplane``)."""
    name = safe_name(category)
    return name[:1].upper() + name[1:]


def role_view(sample: dict, meta: dict, prefix: str, role: dict) -> ViewDrawing:
    """The strokes and 512 px window of one role (``prefix`` "a" anchor or "p" positive) of a triplet sample.

    The window is centred on the point as drawn (the zoom's ``xy``, moved by a sketchy style) and spans
    the base view's height (factor 1 of ``render.views.sketchzooms_factors``' scale). Schema 3 samples
    (zooms naming a ``view`` and a ``window``) are read from the view's strokes, schema 2 ones from the
    widest zoom's. Raises InputError naming a missing member."""
    from sketchgen.render.camera import Camera
    from sketchgen.render.strokearrays import StrokeArrays

    zoom = role["views"][0]
    if "window" in zoom:
        k = int(zoom["view"])
        drawing = meta["drawings"][k]
        member = drawing.get("member", view_key(k))
        size = float(meta["zoom_size"])
        cx, cy, half0 = (float(v) for v in zoom["window"])
        # the drawn point, from the zoom image's pixels to the view's
        centre = np.array([cx, cy]) + (np.asarray(zoom["xy"], np.float64) - size / 2) * (2 * half0 / size)
        half = Camera.from_json(drawing["camera"]).height / 2.0
        whole = True
    else:
        member = strokes_key(zoom_key(prefix, 0))
        cam0 = Camera.from_json(zoom["camera"])
        base = Camera.from_json(role["base_camera"]).with_size(VIEW_SIZE, VIEW_SIZE)
        centre = np.asarray(zoom["xy"], np.float64)
        # pixels of zoom 0 per pixel of the 512 px view (same pose: a pure scale about the point)
        half = VIEW_SIZE / 2.0 * cam0.focal_px / base.focal_px
        whole = False
    if member not in sample:
        raise InputError(f"{sample.get('__shard__', '?')}: sample {sample['__key__']} lacks {member}")
    try:
        record = StrokeArrays.from_npz(sample[member])
    except ValueError as exc:
        raise InputError(f"{sample.get('__shard__', '?')}: {sample['__key__']}.{member}: {exc}") from None
    return ViewDrawing(record=record, centre=centre, half=half, whole=whole)


def draw_view(view: ViewDrawing, width: float) -> np.ndarray:
    """(512, 512) uint8 grey drawing (255 paper) of a role's view, ``width`` px lines times the strokes'
    weights, redrawn from the strokes (``render.strokearrays.window_segments``)."""
    from sketchgen.render.raster import segment_image_batch
    from sketchgen.render.strokearrays import window_segments

    a, b, wa, wb = window_segments(view.record, view.centre, view.half, VIEW_SIZE, width)
    return segment_image_batch(a, b, wa, wb, np.zeros(len(a), np.int64), 1, VIEW_SIZE, VIEW_SIZE)[0]


def rgba_png(grey: np.ndarray) -> bytes:
    """RGBA PNG of an (H, W) uint8 drawing: RGB the grey, alpha 0 on paper (255) and 255 on ink."""
    import cv2

    alpha = np.where(grey == 255, 0, 255).astype(np.uint8)
    bgra = np.dstack([grey, grey, grey, alpha])
    ok, buf = cv2.imencode(".png", bgra, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def default_width(dataset: Path) -> float:
    """Line width in 512 px view pixels: the triplets' width (manifest config, 1.5 px of a 224 px zoom by
    default) scaled so that SketchZooms' middle zoom window (260 px resized to 224) shows it."""
    try:
        config = json.loads((dataset / "manifest.json").read_text()).get("config", {})
    except (OSError, ValueError):
        config = {}
    width = drawing_width(config, DATASET_WIDTH_PX)
    size = float(config.get("size", 224))
    return width * MIDDLE_WINDOW / size


def _rows(table: list[list], wanted: int) -> list[list]:
    if wanted <= 0 or not table:
        return table
    if len(table) < wanted:
        return [table[i % len(table)] for i in range(wanted)]
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(table))
    return [table[i] for i in order]


def export_sketchzooms(dataset: str | Path, out: str | Path, *, train_rows: int = CONFIG_ROWS["train"],
                       test_rows: int = CONFIG_ROWS["test"], width: float | None = None) -> dict:
    """Write SketchZooms' layout of the triplet dataset ``dataset`` into ``out`` (module docstring).

    train_rows, test_rows: rows of ``csv/train.csv`` and ``csv/test.csv`` (0: each triplet once).
    width: line width in px of the 512 px views (None: ``default_width``).
    Returns {"triplets": {split: n}, "rows": {csv name: n}, "views": files written, "views_clipped":
    views drawn from a clipped zoom, "redrawn_views": further drawings of a point and view seen before,
    "failures": [...] (unreadable shards, skipped)}. Raises InputError when the folder holds no shards
    or a sample is not a triplet, or two names collide.
    """
    dataset, out = Path(dataset), Path(out)
    width = default_width(dataset) if width is None else float(width)
    if not width > 0:
        raise InputError(f"line width must be positive, got {width}")
    failures: list[str] = []
    points: dict[tuple[str, str], dict[tuple, int]] = {}   # (category, shape) -> point key -> index
    files: dict[Path, bytes] = {}                            # view file -> SHA-256 of its PNG
    names: dict[tuple[str, str], str] = {}                   # (kind, folder name) -> id (collisions)
    tables = {split: [] for split in SPLITS}
    counts = {"views": 0, "views_clipped": 0, "redrawn_views": 0}

    def folder(kind: str, text: str, name: str) -> str:
        if names.setdefault((kind, name), text) != text:
            raise InputError(f"{dataset}: {kind} ids {names[kind, name]!r} and {text!r} both become folder {name!r}")
        return name

    def write_role(sample, meta, prefix, role) -> tuple[str, int, str, str]:
        category = folder("category", role["category"], category_name(role["category"]))
        model = folder("shape", role["shape"], safe_name(role["shape"]))
        key = (int(role["face"]), *np.round(np.asarray(role["bary"], np.float64), 6))
        index = points.setdefault((category, model), {}).setdefault(key, len(points[(category, model)]))
        view = role_view(sample, meta, prefix, role)
        png = rgba_png(draw_view(view, width))
        digest = hashlib.sha256(png).digest()
        base = str(int(role["base_view"]))
        name, k = base, 0
        while True:
            path = out / f"pts_{category}" / model / str(index) / f"view_{name}.png"
            if path not in files:
                atomic_write(path, png)
                files[path] = digest
                counts["views"] += 1
                counts["views_clipped"] += not view.whole
                break
            if files[path] == digest:
                break
            k += 1
            name = f"{base}-{k}"
            counts["redrawn_views"] += k == 1
        return model, index, name, category

    for split, sample, meta in dataset_samples(dataset, "triplet", failures):
        m0, i0, v0, category = write_role(sample, meta, "a", meta["anchor"])
        m1, i1, v1, _ = write_role(sample, meta, "p", meta["positive"])
        tables[split].append([m0, m1, i0, i1, f"{v0} {v1}", category])
    wanted = {"train": train_rows, "val": test_rows, "test": 0}
    rows_out = {}
    for split in SPLITS:
        rows = _rows(tables[split], wanted[split])
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows([i, *row] for i, row in enumerate(rows))
        atomic_write(out / "csv" / f"{CSV_OF_SPLIT[split]}.csv", buf.getvalue().encode())
        rows_out[CSV_OF_SPLIT[split]] = len(rows)
        lonely = [c for c in {r[5] for r in tables[split]}
                  if len({tuple(r) for r in tables[split] if r[5] == c}) < 2]
        if lonely and split != "test":
            log.warning("%s.csv: categories with fewer than 2 distinct triplets (%s): SketchZooms draws "
                        "negatives from other rows of the category", CSV_OF_SPLIT[split], ", ".join(sorted(lonely)))
    return {"triplets": {s: len(t) for s, t in tables.items()}, "rows": rows_out, **counts, "width": width,
            "failures": failures}
