"""Descriptor training points of a pair set: anchors on A's strokes with their true correspondence in B
(``correspondence_points``, as the evaluation chooses them), negatives among B's stroke points
(``pick_negatives``), their zooms drawn from the strokes (``make_point_decoder``) and the stream of them,
one sample per point (``point_stream``).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from sketchgen.render.views import sketchzooms_factors
from sketchgen.train.pairs import decode_pair_arrays
from sketchgen.train.shards import ShardStream, list_shards
from sketchgen.train.zooms import StrokeZooms, point_drawing

NEAR_NEGATIVE_PX = (8.0, 48.0)  # training points of pairs: "near" negatives lie this far from the true match


def thin(points: np.ndarray, cell: float, rng: np.random.Generator) -> np.ndarray:
    """One point per ``cell`` x ``cell`` square, chosen at random: (M, 2) -> (K, 2)."""
    if len(points) == 0:
        return points
    order = rng.permutation(len(points))
    cells = np.floor(points[order] / cell).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return points[order[np.sort(first)]]


def correspondence_points(pair: dict, rng: np.random.Generator, *, anchors: int = 40, anchor_px: float = 6.0,
                          candidate_px: float = 3.0, on_stroke_px: float = 2.0):
    """(anchors_xy (N, 2) in A, true_xy (N, 2) in B, candidates_xy (M, 2) in B), pixels."""
    ink_a, ink_b, flow = pair["a"], pair["b"], pair["flow"]
    stroke_b = ink_b > 0.5
    dist_b = cv2.distanceTransform((~stroke_b).astype(np.uint8), cv2.DIST_L2, 5)
    rows, cols = np.nonzero((ink_a > 0.5) & np.isfinite(flow).all(-1))
    xy = np.stack([cols + 0.5, rows + 0.5], 1)
    true = xy + flow[rows, cols]
    h, w = ink_b.shape
    ti = np.clip(np.floor(true).astype(int), 0, [w - 1, h - 1])
    ok = ((true >= 0) & (true < [w, h])).all(1) & (dist_b[ti[:, 1], ti[:, 0]] <= on_stroke_px)
    keep = thin(np.concatenate([xy[ok], true[ok]], 1), anchor_px, rng)
    if len(keep) > anchors:
        keep = keep[rng.choice(len(keep), anchors, replace=False)]
    rb, cb = np.nonzero(stroke_b)
    cands = thin(np.stack([cb + 0.5, rb + 0.5], 1), candidate_px, rng)
    return keep[:, :2], keep[:, 2:], cands


def pick_negatives(true_xy: np.ndarray, cands: np.ndarray, rng: np.random.Generator, *, count: int = 6,
                   near: int = 4, near_px: tuple[float, float] = NEAR_NEGATIVE_PX) -> tuple[np.ndarray, np.ndarray]:
    """For each true correspondence (N, 2) in B, ``count`` of B's candidate points (M, 2) that are not it:
    up to ``near`` of them at ``near_px[0]``..``near_px[1]`` px from it (the stroke points a matcher
    confuses it with), the rest farther (or, where B has nothing farther, again from the near ones, with
    repeats). Returns ((N', count, 2) pixels, (N,) bool: the anchors that got a full set,
    which need at least one candidate beyond ``near_px[0]``)."""
    lo, hi = near_px
    near = min(near, count)
    out, ok = [], np.zeros(len(true_xy), bool)
    for i, t in enumerate(true_xy):
        d = np.linalg.norm(cands - t, axis=1)
        close = np.nonzero((d >= lo) & (d <= hi))[0]
        far = np.nonzero(d > hi)[0]
        pick = list(rng.choice(close, min(near, len(close)), replace=False)) if len(close) else []
        rest = far if len(far) else close
        if len(rest) == 0:
            continue
        pick += list(rng.choice(rest, count - len(pick), replace=len(rest) < count - len(pick)))
        out.append(cands[pick])
        ok[i] = True
    return np.asarray(out, np.float64).reshape(-1, count, 2), ok


def make_point_decoder(size: int, *, points: int = 8, negatives: int = 6, near: int = 4):
    """Decoder of pair samples into descriptor training points -> a list of {"key": str, "zooms":
    (2 + negatives, Z, 1, S, S) float32}: per point, the zooms of an anchor on a stroke of drawing A, of its
    true correspondence in B (A's position plus the flow) and of ``negatives`` other stroke points of B,
    up to ``near`` of them within ``NEAR_NEGATIVE_PX`` of the correspondence (``pick_negatives``). No
    rotation/flip augmentation: the pairs' own view changes and deformations vary the drawings. Points are chosen as the
    evaluation chooses its anchors (``correspondence_points``) and their zooms are drawn as it draws them
    (``StrokeZooms`` at ``point_drawing(size)``), so the network learns the matching it is measured on.
    Sketch-shaded pairs give no points (their B is not a line drawing)."""
    native, width = point_drawing(size)

    def decode(sample: dict, rng: np.random.Generator) -> list[dict]:
        pair = decode_pair_arrays(sample)
        if pair["meta"].get("modality", "sketch-sketch") != "sketch-sketch":
            return []
        a_xy, true_xy, cands = correspondence_points(pair, rng, anchors=points)
        negs, ok = pick_negatives(true_xy, cands, rng, count=negatives, near=near)
        if not ok.any():
            return []
        a_xy, true_xy = a_xy[ok], true_xy[ok]
        halves = [f * pair["a_grey"].shape[0] / 2.0 for f in sketchzooms_factors()]
        za = StrokeZooms(pair["a_strokes"], native=native, width=width).zooms(a_xy, halves, size)
        sb = StrokeZooms(pair["b_strokes"], native=native, width=width)
        zp = sb.zooms(true_xy, halves, size)
        zn = sb.zooms(negs.reshape(-1, 2), halves, size).view(len(a_xy), negatives, *zp.shape[1:])
        zooms = torch.cat([za[:, None], zp[:, None], zn], dim=1)
        return [{"key": f"{pair['key']}/{i}", "zooms": zooms[i]} for i in range(len(zooms))]

    return decode


def point_stream(root, split: str = "train", *, size: int = 64, points: int = 8, negatives: int = 6,
                 **kwargs) -> ShardStream:
    """Descriptor training points of a pair set (``make_point_decoder``), one stream sample per point."""
    return ShardStream(list_shards(root, split), make_point_decoder(size, points=points, negatives=negatives),
                       expand=True, **kwargs)
