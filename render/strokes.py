"""Strokes and drawings: the vector output of the line extractors.

A ``Stroke`` is a polyline of one line type; every vertex carries its 2D position, depth, 3D point and
face index, so any pixel of a drawing can be traced back to the surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sketchgen.render.camera import Camera

LINE_TYPES = ("contour", "boundary", "crease", "suggestive")
DEFAULT_LINES = ("contour", "boundary", "crease")  # what every front-end draws unless told otherwise


@dataclass(frozen=True)
class Stroke:
    """One polyline.

    xy: (N, 2) float64 pixels (origin top-left corner, y down).
    depth: (N,) float64 depth along the view axis.
    points: (N, 3) float64 world coordinates on the surface.
    faces: (N,) int64 index of the face each vertex lies on (an adjacent face for edge points).
    kind: one of LINE_TYPES.
    weight: (N,) float64 in [0, 1], stroke opacity/width factor (suggestive contours fade), 1 otherwise.
    offset: (N, 2) float64 pixels, what a style moved each vertex by (``xy`` minus the exact projection
        of ``points``); None means zeros (a clean stroke).
    source: index of the stroke of the unstyled drawing that this one draws (the whole of it, a piece
        of it, or a retrace of it); -1 for strokes no style has processed.
    retrace: True for an extra pass a style drew over a stroke already in the drawing, off its line by
        ``offset``; points displaced with the style lie on the strokes with ``retrace`` False.
    """

    xy: np.ndarray
    depth: np.ndarray
    points: np.ndarray
    faces: np.ndarray
    kind: str
    weight: np.ndarray | None = None
    offset: np.ndarray | None = None
    source: int = -1
    retrace: bool = False

    def __len__(self) -> int:
        return len(self.xy)


@dataclass(frozen=True)
class Drawing:
    """The strokes of one mesh seen by one camera, after hidden-line removal."""

    camera: Camera
    strokes: list[Stroke] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[Stroke]:
        return [s for s in self.strokes if s.kind == kind]
