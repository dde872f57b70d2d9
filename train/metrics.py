"""Evaluation metrics: matching accuracy curves (descriptors) and PCK (warps).

All positions are (N, 2) float pixels in sketchgen's convention (origin at the top-left corner, y down).
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLDS_PX = (1, 2, 3, 5, 7, 10, 15, 20, 30)
PCK_ALPHAS = (0.05, 0.10)


def nearest_neighbours(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(N,) int64 index into ``candidates`` (M, D) of the L2-nearest descriptor of each ``query`` (N, D)."""
    q = np.asarray(query, dtype=np.float64)
    c = np.asarray(candidates, dtype=np.float64)
    d2 = (q ** 2).sum(1)[:, None] - 2.0 * q @ c.T + (c ** 2).sum(1)[None, :]
    return np.argmin(d2, axis=1)


def accuracy_curve(errors_px: np.ndarray, thresholds_px=DEFAULT_THRESHOLDS_PX) -> np.ndarray:
    """Fraction of ``errors_px`` (N,) at most each threshold: (T,) float64 (NaN for no points)."""
    e = np.asarray(errors_px, dtype=np.float64).reshape(-1)
    if e.size == 0:
        return np.full(len(thresholds_px), np.nan)
    return np.array([(e <= t).mean() for t in thresholds_px])


def matching_errors(pred_xy: np.ndarray, true_xy: np.ndarray) -> np.ndarray:
    """(N,) float64 pixel distance between each matched position and its true correspondence."""
    return np.linalg.norm(np.asarray(pred_xy, np.float64) - np.asarray(true_xy, np.float64), axis=1)


def bbox_size(points: np.ndarray) -> float:
    """max(width, height) of the points' bounding box, in pixels (SFNet's PCK reference on PF-WILLOW)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return float(np.max(p.max(0) - p.min(0)))


def pck(pred_xy: np.ndarray, gt_xy: np.ndarray, threshold_px: float) -> float:
    """Fraction of predictions within ``threshold_px`` of their ground truth (N, 2); NaN for none."""
    err = matching_errors(np.asarray(pred_xy).reshape(-1, 2), np.asarray(gt_xy).reshape(-1, 2))
    return float((err <= threshold_px).mean()) if err.size else float("nan")


def pck_both_refs(pred_xy: np.ndarray, gt_xy: np.ndarray, image_size: tuple[int, int],
                  alphas=PCK_ALPHAS) -> dict[str, float]:
    """PCK of one pair in one direction, for each alpha, with alpha x max(image width, height) (PSC:
    ``pck@0.05``) and alpha x the ground-truth keypoints' bounding box (SFNet: ``pck_bbox@0.05``).

    pred_xy, gt_xy: (N, 2) pixels in the image the keypoints were transferred into; image_size: (W, H).
    """
    out = {}
    ref_img = float(max(image_size))
    ref_box = bbox_size(gt_xy) if len(gt_xy) > 1 else ref_img
    for a in alphas:
        out[f"pck@{a:.2f}"] = pck(pred_xy, gt_xy, a * ref_img)
        out[f"pck_bbox@{a:.2f}"] = pck(pred_xy, gt_xy, a * ref_box)
    return out


def mean_records(records: list[dict[str, float]]) -> dict[str, float]:
    """Key-wise mean over per-pair, per-direction records (PSC averages over pairs and both directions)."""
    keys = sorted({k for r in records for k in r})
    return {k: float(np.nanmean([r[k] for r in records if k in r])) if records else float("nan") for k in keys}
