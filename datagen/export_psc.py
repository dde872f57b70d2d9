"""Export a pair dataset in the PSC6k layout, so photo-sketch correspondence code reads it unchanged.

The layout is the one of PSC6k (the benchmark of Lu, Wang and Fan, ICML 2023), as its dataset class
(``datasets/photo_sketch_dataset.py``: ``PhotoSketchDataset``) and ``eval.py`` read it. Written under
``out``::

    images/<key>_A.png, images/<key>_B.png     RGB PNGs (A = the photo, B = the sketch)
    train_pairs_ps.csv    photo, sketch, class, flip        (each pair twice: flip 0 and 1)
    val_pairs_ps.csv      photo, sketch, class, XA, YA, XB, YB
    test_pairs_ps.csv     photo, sketch, class, XA, YA, XB, YB

Image paths are relative to ``out`` (PSC's ``--data-path``; the CSVs are in ``--csv-path``, the same
folder). ``class`` is the 1-based index of the category in sorted order. Only "sketch-shaded" pairs are
written, A (the shaded render) in the ``photo`` column; sketch-sketch pairs are skipped and counted.

Keypoints. XA/YA/XB/YB hold 8 values each joined by ';': X is the column and Y the row, in PSC's pixel
convention where a pixel's centre has integer coordinates (PSC rounds them to index its flow), i.e.
sketchgen's (x, y) minus 0.5. PSC's code wants exactly 8 points per pair (``utils/pck.py`` reshapes them
to 8). A pair's keypoints come first, kept only where both images see them and the pair's own flow
agrees: the flow at A's keypoint, rounded to a pixel as PSC rounds it, is finite and lands within
``AGREE_PX`` of B's keypoint. The rest are pixels of A whose exact flow lands inside B, picked by a
generator seeded from the sample key. A val/test pair with fewer than 8 such points is left out and
counted.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from sketchgen.datagen.plan import id_words
from sketchgen.datagen.schema import SPLITS
from sketchgen.datagen.shards import dataset_samples
from sketchgen.errors import InputError
from sketchgen.files import atomic_write

log = logging.getLogger(__name__)

N_POINTS = 8           # PSC's pck.py reshapes each pair's keypoints to 8
PSC_SIZE = 256         # eval.py's image_size: flows are resized to 256 px and keypoints index them
AGREE_PX = 2.0         # a keypoint's flow must land this close to its B position (PCK@0.05 at 256 px is 12.8)
PHOTO_MODALITY = "sketch-shaded"   # the pairs whose A is a shaded render: the only ones with a photo


@dataclass(frozen=True)
class PairPoints:
    """Corresponding points of a pair. xy: (n, 4) float64 rows (xA, yA, xB, yB) in sketchgen pixels
    (origin at the top-left corner, pixel centres at +0.5); the first ``keypoints`` rows are the pair's
    keypoints, the rest points sampled on its flow. ``dropped``: keypoints visible in both images that
    the flow does not confirm (NaN there, or landing more than ``AGREE_PX`` away)."""

    xy: np.ndarray
    keypoints: int
    dropped: int


def to_psc(xy: np.ndarray) -> np.ndarray:
    """sketchgen pixels -> PSC's (pixel centres at integers), rounded to the 3 decimals written."""
    return np.round(np.asarray(xy, np.float64) - 0.5, 3)


def psc_pixel(xy: np.ndarray) -> np.ndarray:
    """(N, 2) int64 (col, row) pixel that PSC indexes for sketchgen pixel positions (N, 2): the written
    coordinate rounded half to even, as ``torch.round`` does."""
    return np.rint(to_psc(xy)).astype(np.int64)


def pair_points(meta: dict, flow: np.ndarray, key: str, n: int = N_POINTS) -> PairPoints | None:
    """``n`` corresponding points of a pair sample (its JSON ``meta`` and (H, W, 2) ``flow``), or None when
    fewer than ``n`` exist. Keypoints first (visible in both, confirmed by the flow), then flow samples
    drawn by a generator seeded from ``key``; every point's PSC pixel lies inside both images."""
    h, w = flow.shape[:2]

    def inside(xy):
        p = psc_pixel(np.asarray(xy, np.float64).reshape(-1, 2))
        return (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)

    rows, dropped = [], 0
    kb = {k["id"]: k for k in meta["b"]["keypoints"]}
    for ka in meta["a"]["keypoints"]:
        other = kb.get(ka["id"])
        if not (ka["visible"] and other is not None and other["visible"]):
            continue
        xa, xb = np.asarray(ka["xy"], np.float64), np.asarray(other["xy"], np.float64)
        if not (inside(xa)[0] and inside(xb)[0]):
            continue
        col, row = psc_pixel(xa[None])[0]
        landing = np.array([col + 0.5, row + 0.5]) + flow[row, col]
        if np.isfinite(landing).all() and np.linalg.norm(landing - xb) <= AGREE_PX:
            rows.append([*xa, *xb])
        else:
            dropped += 1
    rows = rows[:n]
    keypoints = len(rows)
    if len(rows) < n:
        ok = np.isfinite(flow).all(axis=2)
        ys, xs = np.nonzero(ok)
        target = np.stack([xs + 0.5 + flow[ys, xs, 0], ys + 0.5 + flow[ys, xs, 1]], axis=1)
        keep = inside(target)
        ys, xs, target = ys[keep], xs[keep], target[keep]
        need = n - len(rows)
        if len(xs) < need:
            return None
        rng = np.random.default_rng(id_words("psc:" + key))
        for i in np.sort(rng.choice(len(xs), size=need, replace=False)):
            rows.append([xs[i] + 0.5, ys[i] + 0.5, target[i, 0], target[i, 1]])
    return PairPoints(xy=np.asarray(rows, dtype=np.float64), keypoints=keypoints, dropped=dropped)


