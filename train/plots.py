"""Metric plots drawn with cv2 (matplotlib is not a dependency): curves and grouped bars as PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from sketchgen.files import atomic_write

COLOURS = [(200, 80, 20), (30, 30, 220), (40, 160, 40), (150, 60, 160), (0, 140, 200), (100, 100, 100)]  # BGR
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _canvas(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def _axes(img, box, title, xlabel, ylabel, yticks):
    x0, y0, x1, y1 = box
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    for v in yticks:
        y = int(round(y1 - v * (y1 - y0)))
        cv2.line(img, (x0, y), (x1, y), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (x0 - 34, y + 4), FONT, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, title, (x0, y0 - 12), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, xlabel, ((x0 + x1) // 2 - 40, y1 + 36), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, ylabel, (4, y0 - 12), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)


def _legend(img, names, x, y):
    for k, name in enumerate(names):
        c = COLOURS[k % len(COLOURS)]
        cv2.rectangle(img, (x, y + 18 * k - 8), (x + 14, y + 18 * k + 2), c, -1)
        cv2.putText(img, name, (x + 20, y + 18 * k + 2), FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)


def curve_plot(x, series: dict[str, list[float]], title: str, xlabel: str, ylabel: str,
               size=(640, 420)) -> np.ndarray:
    """(H, W, 3) uint8 BGR line plot of ``series`` (name -> values in [0, 1]) over ``x``."""
    img = _canvas(*size)
    box = (60, 40, size[0] - 170, size[1] - 50)
    _axes(img, box, title, xlabel, ylabel, np.linspace(0, 1, 6))
    x = np.asarray(x, np.float64)
    lo, hi = float(x.min()), float(x.max()) if x.max() > x.min() else float(x.min()) + 1
    px = box[0] + (x - lo) / (hi - lo) * (box[2] - box[0])
    for t, xv in zip(x, px):
        cv2.putText(img, f"{t:g}", (int(xv) - 6, box[3] + 16), FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
    for k, (name, ys) in enumerate(series.items()):
        ys = np.nan_to_num(np.asarray(ys, np.float64))
        py = box[3] - ys * (box[3] - box[1])
        pts = np.stack([px, py], 1).round().astype(np.int32)
        cv2.polylines(img, [pts], False, COLOURS[k % len(COLOURS)], 2, cv2.LINE_AA)
        for p in pts:
            cv2.circle(img, tuple(int(v) for v in p), 3, COLOURS[k % len(COLOURS)], -1, cv2.LINE_AA)
    _legend(img, list(series), box[2] + 14, box[1] + 10)
    return img


def bar_plot(groups: dict[str, dict[str, float]], metrics: list[str], title: str, size=(640, 420)) -> np.ndarray:
    """(H, W, 3) uint8 BGR grouped bars: one group per metric, one bar per method (values in [0, 1])."""
    img = _canvas(*size)
    box = (60, 40, size[0] - 170, size[1] - 50)
    _axes(img, box, title, "", "", np.linspace(0, 1, 6))
    names = list(groups)
    gw = (box[2] - box[0]) / max(len(metrics), 1)
    bw = gw * 0.8 / max(len(names), 1)
    for g, metric in enumerate(metrics):
        gx = box[0] + g * gw + gw * 0.1
        cv2.putText(img, metric, (int(gx), box[3] + 18), FONT, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        for k, name in enumerate(names):
            v = float(np.nan_to_num(groups[name].get(metric, 0.0)))
            top = int(round(box[3] - v * (box[3] - box[1])))
            x0 = int(round(gx + k * bw))
            cv2.rectangle(img, (x0, top), (int(round(x0 + bw - 2)), box[3]), COLOURS[k % len(COLOURS)], -1)
    _legend(img, names, box[2] + 14, box[1] + 10)
    return img


def write_png(img: np.ndarray, path: str | Path) -> Path:
    """Write atomically (temporary name, then rename)."""
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    return atomic_write(path, buf.tobytes())
