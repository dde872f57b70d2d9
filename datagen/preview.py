"""Contact sheets of a built dataset, for a person to look at.

Triplets: one row per sample, the anchor, positive and negative zooms side by side with the stored
point marked (a red circle at the stored ``xy``). Pairs: per sample, A and B side by side with a line
between each keypoint visible in both (and a few flow samples, in green), and the flow as colour
(hue = direction, brightness = length; grey where the flow is NaN).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from sketchgen.files import atomic_write
from sketchgen.datagen.schema import SPLITS, TRIPLET_ROLES, triplet_images, zoom_key
from sketchgen.datagen.shards import read_shard
from sketchgen.render.errors import InputError

RED, GREEN, BLUE = (0, 0, 255), (0, 170, 0), (255, 80, 0)  # BGR


def _decode(data: bytes) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR, grey expanded
    if img is None:
        raise InputError("a sample image is not a readable PNG")
    return img


def iter_samples(dataset: str | Path, limit: int):
    """The first ``limit`` samples of a dataset folder (train, val, test shards in name order)."""
    dataset = Path(dataset)
    shards = [p for split in SPLITS for p in sorted((dataset / split).glob("*.tar"))]
    if not shards:
        raise InputError(f"{dataset}: no shards found (expected <split>/*.tar)")
    count = 0
    for shard in shards:
        for sample in read_shard(shard):
            if count >= limit:
                return
            yield sample
            count += 1


def _mark(img: np.ndarray, xy, colour, radius: int = 5) -> None:
    import cv2

    if np.all(np.isfinite(xy)):
        # cv2 draws with pixel centres at integer coordinates; shift=4 keeps sub-pixel precision
        c = (int(round((xy[0] - 0.5) * 16)), int(round((xy[1] - 0.5) * 16)))
        cv2.circle(img, c, radius * 16, colour, 1, cv2.LINE_AA, shift=4)


def triplet_tiles(sample: dict) -> tuple[list[np.ndarray], list[str]]:
    import cv2

    meta = json.loads(sample["json"])
    images = triplet_images(sample)  # redrawn from the views' strokes, or a version-2 sample's PNGs
    tiles, labels = [], []
    for role in TRIPLET_ROLES:
        name = {"a": "anchor", "p": "positive", "n": "negative"}[role]
        r = meta[name]
        for z, view in enumerate(r["views"]):
            img = cv2.cvtColor(images[zoom_key(role, z)], cv2.COLOR_GRAY2BGR)
            _mark(img, view["xy"], RED)
            tiles.append(img)
            labels.append(f"{role}{z} {r['shape']} {meta.get('style', 'clean')}" if z == 0
                          else f"{role}{z} {r.get('part', '')}")
    return tiles, labels


def flow_colour(flow: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 BGR: hue from the direction, brightness from the length; grey where NaN."""
    import cv2

    ok = np.isfinite(flow).all(axis=2)
    f = np.where(ok[..., None], flow, 0.0).astype(np.float32)
    mag, ang = cv2.cartToPolar(f[..., 0], f[..., 1], angleInDegrees=True)
    scale = max(float(np.percentile(mag[ok], 99)) if ok.any() else 1.0, 1e-6)
    hsv = np.zeros(flow.shape[:2] + (3,), np.uint8)
    hsv[..., 0] = (ang / 2).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(mag / scale * 255, 0, 255).astype(np.uint8)
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    out[~ok] = 160
    return out


def pair_tiles(sample: dict, flow_lines: int = 6) -> tuple[list[np.ndarray], list[str]]:
    import cv2

    meta = json.loads(sample["json"])
    a, b = _decode(sample["a.png"]), _decode(sample["b.png"])
    flow = np.load(io.BytesIO(sample["flow.npy"]))
    w = a.shape[1]
    both = np.hstack([a, b])
    kb = {k["id"]: k for k in meta["b"]["keypoints"]}
    for k in meta["a"]["keypoints"]:
        other = kb.get(k["id"])
        if k["visible"] and other is not None and other["visible"]:
            p, q = np.array(k["xy"]), np.array(other["xy"]) + [w, 0]
            cv2.line(both, tuple(int(round(v * 16)) for v in p - 0.5), tuple(int(round(v * 16)) for v in q - 0.5),
                     BLUE, 1, cv2.LINE_AA, shift=4)
            _mark(both, p, RED, 3)
            _mark(both, q, RED, 3)
    # a few flow samples, spread over A's valid pixels in a fixed pattern
    ys, xs = np.nonzero(np.isfinite(flow[..., 0]))
    for idx in np.linspace(0, len(xs) - 1, num=min(flow_lines, len(xs))).astype(int) if len(xs) else []:
        p = np.array([xs[idx] + 0.5, ys[idx] + 0.5])
        q = p + flow[ys[idx], xs[idx]] + [w, 0]
        cv2.line(both, tuple(int(round(v * 16)) for v in p - 0.5), tuple(int(round(v * 16)) for v in q - 0.5),
                 GREEN, 1, cv2.LINE_AA, shift=4)
    label = (f"{meta['pair_kind']} {meta['modality']} {meta.get('style', 'clean')} "
             f"{meta['a']['shape']}->{meta['b']['shape']}")
    return [both, flow_colour(flow)], [label, "flow"]


def preview(dataset: str | Path, out: str | Path, *, limit: int = 8) -> Path:
    """Write a contact sheet PNG of the first ``limit`` samples of ``dataset`` to ``out``."""

    import cv2

    from sketchgen.render.sheet import contact_sheet

    tiles, labels, columns = [], [], 2
    for sample in iter_samples(dataset, limit):
        kind = json.loads(sample["json"]).get("kind")
        if kind == "triplet":
            t, lab = triplet_tiles(sample)
            columns = len(t)
        elif kind == "pair":
            t, lab = pair_tiles(sample)
            columns = 4
        else:
            raise InputError(f"{dataset}: sample {sample['__key__']} has unknown kind {kind!r}")
        tiles += t
        labels += lab
    sheet = contact_sheet(tiles, labels, columns=columns)
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise OSError(f"{out}: PNG encoding failed")
    return atomic_write(out, buf.tobytes())
