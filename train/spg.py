"""Part-label transfer on sketches drawn by people: SPG (Sketch Perceptual Grouping), QuickDraw sketches
with a semantic part label on every point.

Data (``read_sketches``): ``<root>/spg256/<category>_<split>.ndjson``, one JSON object a line,
``{"key_id": str, "drawing": [stroke, ...]}``, each stroke ``[[x0, ...], [y0, ...], [l0, ...]]``: pixels
of a 0-255 box (x right, y down) and the 0-based part label of each point (names in
``<root>/parts/<category>.txt``, line i = label i). Splits ``valid`` and ``test`` (the SPG README in
``../shared/realdata/spg``; never train or tune on either).

Protocol (``transfer_pair``, ``evaluate_spg``), per category:

1. pairs (A, B) of distinct sketches, drawn at random;
2. every stroke polyline resampled every ``STEP_PX`` = 2 px of its own box along its length, from its
   first vertex (``resample_stroke``); a point takes the label of the nearer of its segment's two
   original vertices (the first on a tie); a one-vertex stroke is one point;
3. each sketch placed at ``PLACE_FRACTION`` = 80% of a ``CANVAS_PX`` = 256 px image, centred
   (``place``: the 256-wide box [0, 256) maps to [25.6, 230.4); a point at integer x sits at its pixel's
   centre x + 0.5 before scaling);
4. anchors: A's points thinned to one per ``ANCHOR_CELL_PX`` = 8 px cell (a random one of each cell),
   ``anchors`` = 40 of them drawn at random (all when fewer); candidates: B's points thinned to one per
   ``CANDIDATE_CELL_PX`` = 3 px cell;
5. each anchor matched to the candidate of nearest descriptor (L2); right when the two labels are equal.

A category's figure is the fraction of its anchors matched right; the mean is over categories. Chance is
the mean over anchors of the fraction of B's candidates that share the anchor's label (what a matcher
that picks a candidate at random scores on average).

Descriptors: network descriptors see zoom windows redrawn from the sketch's strokes at the size and line
width the run's zooms were drawn at (``train.zooms.StrokeZooms``), SketchZooms' three half-sizes
``sketchzooms_factors() x 128`` px; Shape Context and HOG see the sketch drawn at 256 px with
``DRAWING_WIDTH_PX`` lines (the pair sets' drawings' width), at the middle zoom's half-size, as in
``train.evaluate.evaluate_descriptor``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sketchgen.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata" / "spg"  # beside a checkout
STEP_PX = 2.0  # resampling step along a stroke, px of the 0-255 box
CANVAS_PX = 256  # the image a sketch is placed on
PLACE_FRACTION = 0.8  # the 256-wide box spans this fraction of the image, centred
ANCHOR_CELL_PX = 8.0
CANDIDATE_CELL_PX = 3.0
ANCHORS = 40
PAIRS = 60
DRAWING_WIDTH_PX = 1.5  # the pair builder's default stroke width at 256 px (``datagen.plan.DATASET_WIDTH_PX``)
SPLITS = ("valid", "test")
# the bundled collection's categories that SPG draws, under SPG's names
SPG_CATEGORY = {"airplane": "airplane", "mug": "coffee_cup", "suitcase": "suitcase", "backpack": "backpack",
                "alarm_clock": "alarm_clock", "candle": "candle", "basket": "basket", "ice_cream": "ice_cream",
                "apple": "apple"}
METHODS = ("model", "shape_context", "hog", "untrained", "chance")


@dataclass(frozen=True)
class Sketch:
    """One SPG sketch as stored: ``strokes`` = [((n, 2) float64 xy in the 0-255 box, (n,) int64 labels)]."""

    key: str
    strokes: tuple


@dataclass(frozen=True)
class PlacedSketch:
    """A sketch on the 256 px canvas (pixels, origin top-left, y down).

    xy: (N, 2) float64 points resampled every 2 px of the box along each stroke; label: (N,) int64 their
    part labels; stroke: (N,) int64 their stroke index; lines: [(n, 2) float64] each stroke's original
    vertices, placed (what is drawn)."""

    key: str
    xy: np.ndarray
    label: np.ndarray
    stroke: np.ndarray
    lines: tuple


def split_name(split: str) -> str:
    """SPG's split name for ``split`` ("val" is SPG's "valid"). Raises InputError for another name."""
    name = {"val": "valid"}.get(split, split)
    if name not in SPLITS:
        raise InputError(f"SPG has no split {split!r} (it has {', '.join(SPLITS)})")
    return name


def categories_in(root: str | Path, split: str = "test") -> list[str]:
    """The categories with a ``spg256/<category>_<split>.ndjson`` file under ``root``, sorted."""
    suffix = f"_{split_name(split)}.ndjson"
    return sorted(p.name[:-len(suffix)] for p in (Path(root) / "spg256").glob(f"*{suffix}"))


def read_sketches(root: str | Path, category: str, split: str) -> tuple[list[Sketch], list[str]]:
    """(sketches in file order, problems): every well-formed sketch of ``category``'s ``split`` file, and
    one line per sketch left out ("<file>:<line>: <reason>"). Raises InputError naming the file when it
    is missing or holds no usable sketch."""
    path = Path(root) / "spg256" / f"{category}_{split_name(split)}.ndjson"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    sketches, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            sketches.append(_parse_sketch(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"{path}:{number}: {exc}")
    if not sketches:
        raise InputError(f"{path}: no usable sketch" + (f" ({problems[0]})" if problems else ""))
    return sketches, problems


def _parse_sketch(obj) -> Sketch:
    if not isinstance(obj, dict) or not isinstance(obj.get("drawing"), list):
        raise ValueError("not an object with a 'drawing' list")
    strokes = []
    for i, stroke in enumerate(obj["drawing"]):
        if not isinstance(stroke, list) or len(stroke) < 3:
            raise ValueError(f"stroke {i} is not [xs, ys, labels]")
        xs, ys, ls = (np.asarray(v, np.float64) for v in stroke[:3])
        if not (xs.ndim == ys.ndim == ls.ndim == 1 and len(xs) == len(ys) == len(ls) and len(xs) > 0):
            raise ValueError(f"stroke {i}: xs, ys and labels differ in length or are empty")
        if not (np.isfinite(xs).all() and np.isfinite(ys).all()) or (ls < 0).any() or (ls != np.round(ls)).any():
            raise ValueError(f"stroke {i}: a coordinate is not finite or a label not a non-negative integer")
        strokes.append((np.stack([xs, ys], 1), ls.astype(np.int64)))
    if not strokes:
        raise ValueError("no strokes")
    return Sketch(key=str(obj.get("key_id", "")), strokes=tuple(strokes))


def resample_stroke(xy: np.ndarray, labels: np.ndarray, step: float = STEP_PX) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step`` along a polyline from its first vertex (arc lengths 0, step, 2 step, ... up to
    its length), each labelled as the nearer of its segment's two vertices (the first on a tie).
    xy: (n, 2) float64 vertices; labels: (n,) int. Returns ((K, 2) float64, (K,) int64)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    labels = np.asarray(labels, np.int64).reshape(-1)
    seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if len(xy) == 1 or cum[-1] <= 0:
        return xy[:1].copy(), labels[:1].copy()
    s = np.arange(0.0, cum[-1] + 1e-9, step)
    # the segment each arc length falls on (zero-length segments are never chosen)
    i = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    while True:  # an arc length at a vertex that starts a zero-length segment: step back to a real one
        zero = (seg[i] <= 0) & (i > 0)
        if not zero.any():
            break
        i[zero] -= 1
    t = np.where(seg[i] > 0, (s - cum[i]) / np.where(seg[i] > 0, seg[i], 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    pts = xy[i] + t[:, None] * (xy[i + 1] - xy[i])
    return pts, np.where(t <= 0.5, labels[i], labels[i + 1])


def place(xy: np.ndarray) -> np.ndarray:
    """(N, 2) points of the 0-255 box -> canvas pixels: the box at 80% of the 256 px image, centred."""
    half = CANVAS_PX / 2.0
    return half + PLACE_FRACTION * (np.asarray(xy, np.float64) + 0.5 - half)


def placed(sketch: Sketch) -> PlacedSketch:
    """The sketch resampled (``resample_stroke``) and placed on the canvas (``place``)."""
    xy, label, stroke = [], [], []
    for k, (vertices, labels) in enumerate(sketch.strokes):
        p, lab = resample_stroke(vertices, labels)
        xy.append(place(p))
        label.append(lab)
        stroke.append(np.full(len(p), k, np.int64))
    return PlacedSketch(key=sketch.key, xy=np.concatenate(xy), label=np.concatenate(label),
                        stroke=np.concatenate(stroke), lines=tuple(place(v) for v, _ in sketch.strokes))


def stroke_arrays(sketch: PlacedSketch, width: float = DRAWING_WIDTH_PX):
    """The sketch's original strokes, placed, as ``render.strokearrays.StrokeArrays`` (``width`` px lines,
    ``part`` = -1: labels are per resampled point, not per vertex drawn)."""
    from sketchgen.render.strokearrays import StrokeArrays

    counts = [len(v) for v in sketch.lines]
    n = sum(counts)
    return StrokeArrays.of(xy=np.concatenate(sketch.lines), offset=np.zeros((n, 2)),
                           stroke=np.repeat(np.arange(len(counts)), counts), point=np.zeros((n, 3)),
                           face=np.full(n, -1), part=np.full(n, -1), kind=np.zeros(n), weight=np.ones(n),
                           width=np.full(len(counts), float(width)))


def thin(points: np.ndarray, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of one point per ``cell`` x ``cell`` square (a random one of each), ascending: (M, 2) -> (K,)."""
    if len(points) == 0:
        return np.zeros(0, np.int64)
    order = rng.permutation(len(points))
    cells = np.floor(np.asarray(points)[order] / cell).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(order[first])


