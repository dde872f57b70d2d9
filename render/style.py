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

from sketchgen.render.strokes import Drawing, Stroke

STYLES = ("clean", "sketchy")
MAX_GAPS = 8  # per stroke


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
        """A new Drawing whose strokes are resampled, overshot, pressure-weighted, gapped and wobbled.

        All strokes are processed together in concatenated arrays (a drawing has tens of strokes and
        per-stroke numpy calls would cost more than the arithmetic).
        """
        cfg = self.config
        strokes = [s for s in drawing.strokes if len(s) > 0]
        if not strokes:
            return Drawing(camera=drawing.camera, strokes=[])
        n_strokes = len(strokes)
        rng = np.random.default_rng(self._stroke_seed)
        # a fixed number of draws per stroke, whatever its shape: one stroke's length never shifts the
        # choices made for another
        over = rng.uniform(*cfg.overshoot_px, size=(n_strokes, 2))
        phase = rng.uniform(0.0, 2.0 * np.pi, size=n_strokes)
        gap_u = rng.uniform(size=(n_strokes, MAX_GAPS))
        gap_len = self.line_width + rng.uniform(*cfg.gap_px, size=(n_strokes, MAX_GAPS))
        n_gaps_u = rng.uniform(size=n_strokes)

        v = _subdivide(_concatenate(strokes), cfg.spacing_px)
        v, fade = _overshoot(v, over, cfg.spacing_px)
        arc, total = _arc_lengths(v)

        lo, hi = cfg.pressure
        wave = np.sin(2.0 * np.pi * arc / cfg.pressure_wavelength_px + phase[v.sid])
        weight = v.weight * (lo + (hi - lo) * (0.5 + 0.5 * wave)) * fade

        # Poisson number of gaps per stroke, by inversion of one uniform each
        expected = total / cfg.gap_every_px if cfg.gap_every_px > 0 else np.zeros(n_strokes)
        n_gaps = (np.cumsum(_poisson_pmf(expected, MAX_GAPS), axis=1) < n_gaps_u[:, None]).sum(axis=1)
        valid = (np.arange(MAX_GAPS)[None, :] < n_gaps[:, None])
        valid &= np.logical_and.accumulate(total[:, None] >= 4.0 * gap_len, axis=1)
        gap_start = gap_len + gap_u * (total[:, None] - 3.0 * gap_len)
        rel = arc[:, None] - gap_start[v.sid]
        in_gap = ((rel >= 0.0) & (rel <= gap_len[v.sid]) & valid[v.sid]).any(axis=1)
        weight[in_gap] = 0.0

        xy = self.displace(v.xy)
        cut = v.starts[1:]
        parts = zip(np.split(xy, cut), np.split(v.depth, cut), np.split(v.points, cut), np.split(v.faces, cut),
                    np.split(weight, cut))
        return Drawing(camera=drawing.camera, strokes=[
            Stroke(xy=a, depth=b, points=c, faces=d, kind=stroke.kind, weight=e)
            for stroke, (a, b, c, d, e) in zip(strokes, parts)])


@dataclass(frozen=True)
class _Vertices:
    """The vertices of several strokes, concatenated. sid: (V,) int64 stroke of each vertex; starts:
    (S,) int64 index of each stroke's first vertex (strokes are contiguous, in order, non-empty)."""

    xy: np.ndarray
    depth: np.ndarray
    points: np.ndarray
    faces: np.ndarray
    weight: np.ndarray
    sid: np.ndarray
    starts: np.ndarray

    @property
    def ends(self) -> np.ndarray:
        """(S,) int64 index of each stroke's last vertex."""
        return np.append(self.starts[1:], len(self.sid)) - 1

    def take(self, index: np.ndarray, t: np.ndarray | None = None, to: np.ndarray | None = None) -> "_Vertices":
        """Vertices ``index`` (or, with ``t``, the points a fraction ``t`` of the way to vertices ``to``)
        with faces and strokes of ``index``; ``starts`` is left for the caller to set."""
        def lerp(values):
            if t is None:
                return values[index]
            tt = t.reshape((-1,) + (1,) * (values.ndim - 1))
            return values[index] + tt * (values[to] - values[index])

        return _Vertices(lerp(self.xy), lerp(self.depth), lerp(self.points), self.faces[index],
                         lerp(self.weight), self.sid[index], self.starts)


def _concatenate(strokes: list[Stroke]) -> _Vertices:
    counts = np.array([len(s) for s in strokes], dtype=np.int64)
    weight = np.concatenate([np.ones(len(s)) if s.weight is None else np.asarray(s.weight, np.float64)
                             for s in strokes])
    return _Vertices(
        xy=np.concatenate([np.asarray(s.xy, np.float64).reshape(-1, 2) for s in strokes]),
        depth=np.concatenate([np.asarray(s.depth, np.float64).reshape(-1) for s in strokes]),
        points=np.concatenate([np.asarray(s.points, np.float64).reshape(-1, 3) for s in strokes]),
        faces=np.concatenate([np.asarray(s.faces, np.int64).reshape(-1) for s in strokes]),
        weight=weight, sid=np.repeat(np.arange(len(strokes)), counts),
        starts=np.cumsum(counts) - counts)


