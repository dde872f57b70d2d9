"""Negatives of a triplet's positive: which stroke points a descriptor must learn to tell from it.

Pure selection over candidate points already measured (pixel position in the positive's base view,
surface distance from the positive point, part label), so the builder (``datagen.triplets``) only has
to gather candidates and draw the chosen ones. The kinds:

- ``near``: a stroke point ``near_px[0]``..``near_px[1]`` base-view pixels from the positive, at least
  ``near_surface`` from it on the surface: the stroke a few pixels to a few tens of pixels away that a
  matcher confuses the positive with (the pair-point training route's near negatives, 8-48 px of a
  256 px drawing, which is 16-96 px of the builder's 512 px base view);
- ``hard``: a stroke point within ``hard_px`` of the positive in the image, yet at least
  ``min_distance`` away on the surface (another part seen close by);
- ``same-part``: a point of the positive's part, among the farthest quarter (on the surface) of that
  part's candidates at least ``min_distance`` away;
- ``random``: any candidate at least ``min_distance`` away on the surface;
- ``other-shape``: a stroke point of another shape of the category drawn from the positive's camera, at
  least ``min_distance`` on that shape's surface from the anchor's correspondence there.

A kind with no candidate falls back to ``random`` (the returned kind says which one was used). Surface
distances are in the collection's unit-sphere frame (``datagen.triplets.SurfaceDistance``), pixel
distances in the base view's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.named import parse_named

NEGATIVE_KINDS = ("near", "hard", "same-part", "random", "other-shape")


@dataclass(frozen=True)
class NegativeRules:
    """Distances that define the kinds (module docstring). Pixels are base-view pixels; surface
    distances are in the unit-sphere frame."""

    min_distance: float = 0.15
    hard_px: float = 48.0
    near_px: tuple[float, float] = (16.0, 96.0)
    near_surface: float = 0.05


@dataclass(frozen=True)
class Candidates:
    """Stroke points of one drawing that may become negatives, measured from a reference point.

    xy: (N, 2) float64 base-view pixels; surface: (N,) float64 surface distance from the reference
    point; labels: (N,) int part labels; ref_xy: (2,) the reference point's pixel position; ref_label:
    its part label. For the positive's drawing the reference is the positive; for another shape's, the
    anchor's correspondence on that shape.
    """

    xy: np.ndarray
    surface: np.ndarray
    labels: np.ndarray
    ref_xy: np.ndarray
    ref_label: int

    def pixel_distance(self) -> np.ndarray:
        return np.linalg.norm(np.asarray(self.xy, np.float64) - np.asarray(self.ref_xy, np.float64), axis=1)


@dataclass(frozen=True)
class Negative:
    """One chosen negative: its kind (as used, after any fallback), the drawing it comes from ("positive"
    or "other"), its index among that drawing's candidates, and its pixel and surface distance from the
    reference point."""

    kind: str
    source: str
    index: int
    pixel_distance: float
    surface_distance: float


def parse_counts(text: str) -> tuple[tuple[str, int], ...]:
    """``"near:4,other-shape:1"`` -> (("near", 4), ("other-shape", 1)); a bare kind counts 1; "" -> ().
    Raises ValueError naming a bad kind or count."""
    out = parse_named(text, NEGATIVE_KINDS, what="negative kind", cast=int)
    for kind, n in out:
        if n < 1:
            raise ValueError(f"negative count of {kind} must be at least 1, got {n}")
    return tuple(out)


def _pool(kind: str, cand: Candidates, rules: NegativeRules) -> np.ndarray:
    """Indices of the candidates of ``kind`` (not other-shape: that is a choice of drawing)."""
    surface = np.asarray(cand.surface, np.float64)
    far = surface >= rules.min_distance
    if kind == "near":
        px = cand.pixel_distance()
        return np.flatnonzero((px >= rules.near_px[0]) & (px <= rules.near_px[1]) & (surface >= rules.near_surface))
    if kind == "hard":
        return np.flatnonzero(far & (cand.pixel_distance() <= rules.hard_px))
    if kind == "same-part":
        same = far & (np.asarray(cand.labels) == cand.ref_label)
        if not same.any():
            return np.zeros(0, np.int64)
        return np.flatnonzero(same & (surface >= np.quantile(surface[same], 0.75)))
    return np.flatnonzero(far)


def choose_negatives(counts, positive: Candidates, rng: np.random.Generator, rules: NegativeRules = NegativeRules(),
                     other: Candidates | None = None) -> list[Negative] | None:
    """``counts`` ((kind, n), ...) negatives, in that order, from the positive's drawing (``positive``)
    or, for ``other-shape``, from another shape's (``other``; the positive's when there is none).

    Several negatives of one kind are distinct candidates while there are enough of them. A kind without
    candidates falls back to ``random`` on the same drawing. Returns None when even that has none (no
    candidate is ``min_distance`` away on the surface). Draws from ``rng`` only.
    """
    out: list[Negative] = []
    for kind, n in counts:
        source, cand, used = "positive", positive, kind
        if kind == "other-shape":
            if other is not None and len(other.xy):
                source, cand = "other", other
            used = "random"
        pool = _pool(used, cand, rules)
        if len(pool) == 0 and used != "random":
            used, pool = "random", _pool("random", cand, rules)
        if len(pool) == 0:
            return None
        if kind == "other-shape" and source == "other":
            used = "other-shape"
        pick = rng.choice(pool, n, replace=len(pool) < n)
        px = cand.pixel_distance()
        out += [Negative(used, source, int(i), float(px[i]), float(cand.surface[i])) for i in pick]
    return out