def pair_points(a: PlacedSketch, b: PlacedSketch, rng: np.random.Generator, *, anchors: int = ANCHORS,
                anchor_cell: float = ANCHOR_CELL_PX, candidate_cell: float = CANDIDATE_CELL_PX):
    """(anchor indices into a's points, candidate indices into b's points) of one pair, as the protocol
    draws them: int64 arrays."""
    ia = thin(a.xy, anchor_cell, rng)
    if len(ia) > anchors:
        ia = np.sort(rng.choice(ia, anchors, replace=False))
    return ia, thin(b.xy, candidate_cell, rng)


Describer = Callable[[PlacedSketch, np.ndarray], np.ndarray]  # (sketch, (N, 2) px) -> (N, D) descriptors


class PointCache:
    """A describer that describes each point of a sketch once: a sketch is in several pairs, and its
    anchors and candidates are its own resampled points, so a point asked for again (by index into
    ``sketch.xy``) is served from the cache. Each entry keeps its sketch alive, so its id stays its own."""

    def __init__(self, describe: Describer):
        self.describe, self.rows = describe, {}

    def __call__(self, sketch: PlacedSketch, index: np.ndarray) -> np.ndarray:
        _, have = self.rows.setdefault(id(sketch), (sketch, {}))
        new = np.array(sorted({int(i) for i in index} - set(have)), np.int64)
        if len(new):
            for i, row in zip(new, self.describe(sketch, sketch.xy[new])):
                have[int(i)] = row
        return np.stack([have[int(i)] for i in index]) if len(index) else np.zeros((0, 0))


