"""Tiny synthetic shards that follow datagen/schema.py exactly, drawn with cv2, with exact flow."""

from __future__ import annotations

import io
import json

import cv2
import numpy as np
import pytest
import torch

from sketchgen.datagen.schema import sample_key, zoom_key
from sketchgen.datagen.shards import write_shard


# one thread: these tiny models gain nothing from more, and on a shared machine extra threads only
# oversubscribe the cores (measured here: 4x slower with 2 threads under load)
torch.set_num_threads(1)


def png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def pattern(cls: int, size: int, rng: np.random.Generator, jitter: float = 1.0) -> np.ndarray:
    """A drawing of class ``cls``: a star of ``cls + 2`` strokes through the centre at class-fixed angles,
    plus a little positional jitter; white paper, black strokes."""
    img = np.full((size, size), 255, np.uint8)
    c = size / 2.0
    base = np.random.default_rng(1000 + cls)
    angles = base.uniform(0, np.pi, size=cls % 3 + 2)
    lengths = base.uniform(0.25, 0.45, size=len(angles)) * size
    for ang, ln in zip(angles, lengths):
        dx, dy = np.cos(ang) * ln, np.sin(ang) * ln
        off = rng.normal(0, jitter, size=2)
        p0 = (int(round((c - dx + off[0]) * 16)), int(round((c - dy + off[1]) * 16)))
        p1 = (int(round((c + dx + off[0]) * 16)), int(round((c + dy + off[1]) * 16)))
        cv2.line(img, p0, p1, 0, 1, cv2.LINE_AA, shift=4)
    if cls % 2:
        cv2.circle(img, (int(c * 16), int(c * 16)), int(size * 0.2 * 16), 0, 1, cv2.LINE_AA, shift=4)
    return img


def _role(shape, cls, size, zooms):
    view = {"camera": {"position": [0, 0, 3], "look_at": [0, 0, 0], "up": [0, 1, 0], "yfov_deg": 40.0,
                       "width": size, "height": size}, "xy": [size / 2.0, size / 2.0]}
    return {"shape": shape, "category": "synthetic", "part": cls, "point": [0.0, 0.0, 0.0],
            "views": [view] * zooms}


def triplet_samples(n: int, *, size: int = 32, zooms: int = 3, classes: int = 4, seed: int = 0,
                    split: str = "train", unit: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        c = i % classes
        cn = (c + 1 + int(rng.integers(classes - 1))) % classes
        sample = {"__key__": sample_key(f"shape{unit}", unit, i)}
        for role, cls in (("a", c), ("p", c), ("n", cn)):
            for z in range(zooms):
                sample[zoom_key(role, z)] = png(pattern(cls, size, rng))
        sample["json"] = json.dumps({"kind": "triplet", "split": split, "anchor": _role("s", c, size, zooms),
                                     "positive": _role("s", c, size, zooms),
                                     "negative": _role("s", cn, size, zooms), "surface_distance": 1.0})
        out.append(sample)
    return out


def _polyline_strokes(xy: np.ndarray, width: float):
    """A StrokeArrays of one polyline (no 3D points: zeros), ``width`` px wide."""
    from sketchgen.render.strokearrays import StrokeArrays

    n = len(xy)
    return StrokeArrays.of(xy=xy, offset=np.zeros((n, 2)), stroke=np.zeros(n), point=np.zeros((n, 3)),
                           face=np.zeros(n), part=np.zeros(n), kind=np.zeros(n), weight=np.ones(n), width=[width])


def shifted_pair(size: int, shift: tuple[int, int], rng: np.random.Generator, key: str, split="train"):
    """Random strokes A and B = A shifted by an integer (dx, dy): flow = shift where the pixel stays inside.
    Both drawn from their strokes (stored beside them) by sketchgen's rasteriser."""
    from sketchgen.datagen.schema import strokes_key
    from sketchgen.render.strokearrays import draw_strokes

    pts = rng.uniform(size * 0.5, size * 1.5, size=(6, 2)).astype(np.float32).astype(np.float64)
    o = size // 2
    dx, dy = shift
    strokes_a = _polyline_strokes(pts - o, 2.0)
    strokes_b = _polyline_strokes(pts - o + (dx, dy), 2.0)
    a, b = draw_strokes([strokes_a, strokes_b], size, size)
    ys, xs = np.mgrid[0:size, 0:size]
    inside = (xs + dx >= 0) & (xs + dx < size) & (ys + dy >= 0) & (ys + dy < size)
    flow = np.full((size, size, 2), np.nan, np.float32)
    flow[inside] = (dx, dy)
    kps_a = rng.uniform(4, size - 4, size=(6, 2))
    kp_a, kp_b = [], []
    for i, (x, y) in enumerate(kps_a):
        vis = 0 <= x + dx < size and 0 <= y + dy < size
        kp_a.append({"id": i, "point": [0, 0, 0], "xy": [float(x), float(y)], "visible": True})
        kp_b.append({"id": i, "point": [0, 0, 0], "xy": [float(x + dx), float(y + dy)], "visible": bool(vis)})
    buf = io.BytesIO()
    np.save(buf, flow)
    meta = {"kind": "pair", "pair_kind": "deform", "modality": "sketch-sketch", "split": split,
            "a": {"shape": "s", "category": "synthetic", "camera": {}, "keypoints": kp_a},
            "b": {"shape": "s", "category": "synthetic", "camera": {}, "keypoints": kp_b}}
    mask = np.full((size, size), 255, np.uint8)
    return {"__key__": key, "a.png": png(a), "b.png": png(b), "flow.npy": buf.getvalue(),
            strokes_key("a.png"): strokes_a.to_npz(), strokes_key("b.png"): strokes_b.to_npz(),
            "amask.png": png(mask), "bmask.png": png(mask), "json": json.dumps(meta)}


def pair_samples(n: int, *, size: int = 64, max_shift: int = 8, seed: int = 0, split: str = "train", unit=0):
    rng = np.random.default_rng(seed)
    return [shifted_pair(size, tuple(int(v) for v in rng.integers(-max_shift, max_shift + 1, size=2)), rng,
                         sample_key(f"shape{unit}", unit, i), split) for i in range(n)]


def write_dataset(root, kind: str, counts: dict[str, list[int]], **kwargs):
    """Write ``counts[split] = [samples per shard, ...]`` shards of ``kind`` under ``root``."""
    make = triplet_samples if kind == "triplet" else pair_samples
    unit = 0
    for split, sizes in counts.items():
        for k, n in enumerate(sizes):
            write_shard(root / split / f"{split}-{k:04d}.tar", make(n, split=split, unit=unit, seed=unit, **kwargs))
            unit += 1
    # as datagen's manifests name the dataset; schema 2: strokes beside every line drawing
    (root / "manifest.json").write_text(json.dumps({"dataset": f"{kind}s", "schema": 2}))
    return root


@pytest.fixture
def synth():
    """The helpers above, for tests that build their own shards."""
    class S:
        pass
    s = S()
    s.pattern, s.triplet_samples, s.pair_samples, s.write_dataset, s.png = (
        pattern, triplet_samples, pair_samples, write_dataset, png)
    s.shifted_pair = shifted_pair
    return s
