"""Stroke styles: ``clean`` (strokes as extracted) and ``sketchy`` (strokes that look drawn by hand).

The sketchy style has four ingredients, all drawn from one explicit ``np.random.Generator``:

- wobble: a smooth 2D displacement field over the image (a sum of a few long sine waves), applied to
  every stroke vertex. The same field is ``SketchyStyle.displace(xy)``, so points projected into the
  view move with the strokes: a point lying on a stroke before styling lies on the styled stroke
  after (to within the field's bending of one ``spacing_px`` segment, under 0.01 px by default).
  Its magnitude is bounded: ``|displace(xy) - xy| <= wobble_px`` everywhere.
- pressure: the stroke weight (a width factor for ``render.raster``) varies slowly along each stroke.
- overshoot: open strokes run on past their ends along their end tangents, tapering.
- gaps: short stretches of a stroke get weight 0 (no ink; the geometry stays, so correspondences do).

Lengths are in pixels of the image being drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from render.strokes import Drawing, Stroke

STYLES = ("clean", "sketchy")


@dataclass(frozen=True)
class SketchyConfig:
    """Parameters of the sketchy style (pixels)."""

    wobble_px: float = 2.0  # bound on the displacement field's magnitude
    wobble_waves: int = 6
    wobble_wavelength_px: tuple[float, float] = (70.0, 200.0)
    pressure: tuple[float, float] = (0.6, 1.0)  # weight range along a stroke
    pressure_wavelength_px: float = 45.0
    overshoot_px: tuple[float, float] = (0.5, 3.5)
    gap_every_px: float = 90.0  # mean stroke length between gaps
    gap_px: tuple[float, float] = (1.0, 2.5)  # gap length beyond the line width
    spacing_px: float = 1.5  # longest segment after styling, so the field bends strokes smoothly


class CleanStyle:
    """The identity style: strokes and points as projected."""

    def apply(self, drawing: Drawing) -> Drawing:
        return drawing

    def displace(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) float64 pixels, unchanged."""
        return np.asarray(xy, dtype=np.float64).reshape(-1, 2).copy()


class SketchyStyle:
    """Hand-drawn look, fixed by ``rng`` at construction: the same generator state gives the same
    field and the same per-stroke choices, and ``apply`` may be called any number of times."""

    def __init__(self, rng: np.random.Generator, config: SketchyConfig = SketchyConfig(), *,
                 line_width: float = 1.0):
        self.config = config
        self.line_width = float(line_width)
        n = max(int(config.wobble_waves), 0)
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        wavelength = rng.uniform(*config.wobble_wavelength_px, size=n)
        self._freq = np.stack([np.cos(angle), np.sin(angle)], axis=1) * (2.0 * np.pi / wavelength)[:, None]
        self._phase = rng.uniform(0.0, 2.0 * np.pi, size=n)
        direction = rng.uniform(0.0, 2.0 * np.pi, size=n)
        weights = rng.uniform(0.5, 1.0, size=n)
        # amplitudes summing to wobble_px make it a hard bound on the displacement
        amplitude = config.wobble_px * weights / max(weights.sum(), 1e-12)
        self._amp = np.stack([np.cos(direction), np.sin(direction)], axis=1) * amplitude[:, None]
        self._stroke_seed = int(rng.integers(0, 2**63 - 1))

    @property
    def max_displacement(self) -> float:
        """Upper bound of ``|displace(xy) - xy|`` in pixels."""
        return float(np.abs(np.hypot(*self._amp.T)).sum())

    def displace(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) float64 pixels -> (N, 2) float64 pixels moved by the wobble field."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return xy + np.sin(xy @ self._freq.T + self._phase) @ self._amp

    def apply(self, drawing: Drawing) -> Drawing:
        """A new Drawing whose strokes are resampled, overshot, pressure-weighted, gapped and wobbled."""
        rng = np.random.default_rng(self._stroke_seed)
        strokes = [self._style_stroke(s, rng) for s in drawing.strokes if len(s) > 0]
        return Drawing(camera=drawing.camera, strokes=strokes)

    # ------------------------------------------------------------------ per stroke
    def _style_stroke(self, stroke: Stroke, rng: np.random.Generator) -> Stroke:
        cfg = self.config
        # draw every random number a stroke may use, whatever its shape, so that one stroke's length
        # does not shift the choices made for the next
        over = rng.uniform(*cfg.overshoot_px, size=2)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        gap_u = rng.uniform(size=8)
        gap_len = self.line_width + rng.uniform(*cfg.gap_px, size=8)
        n_gaps_u = rng.uniform()

        s = _subdivide(stroke, cfg.spacing_px)
        xy = np.asarray(s.xy, dtype=np.float64)
        weight = np.ones(len(xy)) if s.weight is None else np.asarray(s.weight, dtype=np.float64).copy()
        closed = len(xy) > 2 and np.allclose(xy[0], xy[-1], atol=1e-6)
        fade = np.ones(len(xy))
        if not closed and len(xy) > 1:
            s, fade = _overshoot(s, over, cfg.spacing_px)
            xy = np.asarray(s.xy, dtype=np.float64)
            weight = np.ones(len(xy)) if s.weight is None else np.asarray(s.weight, dtype=np.float64).copy()

        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        lo, hi = cfg.pressure
        pressure = lo + (hi - lo) * (0.5 + 0.5 * np.sin(2.0 * np.pi * arc / cfg.pressure_wavelength_px + phase))
        weight = weight * pressure * fade

        total = arc[-1]
        # Poisson number of gaps by inversion of one uniform: keeps the draws per stroke fixed
        expected = total / cfg.gap_every_px if cfg.gap_every_px > 0 else 0.0
        n_gaps = int(np.searchsorted(np.cumsum(_poisson_pmf(expected, len(gap_u))), n_gaps_u))
        for k in range(min(n_gaps, len(gap_u))):
            if total < 4.0 * gap_len[k]:
                break
            start = gap_len[k] + gap_u[k] * (total - 3.0 * gap_len[k])
            weight[(arc >= start) & (arc <= start + gap_len[k])] = 0.0

        return replace(s, xy=self.displace(xy), weight=weight)