def transfer_pair(a: PlacedSketch, b: PlacedSketch, describers: dict[str, Describer], rng: np.random.Generator,
                  **points) -> dict[str, np.ndarray]:
    """Part-label transfer of one pair: {method: (K,) float64 per anchor}, 1.0 where the anchor's nearest
    candidate (L2 over that method's descriptors) has its label, else 0.0; and "chance": the fraction of
    B's candidates sharing each anchor's label. A describer takes (sketch, (N,) int64 indices into its
    points) and returns (N, D) descriptors (``PointCache`` turns one of positions into one); ``points``
    go to ``pair_points``."""
    from sketchgen.train.metrics import nearest_neighbours

    ia, ib = pair_points(a, b, rng, **points)
    la, lb = a.label[ia], b.label[ib]
    out = {}
    for name, describe in describers.items():
        nn = nearest_neighbours(describe(a, ia), describe(b, ib))
        out[name] = (lb[nn] == la).astype(np.float64)
    out["chance"] = (la[:, None] == lb[None, :]).mean(axis=1)
    return out


def category_seed(seed: int, category: str) -> int:
    """The seed of a category's pairs and points: from (seed, category name), so adding or leaving out a
    category changes no other's draw."""
    return int.from_bytes(hashlib.sha256(f"spg:{seed}:{category}".encode()).digest()[:8], "little")


