"""Evaluation on a local copy of PSC6k (Lu, Wang, Fan 2023), the real photo-sketch benchmark.

Layout (PF-Pascal style, as PSC's own code reads it): a test CSV with columns
``photo, sketch, class, XA, YA, XB, YB``; the photo and sketch columns are paths relative to the image
root (PSC's ``--data-path``); each of XA..YB holds the 8 keypoint values joined by ';' (A = photo,
B = sketch; X = column, Y = row, pixel indices in the 256 px frame). Nothing is downloaded: point
``sketchgen eval warp --psc6k PATH`` at the CSV (or at a folder holding ``test_pairs_ps.csv``) and,
when the images are elsewhere, ``--psc6k-images DIR``.

PCK as PSC reports it: thresholds alpha x 256 px, averaged over pairs and both directions (photo ->
sketch and sketch -> photo); also alpha x the keypoints' bounding box.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sketchgen.errors import InputError
from sketchgen.train.evaluate import WARP_METHODS, warp_records
from sketchgen.train.images import to_ink, to_rgb
from sketchgen.train.models import input_channels
from sketchgen.train.metrics import mean_records
from sketchgen.train.pairs import PHOTO, SKETCH

PSC_COLUMNS = ("photo", "sketch", "class", "XA", "YA", "XB", "YB")
PSC_SIZE = 256
DEFAULT_CSV = "test_pairs_ps.csv"


@dataclass(frozen=True)
class PscPair:
    """One annotated pair: image paths, category, and (K, 2) float64 keypoints in sketchgen's pixel
    convention (column + 0.5, row + 0.5) in the 256 px frame of the photo (A) and the sketch (B)."""

    photo: Path
    sketch: Path
    category: str
    kp_photo: np.ndarray
    kp_sketch: np.ndarray


def find_csv(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / DEFAULT_CSV
    if not path.is_file():
        raise InputError(f"{path}: no such PSC6k test CSV")
    return path


def read_psc6k(path: str | Path, image_root: str | Path | None = None) -> list[PscPair]:
    """Parse a PSC6k test CSV. Raises InputError naming the file (and line) on any problem."""
    csv_path = find_csv(path)
    root = Path(image_root) if image_root is not None else csv_path.parent
    pairs = []
    try:
        with open(csv_path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in PSC_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{csv_path}: missing column(s) {', '.join(missing)}")
            for line, row in enumerate(reader, start=2):
                try:
                    xa, ya, xb, yb = (np.array([float(v) for v in row[c].split(";")]) for c in ("XA", "YA", "XB", "YB"))
                except (ValueError, AttributeError):
                    raise InputError(f"{csv_path}:{line}: keypoint columns must be numbers joined by ';'") from None
                if not (len(xa) == len(ya) == len(xb) == len(yb)) or len(xa) == 0:
                    raise InputError(f"{csv_path}:{line}: keypoint columns differ in length")
                pairs.append(PscPair(root / row["photo"], root / row["sketch"], row["class"],
                                     np.stack([xa, ya], 1) + 0.5, np.stack([xb, yb], 1) + 0.5))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{csv_path}: unreadable ({exc})") from None
    if not pairs:
        raise InputError(f"{csv_path}: no pairs")
    return pairs


def _load(path: Path, size: int, channels: int = 1) -> tuple[np.ndarray, float]:
    """An image as an encoder of ``channels`` reads it: 1, (S, S) float32 ink; 3, (3, S, S) RGB in [0, 1]."""
    if channels == 3:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{path}: missing or not an image")
        h, w = bgr.shape[:2]
        rgb = cv2.resize(np.ascontiguousarray(bgr[..., ::-1]), (size, size), interpolation=cv2.INTER_AREA)
        return to_rgb(rgb), size / max(h, w)
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise InputError(f"{path}: missing or not an image")
    h, w = grey.shape
    return to_ink(cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)), size / max(h, w)


def evaluate_psc6k(model, size: int, path, image_root=None, *, limit: int | None = None,
                   device: str = "cpu") -> dict:
    """PCK of the estimator, the identity warp and the global affine on PSC6k: {"methods": {name: {...}},
    "pairs": P, "by_class": {class: {name: {...}}}}. Keypoints are scaled from the 256 px frame."""
    pairs = read_psc6k(path, image_root)[:limit]
    model = model.to(device).eval()
    records = {m: [] for m in WARP_METHODS}
    by_class: dict[str, dict[str, list]] = {}
    scale = size / PSC_SIZE
    channels = input_channels(model)
    for pair in tqdm(pairs, desc="eval PSC6k", leave=False):
        a, _ = _load(pair.photo, size, channels)
        b, _ = _load(pair.sketch, size, channels)
        a, b = (torch.from_numpy(x).reshape(1, -1, size, size).to(device) for x in (a, b))
        recs = warp_records(model, a, b, pair.kp_photo * scale, pair.kp_sketch * scale, domains=(PHOTO, SKETCH))
        cls = by_class.setdefault(pair.category, {m: [] for m in WARP_METHODS})
        for name, r in recs.items():
            records[name] += r
            cls[name] += r
    return {"methods": {m: mean_records(r) for m, r in records.items()}, "pairs": len(pairs),
            "by_class": {c: {m: mean_records(r) for m, r in v.items()} for c, v in sorted(by_class.items())}}
