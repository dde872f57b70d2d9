"""SVG of a drawing's strokes: one element per stroke, classed by line type.

The SVG's user space is the pixel convention of ``render/camera.py``: ``viewBox="0 0 W H"`` with the
origin at the image's top-left corner and y down, so a stroke vertex at pixel (x, y) is written as
``x,y`` unchanged (three decimals, a thousandth of a pixel). An unbroken stroke is a ``<polyline>``; a
stroke whose weight falls to zero somewhere (the sketchy style's gaps) is one ``<path>`` with a
subpath per inked run. A stroke's ``stroke-width`` is the line width times its mean weight when its
weights are not all 1 (SVG has no width varying along a path).
"""

from __future__ import annotations

import numpy as np

from sketchgen.render.strokes import Drawing, Stroke

# weights at or below this are gaps, not ink
GAP_WEIGHT = 1e-3

_HEADER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">\n'
    '<rect width="{w}" height="{h}" fill="white"/>\n'
    '<g fill="none" stroke="black" stroke-width="{lw}" stroke-linecap="round" stroke-linejoin="round">\n'
)
_FOOTER = "</g>\n</svg>\n"


def drawing_svg(drawing: Drawing, *, line_width: float = 1.0) -> str:
    """SVG document of ``drawing`` at its camera's size; ``line_width`` in pixels at weight 1."""
    cam = drawing.camera
    return strokes_svg(drawing.strokes, cam.width, cam.height, line_width=line_width)


def strokes_svg(strokes: list[Stroke], width: int, height: int, *, line_width: float = 1.0) -> str:
    """SVG document of ``strokes`` ((N, 2) float64 pixel xy each) in a ``width`` x ``height`` image.

    The same text as one ``stroke_element`` per stroke, made in one pass: the strokes that are plain
    polylines (every vertex finite, no weight below 1) are found with whole-drawing array operations
    and all their coordinates formatted by a single C-level ``%`` call; the others go through
    ``stroke_element``."""
    parts = [_HEADER.format(w=int(width), h=int(height), lw=_num(line_width)).replace("%", "%%")]
    strokes = list(strokes)
    counts = np.array([len(s.xy) for s in strokes], dtype=np.int64)
    plain = np.zeros(len(strokes), dtype=bool)
    values = np.zeros(0)
    if len(strokes) and counts.sum():
        xy = np.concatenate([np.asarray(s.xy, dtype=np.float64).reshape(-1, 2) for s in strokes])
        ones = np.ones(1)
        weight = np.concatenate([ones.repeat(n) if s.weight is None else np.asarray(s.weight, np.float64).reshape(-1)
                                 for s, n in zip(strokes, counts)])
        ok = (np.isfinite(xy).all(axis=1) & (weight == 1.0)).astype(np.int64)
        starts = np.cumsum(counts) - counts
        nonempty = counts > 0
        bad = np.zeros(len(strokes), dtype=np.int64)
        bad[nonempty] = np.add.reduceat(1 - ok, starts[nonempty])
        plain = nonempty & (bad == 0)
        values = xy[np.repeat(plain, counts)]
    formats = {}
    for stroke, n, simple in zip(strokes, counts.tolist(), plain.tolist()):
        if simple:
            if n not in formats:
                formats[n] = " ".join(["%.3f,%.3f"] * n)
            parts.append(f'<polyline class="{stroke.kind}" points="'.replace("%", "%%") + formats[n] + '"/>\n')
            continue
        element = stroke_element(stroke, line_width=line_width)
        if element:
            parts.append(element.replace("%", "%%"))
    parts.append(_FOOTER)
    return "".join(parts) % tuple(values.ravel().tolist())


def stroke_element(stroke: Stroke, *, line_width: float = 1.0) -> str:
    """One ``<polyline>`` or ``<path>`` for ``stroke``; '' when it has no finite inked vertex."""
    xy = np.asarray(stroke.xy, dtype=np.float64).reshape(-1, 2)
    weight = None if stroke.weight is None else np.asarray(stroke.weight, dtype=np.float64).reshape(-1)
    inked = np.all(np.isfinite(xy), axis=1)
    if weight is not None:
        inked &= weight > GAP_WEIGHT
    attrs = f'class="{stroke.kind}"'
    if weight is not None and inked.any() and not np.all(weight == 1.0):
        attrs += f' stroke-width="{_num(line_width * float(weight[inked].mean()))}"'
    if inked.all():
        return f'<polyline {attrs} points="{_points(xy, ",", " ")}"/>\n'
    runs = _runs(inked)
    if not runs:
        return ""
    subpaths = []
    for start, stop in runs:
        run = xy[start:stop] if stop - start > 1 else np.repeat(xy[start:stop], 2, axis=0)
        subpaths.append("M" + _points(run, " ", " L"))
    return f'<path {attrs} d="{" ".join(subpaths)}"/>\n'


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of the True runs of a (N,) bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _points(xy: np.ndarray, inner: str, outer: str) -> str:
    # one C-level format call for the whole array: ~20x faster than a per-vertex f-string
    fmt = outer.join([f"%.3f{inner}%.3f"] * len(xy))
    return fmt % tuple(xy.ravel().tolist())


def _num(value: float) -> str:
    return f"{value:.4g}"