def transfer_category(sketches: list[PlacedSketch], describers: dict[str, Describer], rng: np.random.Generator,
                      *, pairs: int = PAIRS, **points) -> dict:
    """``pairs`` random pairs of distinct sketches: {"methods": {name: fraction right (chance: mean
    fraction)}, "pairs": P, "anchors": N}. Raises InputError with fewer than two sketches."""
    if len(sketches) < 2:
        raise InputError(f"part-label transfer needs two sketches or more, got {len(sketches)}")
    got: dict[str, list[np.ndarray]] = {}
    for _ in range(pairs):
        i, j = rng.choice(len(sketches), 2, replace=False)
        for name, values in transfer_pair(sketches[i], sketches[j], describers, rng, **points).items():
            got.setdefault(name, []).append(values)
    joined = {name: np.concatenate(v) for name, v in got.items()}
    return {"methods": {name: float(v.mean()) if len(v) else float("nan") for name, v in joined.items()},
            "pairs": pairs, "anchors": int(len(joined["chance"]))}


def spg_describers(model, untrained, size: int, native: int, width: float, device: str = "cpu") -> dict:
    """The protocol's describers (``PointCache``s): the trained and untrained networks (zooms drawn from
    the strokes at ``native`` px with ``width`` px lines, resampled to ``size``; the two see the same
    zooms), Shape Context and HOG (the sketch drawn at 256 px)."""
    from sketchgen.render.strokearrays import draw_strokes
    from sketchgen.render.views import sketchzooms_factors
    from sketchgen.train.baselines import hog_descriptors, shape_context_descriptors
    from sketchgen.train.descriptor import describe
    from sketchgen.train.images import to_ink
    from sketchgen.train.zooms import StrokeZooms

    halves = [f * CANVAS_PX / 2.0 for f in sketchzooms_factors()]
    # the zooms of the last points asked for, per sketch (the trained and the untrained network see the
    # same ones) and each sketch's drawing; each entry keeps its sketch alive, so its id stays its own
    zoom_cache: dict[int, tuple] = {}
    greys: dict[int, tuple] = {}

    def zooms(s: PlacedSketch, xy: np.ndarray):
        key = np.ascontiguousarray(xy).tobytes()
        hit = zoom_cache.get(id(s))
        if hit is None or hit[1] != key:
            z = StrokeZooms(stroke_arrays(s), native=native, width=width).zooms(xy, halves, size).to(device)
            while len(zoom_cache) >= 2:  # one pair's two sketches: older entries are not asked for again
                zoom_cache.pop(next(iter(zoom_cache)))
            hit = zoom_cache[id(s)] = (s, key, z)
        return hit[2]

    def grey(s: PlacedSketch) -> np.ndarray:
        if id(s) not in greys:
            greys[id(s)] = (s, draw_strokes([stroke_arrays(s)], CANVAS_PX, CANVAS_PX)[0])
        return greys[id(s)][1]

    def network(net):
        def run(s: PlacedSketch, xy: np.ndarray) -> np.ndarray:
            return describe(net, zooms(s, xy)).cpu().numpy()
        return run

    return {"model": PointCache(network(model)), "untrained": PointCache(network(untrained)),
            "shape_context": PointCache(lambda s, xy: shape_context_descriptors(to_ink(grey(s)), xy, halves[1])),
            "hog": PointCache(lambda s, xy: hog_descriptors(grey(s), xy, halves[1]))}


