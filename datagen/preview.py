"""Contact sheets of a built dataset, for a person to look at.

Triplets (schema 3): one row per sample, every whole drawing (view) the sample draws, redrawn from its
stored strokes, with the matched points marked where they lie in their view: the anchor in green with
its three zoom windows, the positive in blue, each negative in red labelled with its kind (``n2 near``);
a role seen from another shape or view sits in that view's tile. Version-2 triplets (no whole views
stored) show their zoom images with the stored point marked. Pairs: per sample, A and B side by side
with a line between each keypoint visible in both (and a few flow samples, in green), and the flow as
colour (hue = direction, brightness = length; grey where the flow is NaN).

Samples are chosen by split, shape id or sample key (``select_samples``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from sketchgen.datagen.schema import SPLITS, TRIPLET_ROLES, triplet_images, triplet_roles, view_key, zoom_key
from sketchgen.datagen.shards import read_shard
from sketchgen.errors import InputError
from sketchgen.files import atomic_write

RED, GREEN, BLUE = (0, 0, 255), (0, 170, 0), (255, 80, 0)  # BGR


def _decode(data: bytes) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)  # BGR, grey expanded
    if img is None:
        raise InputError("a sample image is not a readable PNG")
    return img


def iter_samples(dataset: str | Path, limit: int, *, split: str | None = None, shape: str | None = None,
                 key: str | None = None):
    """The first ``limit`` samples of a dataset folder (train, val, test shards in name order), of one
    ``split``, whose anchor or side A is shape ``shape``, or the one whose key is ``key``. Raises
    InputError when the folder has no shards, or when the filter matches none."""
    dataset = Path(dataset)
    if split is not None and split not in SPLITS:
        raise InputError(f"{dataset}: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    shards = [p for s in ((split,) if split else SPLITS) for p in sorted((dataset / s).glob("*.tar"))]
    if not shards:
        raise InputError(f"{dataset}: no shards found (expected <split>/*.tar)")
    count = 0
    for shard in shards:
        for sample in read_shard(shard):
            if count >= limit:
                return
            if key is not None and sample["__key__"] != key:
                continue
            if shape is not None and _sample_shape(sample) != shape:
                continue
            yield sample
            count += 1
    if count == 0 and (shape is not None or key is not None):
        what = f"key {key!r}" if key is not None else f"shape {shape!r}"
        raise InputError(f"{dataset}: no sample of {what}" + (f" in split {split}" if split else ""))


def _sample_shape(sample: dict) -> str:
    meta = json.loads(sample["json"])
    return (meta.get("anchor") or meta.get("a") or {}).get("shape", "")


def _mark(img: np.ndarray, xy, colour, radius: int = 5) -> None:
    import cv2

    if np.all(np.isfinite(xy)):
        # cv2 draws with pixel centres at integer coordinates; shift=4 keeps sub-pixel precision
        c = (int(round((xy[0] - 0.5) * 16)), int(round((xy[1] - 0.5) * 16)))
        cv2.circle(img, c, radius * 16, colour, 1, cv2.LINE_AA, shift=4)


def zoom_tiles(sample: dict) -> tuple[list[np.ndarray], list[str]]:
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


ROLE_COLOURS = {"a": GREEN, "p": BLUE, "n": RED}  # BGR


def triplet_tiles(sample: dict) -> tuple[list[np.ndarray], list[str]]:
    """(BGR tiles, labels) of one triplet: each view it draws, whole, with its roles marked (schema 3);
    the zoom images of a version-2 triplet (``zoom_tiles``)."""
    import cv2

    from sketchgen.render.strokearrays import StrokeArrays, draw_strokes

    meta = json.loads(sample["json"])
    drawings = meta.get("drawings")
    roles = triplet_roles(meta)
    if not drawings or "window" not in roles[0][1]["views"][0]:
        return zoom_tiles(sample)
    tiles, labels = [], []
    for k, drawing in enumerate(drawings):
        camera = drawing["camera"]
        w, h = int(camera["width"]), int(camera["height"])
        record = StrokeArrays.from_npz(sample[view_key(k)])
        img = cv2.cvtColor(draw_strokes([record], w, h)[0], cv2.COLOR_GRAY2BGR)
        names = []
        for prefix, role in roles:
            views = [v for v in role["views"] if int(v["view"]) == k]
            if not views:
                continue
            colour = ROLE_COLOURS[prefix[0]]
            cx, cy = float(views[0]["window"][0]), float(views[0]["window"][1])
            if prefix == "a":  # the anchor's zoom windows: what the descriptor sees of it
                for v in views:
                    x, y, half = (float(t) for t in v["window"])
                    cv2.rectangle(img, (int(round(x - half)), int(round(y - half))),
                                  (int(round(x + half)), int(round(y + half))), GREEN, 1, cv2.LINE_AA)
            name = {"a": "A", "p": "P"}.get(prefix, f"{prefix} {role.get('kind', '')}".strip())
            _mark(img, (cx, cy), colour, 6)
            cv2.circle(img, (int(round(cx - 0.5)), int(round(cy - 0.5))), 2, colour, -1, cv2.LINE_AA)
            cv2.putText(img, name, (int(round(cx + 8)), int(round(cy - 6))), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        colour, 1, cv2.LINE_AA)
            names.append(name)
        tiles.append(img)
        labels.append(f"{sample['__key__']} v{k} {drawing.get('shape', '')}: {', '.join(names) or '-'}")
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
    colour = flow_colour(flow)
    if colour.shape[0] != both.shape[0]:  # A and B of other heights: the flow is A's
        colour = np.pad(colour, ((0, both.shape[0] - colour.shape[0]), (0, 0), (0, 0)), constant_values=255)
    # one tile: A and B with their correspondences, then the flow as colour
    return [np.hstack([both, colour])], [label + "  |  flow A->B"]


def preview(dataset: str | Path, out: str | Path, *, limit: int = 8, split: str | None = None,
            shape: str | None = None, key: str | None = None) -> Path:
    """Write a contact sheet PNG of ``limit`` samples of ``dataset`` (chosen as ``iter_samples`` does) to
    ``out``: one row per sample."""

    import cv2

    from sketchgen.render.sheet import contact_sheet

    rows = []
    for sample in iter_samples(dataset, limit, split=split, shape=shape, key=key):
        kind = json.loads(sample["json"]).get("kind")
        if kind == "triplet":
            rows.append(triplet_tiles(sample))
        elif kind == "pair":
            rows.append(pair_tiles(sample))
        else:
            raise InputError(f"{dataset}: sample {sample['__key__']} has unknown kind {kind!r}")
    columns = max((len(t) for t, _ in rows), default=1)
    tiles, labels = [], []
    for t, lab in rows:  # a row per sample: short rows padded with blank tiles
        blank = [np.full((1, 1, 3), 255, np.uint8)] * (columns - len(t))
        tiles += list(t) + blank
        labels += list(lab) + [""] * len(blank)
    sheet = contact_sheet(tiles, labels, columns=columns)
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise OSError(f"{out}: PNG encoding failed")
    return atomic_write(out, buf.tobytes())