def pair_samples(dataset: str | Path, failures: list[str]) -> Iterator[tuple[str, dict, dict]]:
    """(split, sample, meta) of every pair sample of the dataset at ``dataset`` (``datagen.shards.dataset_samples``)."""
    return dataset_samples(dataset, "pair", failures)


def rgb_png(data: bytes, name: str) -> tuple[bytes, tuple[int, int]]:
    """(RGB PNG bytes, (height, width)) of a stored PNG (grey or RGB): PSC and SFNet normalise 3 channels."""
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR, grey repeated
    if img is None:
        raise InputError(f"{name}: not a readable PNG")
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError(f"{name}: PNG encoding failed")
    return buf.tobytes(), img.shape[:2]


def _joined(values: np.ndarray) -> str:
    return ";".join(f"{v:.3f}" for v in values)


def psc_columns(xy: np.ndarray) -> list[str]:
    """XA, YA, XB, YB strings of (n, 4) sketchgen rows (xA, yA, xB, yB): PSC's convention, 3 decimals."""
    c = to_psc(xy)
    return [_joined(c[:, k]) for k in range(4)]


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode())


def export_psc(dataset: str | Path, out: str | Path) -> dict[str, int | list[str]]:
    """Write the PSC6k layout of the pair dataset ``dataset`` into ``out`` (layout in the module docstring).

    Returns counts: rows per CSV ("train", "val", "test"), "not_photo" (pairs skipped because A is not a
    photo), "few_points" (val/test pairs with fewer than 8 correspondences), "keypoints" and
    "flow_points" (rows of the val/test CSVs from keypoints and from the flow), "keypoints_dropped", and
    "failures" (unreadable shards or samples, skipped). Raises InputError when there is nothing to read
    or no pair has a photo.
    """
    dataset, out = Path(dataset), Path(out)
    failures: list[str] = []
    categories = sorted({m["a"]["category"] for _, _, m in pair_samples(dataset, [])})
    class_index = {c: i + 1 for i, c in enumerate(categories)}
    tables: dict[str, list[list]] = {s: [] for s in SPLITS}
    counts = {"not_photo": 0, "few_points": 0, "keypoints": 0, "flow_points": 0, "keypoints_dropped": 0}
    sizes = set()
    for split, sample, meta in pair_samples(dataset, failures):
        key = sample["__key__"]
        if meta.get("modality") != PHOTO_MODALITY:
            counts["not_photo"] += 1
            continue
        row = None
        if split != "train":
            flow = np.load(io.BytesIO(sample["flow.npy"]))
            points = pair_points(meta, flow, key)
            if points is None:
                counts["few_points"] += 1
                continue
            counts["keypoints"] += points.keypoints
            counts["flow_points"] += len(points.xy) - points.keypoints
            counts["keypoints_dropped"] += points.dropped
            row = psc_columns(points.xy)
        photo, sketch = f"images/{key}_A.png", f"images/{key}_B.png"
        for name, member in ((photo, "a.png"), (sketch, "b.png")):
            data, size = rgb_png(sample[member], f"{sample['__shard__']}: {key}.{member}")
            sizes.add(size)
            atomic_write(out / name, data)
        cls = class_index[meta["a"]["category"]]
        if split == "train":
            tables[split] += [[photo, sketch, cls, 0], [photo, sketch, cls, 1]]
        else:
            tables[split].append([photo, sketch, cls] + row)
    if not any(tables.values()):
        raise InputError(f"{dataset}: no sketch-photo pairs to export ({counts['not_photo']} sketch-sketch pairs "
                         f"skipped; build with --modalities sketch-shaded)")
    for split in SPLITS:
        header = ["photo", "sketch", "class", "flip"] if split == "train" else \
            ["photo", "sketch", "class", "XA", "YA", "XB", "YB"]
        write_csv(out / f"{split}_pairs_ps.csv", header, tables[split])
        counts[split] = len(tables[split])
    if sizes - {(PSC_SIZE, PSC_SIZE)}:
        log.warning("images of %s px: PSC's eval.py resizes its flow to %d px and indexes it with the keypoints, "
                    "so it scores only %d px pairs (build with --size %d)", sorted(sizes), PSC_SIZE, PSC_SIZE, PSC_SIZE)
    if counts["few_points"]:
        log.warning("%d pairs have fewer than %d correspondences and were left out", counts["few_points"], N_POINTS)
    return {**counts, "failures": failures}