def covered_categories(data: str | Path) -> list[str]:
    """The SPG categories (``SPG_CATEGORY``) of the shapes a dataset was built from, from its manifest's
    shard list (shape ids ``<category>_<n>`` of a bundled-style collection, or the shards' recorded
    category), sorted; empty when none is covered or the manifest cannot be read."""
    from sketchgen.datagen.manifest import read_dataset_manifest

    try:
        shards = read_dataset_manifest(data, required=False).get("shards", [])
    except InputError:
        return []
    found = set()
    for entry in shards:
        if not isinstance(entry, dict):
            continue
        category = entry.get("category") or str(entry.get("shape", "")).rsplit("_", 1)[0]
        if category in SPG_CATEGORY:
            found.add(SPG_CATEGORY[category])
    return sorted(found)


def evaluate_spg(model, cfg, root: str | Path, split: str = "test", *, categories: list[str] | None = None,
                 pairs: int = PAIRS, anchors: int = ANCHORS, seed: int = 0, device: str = "cpu",
                 methods: tuple[str, ...] = METHODS, warn: Callable[[str], None] | None = None) -> dict:
    """Part-label transfer on SPG's ``split`` for the trained descriptor ``model`` (its ``TrainConfig``
    ``cfg``), Shape Context, HOG, the untrained network (the run's initial state) and chance.

    categories: SPG category names (default: those the run's training data covers, ``covered_categories``;
    all of ``root``'s when it covers none). Returns {"methods": {method: {category: fraction, ...,
    "mean": mean over the categories}}, "categories": {category: {"pairs", "anchors", "sketches",
    "skipped": [problem]}}, "split", "covered": bool}. Sketches that do not parse are left out, each
    reported through ``warn`` and listed. ``methods``: a subset of ``METHODS`` to compute (the baselines
    do not depend on the run; chance is always computed). Raises InputError for an unknown category or
    split."""
    from sketchgen.train.evaluate import zoom_drawing
    from sketchgen.train.loop import seed_everything
    from sketchgen.train.models import build_model

    name = split_name(split)
    have = categories_in(root, name)
    covered = covered_categories(cfg.data) if categories is None else []
    chosen = list(categories) if categories is not None else (covered or have)
    missing = [c for c in chosen if c not in have]
    if missing:
        raise InputError(f"{root}: no SPG {name} file for {', '.join(missing)} "
                         f"(have {', '.join(have) or 'none'}; expected spg256/<category>_{name}.ndjson)")
    if not chosen:
        raise InputError(f"{root}: no SPG {name} files (expected spg256/<category>_{name}.ndjson)")
    seed_everything(cfg.run.seed)  # the untrained network is the trained one's initial state
    untrained = build_model(cfg.with_settings(weights=None)).to(device).eval()
    model = model.to(device).eval()
    native, width = zoom_drawing(cfg)
    describers = {k: v for k, v in spg_describers(model, untrained, cfg.network.size, native, width, device).items()
                  if k in methods}
    methods = (*describers, "chance")
    per_method: dict[str, dict[str, float]] = {m: {} for m in methods}
    info = {}
    for category in chosen:
        sketches, problems = read_sketches(root, category, name)
        for problem in problems:
            (warn or log.warning)(f"left out: {problem}")
        res = transfer_category([placed(s) for s in sketches], describers,
                                np.random.default_rng(category_seed(seed, category)), pairs=pairs, anchors=anchors)
        for method in methods:
            per_method[method][category] = res["methods"][method]
        info[category] = {"pairs": res["pairs"], "anchors": res["anchors"], "sketches": len(sketches),
                          "skipped": problems}
    for method, values in per_method.items():
        values["mean"] = float(np.mean([values[c] for c in chosen]))
    return {"methods": per_method, "categories": info, "split": name,
            "covered": categories is None and bool(covered)}