def make_style(name: str, rng: np.random.Generator | None = None, *, line_width: float = 1.0,
               config: SketchyConfig = SketchyConfig()):
    """The style called ``name`` (one of STYLES); ``sketchy`` needs ``rng``."""
    if name == "clean":
        return CleanStyle()
    if name == "sketchy":
        if rng is None:
            raise ValueError("the sketchy style needs an np.random.Generator")
        return SketchyStyle(rng, config, line_width=line_width)
    raise ValueError(f"unknown style {name!r}; expected one of {', '.join(STYLES)}")


def _subdivide(stroke: Stroke, spacing: float) -> Stroke:
    """Insert vertices so that no segment is longer than ``spacing``; original vertices are kept,
    the new ones interpolate xy, depth, 3D point and weight linearly and take the segment's first face."""
    xy = np.asarray(stroke.xy, dtype=np.float64)
    if len(xy) < 2:
        return stroke
    seglen = np.hypot(*np.diff(xy, axis=0).T)
    pieces = np.maximum(np.ceil(np.nan_to_num(seglen, nan=0.0) / spacing), 1).astype(np.int64)
    if np.all(pieces == 1):
        return stroke
    seg = np.repeat(np.arange(len(seglen)), pieces)
    t = (np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / pieces[seg]
    seg = np.append(seg, len(seglen) - 1)
    t = np.append(t, 1.0)

    def lerp(values):
        v = np.asarray(values, dtype=np.float64)
        tt = t.reshape((-1,) + (1,) * (v.ndim - 1))
        return v[seg] + tt * (v[seg + 1] - v[seg])

    first_face = np.asarray(stroke.faces)[seg]
    first_face[-1] = np.asarray(stroke.faces)[-1]
    return Stroke(xy=lerp(xy), depth=lerp(stroke.depth), points=lerp(stroke.points), faces=first_face,
                  kind=stroke.kind, weight=None if stroke.weight is None else lerp(stroke.weight))


def _overshoot(stroke: Stroke, lengths: np.ndarray, spacing: float) -> tuple[Stroke, np.ndarray]:
    """Extend both ends of an open stroke along its end tangents by ``lengths`` (2,) pixels.

    The new vertices repeat the end vertex's depth, 3D point, face and weight (they lie off the
    surface). Returns the stroke and a (N,) taper factor, 1 on the original vertices.
    """
    xy = np.asarray(stroke.xy, dtype=np.float64)
    heads = []
    for end, length in ((0, lengths[0]), (-1, lengths[1])):
        inner = xy[1:] if end == 0 else xy[-2::-1]
        tip = xy[end]
        # the tangent over the last ~3 px, not the last tiny segment
        dist = np.hypot(*(inner - tip).T)
        far = inner[min(int(np.searchsorted(dist, 3.0)), len(inner) - 1)]
        direction = tip - far
        norm = np.hypot(*direction)
        if not np.isfinite(norm) or norm < 1e-9:
            heads.append(np.zeros((0, 2)))
            continue
        steps = max(int(np.ceil(length / spacing)), 1)
        heads.append(tip + np.outer(np.arange(1, steps + 1) / steps * length, direction / norm))
    before, after = heads[0][::-1], heads[1]
    nb, na = len(before), len(after)

    def pad(values):
        v = np.asarray(values)
        return np.concatenate([np.repeat(v[:1], nb, axis=0), v, np.repeat(v[-1:], na, axis=0)])

    # the overshoot fades from full pressure at the real end to a third at its tip
    fade = np.concatenate([np.linspace(0.33, 1.0, nb + 1)[:-1], np.ones(len(xy)), np.linspace(1.0, 0.33, na + 1)[1:]])
    out = Stroke(xy=np.concatenate([before, xy, after]), depth=pad(stroke.depth), points=pad(stroke.points),
                 faces=pad(stroke.faces), kind=stroke.kind,
                 weight=None if stroke.weight is None else pad(stroke.weight))
    return out, fade


def _poisson_pmf(mean: float, n: int) -> np.ndarray:
    """(n,) Poisson probabilities of 0..n-1 events."""
    k = np.arange(n)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n)))])
    with np.errstate(divide="ignore"):
        return np.exp(k * np.log(mean) - mean - log_fact) if mean > 0 else (k == 0).astype(np.float64)
