"""Export a pair dataset in the PF-Pascal / PSC6k CSV layout, so photo-sketch correspondence code reads it.

Layout written under ``out``::

    images/<key>_A.png, images/<key>_B.png     RGB PNGs (A = "photo" side, B = "sketch" side)
    train_pairs_ps.csv    photo, sketch, class, flip        (each pair twice: flip 0 and 1)
    val_pairs_ps.csv      photo, sketch, class, XA, YA, XB, YB
    test_pairs_ps.csv     photo, sketch, class, XA, YA, XB, YB

``class`` is the 1-based index of the category in sorted order. XA/YA/XB/YB hold 8 values each joined
by ';': X is the column and Y the row, in PSC's pixel convention where a pixel's centre has integer
coordinates (PSC rounds them to index its flow), i.e. sketchgen's (x, y) minus 0.5. PSC's code wants
exactly 8 points per pair: the keypoints visible in both images come first, and the rest are pixels of
A whose exact flow lands inside B, picked by a generator seeded from the sample key. A pair with fewer
than 8 such points is left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import numpy as np

from sketchgen.files import atomic_write
from sketchgen.datagen.plan import id_words
from sketchgen.datagen.schema import SPLITS
from sketchgen.datagen.shards import read_shard
from sketchgen.render.errors import InputError

log = logging.getLogger(__name__)

N_POINTS = 8


def _decode(data: bytes, name: str) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{name}: not a readable PNG")
    return img


def _rgb_png(img: np.ndarray) -> bytes:
    import cv2

    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    # shards hold RGB; OpenCV writes BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def correspondences(meta: dict, flow: np.ndarray, key: str) -> np.ndarray | None:
    """(8, 4) float64 rows (xA, yA, xB, yB) in sketchgen pixels, or None when fewer than 8 exist."""
    h, w = flow.shape[:2]
    rows = []
    kb = {k["id"]: k for k in meta["b"]["keypoints"]}
    for ka in meta["a"]["keypoints"]:
        other = kb.get(ka["id"])
        if ka["visible"] and other is not None and other["visible"]:
            xa, xb = ka["xy"], other["xy"]
            if 0 <= xa[0] < w and 0 <= xa[1] < h and 0 <= xb[0] < w and 0 <= xb[1] < h:
                rows.append([*xa, *xb])
    rows = rows[:N_POINTS]
    if len(rows) < N_POINTS:
        ok = np.isfinite(flow).all(axis=2)
        ys, xs = np.nonzero(ok)
        target = np.stack([xs + 0.5 + flow[ys, xs, 0], ys + 0.5 + flow[ys, xs, 1]], axis=1)
        inside = (target[:, 0] >= 0) & (target[:, 0] < w) & (target[:, 1] >= 0) & (target[:, 1] < h)
        ys, xs, target = ys[inside], xs[inside], target[inside]
        need = N_POINTS - len(rows)
        if len(xs) < need:
            return None
        rng = np.random.default_rng(id_words("psc:" + key))
        pick = np.sort(rng.choice(len(xs), size=need, replace=False))
        for i in pick:
            rows.append([xs[i] + 0.5, ys[i] + 0.5, target[i, 0], target[i, 1]])
    return np.asarray(rows, dtype=np.float64)


def export_psc(dataset: str | Path, out: str | Path) -> dict[str, int]:
    """Write the PSC layout of the pair dataset ``dataset`` into ``out``; returns rows per CSV and skips."""
    dataset, out = Path(dataset), Path(out)
    shards = {split: sorted((dataset / split).glob("*.tar")) for split in SPLITS}
    if not any(shards.values()):
        raise InputError(f"{dataset}: no shards found (expected <split>/*.tar)")
    samples = []
    for split in SPLITS:
        for shard in shards[split]:
            for sample in read_shard(shard):
                meta = json.loads(sample["json"])
                if meta.get("kind") != "pair":
                    raise InputError(f"{shard}: sample {sample['__key__']} is not a pair sample")
                samples.append((split, sample, meta))
    categories = sorted({m["a"]["category"] for _, _, m in samples})
    class_index = {c: i + 1 for i, c in enumerate(categories)}
    (out / "images").mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[list]] = {s: [] for s in SPLITS}
    skipped = 0
    for split, sample, meta in samples:
        key = sample["__key__"]
        flow = np.load(io.BytesIO(sample["flow.npy"]))
        corr = correspondences(meta, flow, key)
        if corr is None and split != "train":
            skipped += 1
            continue
        photo, sketch = f"images/{key}_A.png", f"images/{key}_B.png"
        for name, member in ((photo, "a.png"), (sketch, "b.png")):
            atomic_write(out / name, _rgb_png(_bgr_to_rgb(_decode(sample[member], f"{key}.{member}"))))
        cls = class_index[meta["a"]["category"]]
        if split == "train":
            tables[split] += [[photo, sketch, cls, 0], [photo, sketch, cls, 1]]
        else:
            # PSC's convention: pixel centres at integer coordinates
            c = corr - 0.5
            tables[split].append([photo, sketch, cls] + [";".join(f"{v:.3f}" for v in c[:, k]) for k in range(4)])
    counts = {}
    for split in SPLITS:
        header = ["photo", "sketch", "class", "flip"] if split == "train" else \
            ["photo", "sketch", "class", "XA", "YA", "XB", "YB"]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(tables[split])
        atomic_write(out / f"{split}_pairs_ps.csv", buf.getvalue().encode())
        counts[split] = len(tables[split])
    counts["skipped"] = skipped
    if skipped:
        log.warning("%d pairs have fewer than %d correspondences and were left out", skipped, N_POINTS)
    return counts


def _bgr_to_rgb(img: np.ndarray) -> np.ndarray:
    return img[..., ::-1] if img.ndim == 3 else img