def _subdivide(v: _Vertices, spacing: float) -> _Vertices:
    """Insert vertices so that no segment is longer than ``spacing``; original vertices are kept,
    new ones interpolate xy, depth, 3D point and weight linearly and take the segment's first face."""
    nxt = np.arange(1, len(v.sid) + 1)
    ends = v.ends
    nxt[ends] = ends  # a stroke's last vertex pairs with itself: one piece, itself
    seglen = np.nan_to_num(np.hypot(*(v.xy[nxt] - v.xy).T), nan=0.0)
    pieces = np.maximum(np.ceil(seglen / spacing), 1).astype(np.int64)
    if np.all(pieces == 1):
        return v
    src = np.repeat(np.arange(len(pieces)), pieces)
    t = (np.arange(len(src)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / pieces[src]
    out = v.take(src, t, nxt[src])
    counts = np.bincount(out.sid, minlength=len(v.starts))
    return replace(out, starts=np.cumsum(counts) - counts)


def _arc_lengths(v: _Vertices) -> tuple[np.ndarray, np.ndarray]:
    """(V,) arc length of each vertex from its stroke's start and (S,) length of each stroke, pixels."""
    step = np.hypot(*np.diff(v.xy, axis=0).T) if len(v.xy) > 1 else np.zeros(0)
    step = np.where(v.sid[1:] == v.sid[:-1], np.nan_to_num(step, nan=0.0), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(step)])
    arc = cum - cum[v.starts][v.sid]
    return arc, arc[v.ends]


def _overshoot(v: _Vertices, lengths: np.ndarray, spacing: float) -> tuple[_Vertices, np.ndarray]:
    """Extend both ends of every open stroke along its end tangent (taken over the last ~3 px) by
    ``lengths`` (S, 2) pixels (start, end), with vertices every ``spacing`` pixels.

    The new vertices repeat their end vertex's depth, 3D point, face and weight (they lie off the
    surface). Returns the vertices and a (V,) taper factor: 1 on the stroke, falling to 1/3 at the tips.
    """
    starts, ends = v.starts, v.ends
    n = ends - starts + 1
    closed = (n > 2) & np.all(np.abs(v.xy[starts] - v.xy[ends]) <= 1e-6, axis=1)
    arc, length = _arc_lengths(v)
    # the vertex ~3 px in from each end, found by one search in a key that increases through all
    # strokes: the arc length plus the lengths of the strokes before, plus a 10 px spacer per stroke
    key = arc + (np.cumsum(length + 10.0) - (length + 10.0))[v.sid]
    far_start = np.clip(np.searchsorted(key, key[starts] + 3.0), starts + 1, ends)
    far_end = np.clip(np.searchsorted(key, key[ends] - 3.0, side="right") - 1, starts, ends - 1)
    tips = np.stack([starts, ends], axis=1)  # (S, 2)
    fars = np.stack([far_start, far_end], axis=1)
    direction = v.xy[tips] - v.xy[fars]  # (S, 2, 2), pointing out of the stroke
    norm = np.hypot(direction[..., 0], direction[..., 1])
    ok = (n[:, None] > 1) & ~closed[:, None] & np.isfinite(norm) & (norm > 1e-9)
    steps = np.where(ok, np.maximum(np.ceil(lengths / spacing), 1), 0).astype(np.int64)  # (S, 2)
    unit = direction / np.where(ok, norm, 1.0)[..., None]

    before, after = steps[:, 0], steps[:, 1]
    new_counts = before + n + after
    new_starts = np.cumsum(new_counts) - new_counts
    n_out = int(new_counts.sum())
    source = np.empty(n_out, dtype=np.int64)  # the original vertex each new vertex copies
    offset = np.zeros((n_out, 2))  # and its displacement from it
    fade = np.ones(n_out)

    body = new_starts[v.sid] + before[v.sid] + (np.arange(len(v.sid)) - starts[v.sid])
    source[body] = np.arange(len(v.sid))
    for end, count in ((0, before), (1, after)):
        sid = np.repeat(np.arange(len(starts)), count)
        j = (np.arange(len(sid)) - np.repeat(np.cumsum(count) - count, count) + 1).astype(np.float64)
        frac = j / np.maximum(count[sid], 1)
        if end == 0:  # farthest first
            pos = new_starts[sid] + (before[sid] - j.astype(np.int64))
        else:
            pos = new_starts[sid] + before[sid] + n[sid] + j.astype(np.int64) - 1
        source[pos] = tips[sid, end]
        offset[pos] = (frac * lengths[sid, end])[:, None] * unit[sid, end]
        fade[pos] = 1.0 - (1.0 - 1.0 / 3.0) * frac

    out = v.take(source)
    out = replace(out, xy=out.xy + offset, starts=new_starts)
    return out, fade


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


def _poisson_pmf(mean: np.ndarray, n: int) -> np.ndarray:
    """(S, n) Poisson probabilities of 0..n-1 events for each of the (S,) means."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    k = np.arange(n)[None, :]
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n)))])[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf = np.exp(k * np.log(mean) - mean - log_fact)
    return np.where(mean > 0, pmf, (k == 0).astype(np.float64))
