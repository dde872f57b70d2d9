"""Stroke styles: ``clean`` (strokes as extracted) and the ``sketchy`` family (strokes drawn as a person
draws them).

People who sketch an object (the Sketchy and PSC6k photo sketches, designers' concept sketches) draw
over some lines twice, slightly off the first pass; draw long lines as several shorter, overlapping
strokes; leave small gaps; skip tiny details; vary the pen pressure; run past corners; and their lines
wander slowly. The sketchy style does each of these, every choice drawn from one explicit
``np.random.Generator``:

- wobble: a smooth 2D displacement field over the image (a sum of a few long sine waves), applied to
  every stroke vertex. The same field is ``SketchyStyle.displace(xy)``, so points projected into the
  view (correspondences, keypoints, flow) move with the strokes: a point lying on a stroke before
  styling lies on that stroke's styled pieces (``Stroke.retrace`` False) after, to within the field's
  bending of one ``spacing_px`` segment (under 0.01 px by default), unless the stroke was dropped or
  the point falls in a gap; points passed to ``apply(drawing, keep=...)`` are spared both. Its magnitude is bounded: ``|displace(xy) - xy| <= wobble_px`` everywhere.
- pressure: the stroke weight (a width factor for ``render.raster``) varies slowly along each stroke
  and tapers where a pen lands and lifts.
- overshoot: open strokes run on past their ends along their end tangents, tapering.
- gaps: short stretches of a stroke get weight 0 (no ink; the geometry stays, so correspondences do).
- dropped short strokes: strokes shorter than ``drop_below_px`` are left out with probability
  ``drop_prob`` (a person skips tiny details; points on them have no ink to land on), unless both their
  ends meet other strokes (then they are a fragment of a longer line, which a person would draw).
- pieces: a long stroke is drawn as several strokes that overlap at each seam; each piece leaves the
  line over its own half of the overlap (its free end lands or lifts a little off the line), so at
  every arc length at least one piece lies exactly on the line.
- retraces: with probability ``retrace_prob`` a piece is drawn again over part of its length, lighter
  than the first pass (``Stroke.retrace`` True): its ends lie up to a couple of pixels to either side of
  the line, so it runs beside the line or crosses it at a slight angle, and it wanders slowly.

Every output vertex keeps the 3D point, depth and face of the surface point it draws, and its
``Stroke.offset`` is exactly ``xy - camera.world_to_pixels(points)``: the style's whole displacement.
Vertices inserted between two extracted vertices get the surface point that projects to their
undisplaced position (perspective-correct interpolation). Overshoot vertices run off the surface: they
keep the point, depth and face of the stroke's end vertex, and their offset is what takes that end
point's projection to where the overshoot is drawn (so it includes the overshoot length).

Named variants (``STYLES``): ``sketchy`` (the defaults of ``SketchyConfig``), ``sketchy-light`` (a
careful drawer: little wobble, few retraces) and ``sketchy-heavy`` (a loose drawer). Lengths are in
pixels of the image being drawn; ranges ``(lo, hi)`` are drawn uniformly per stroke (or per image, for
the field).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sketchgen.render.strokes import Drawing, Stroke

MAX_GAPS = 8  # per stroke
MAX_PIECES = 6  # a long stroke is drawn in at most this many pieces


@dataclass(frozen=True)
class SketchyConfig:
    """Parameters of the sketchy style; lengths in pixels, ``(lo, hi)`` ranges drawn uniformly.

    wobble_px: bound on the displacement field's magnitude. wobble_waves: sine waves summed in the
        field. wobble_wavelength_px: their wavelengths.
    pressure: weight range along a stroke. pressure_wavelength_px: wavelength of its variation.
    overshoot_px: how far an open stroke runs past each end.
    gap_every_px: mean stroke length between gaps (Poisson, at most MAX_GAPS a stroke; 0: no gaps).
        gap_px: gap length beyond the line width.
    drop_below_px: strokes shorter than this are dropped with probability drop_prob, unless both their
        ends lie within join_px of another stroke's end.
    retrace_prob: probability that a piece of a stroke (see split_px) at least retrace_min_px long is
        drawn again.
        retrace_offset_px: sideways distance of the retrace from the line at each of its ends (either
        side, independently; linear between, so it runs beside the line or crosses it).
        retrace_wander_px: amplitude of its own slow sideways wander, of wavelength
        retrace_wavelength_px. retrace_cover: fraction of the piece's length the retrace covers.
        retrace_weight: its weight relative to the first pass. retrace_taper_px: see tip_weight.
    split_px: length of the pieces a long stroke is drawn in (a stroke shorter than this is one piece).
        split_overlap_px: how far each piece runs past a seam. split_drift_px: how far off the line a
        piece's free end lands.
    tip_weight: weight at a stroke's tips (overshoot ends, piece ends, retrace ends), rising linearly
        to full over the overshoot, the overlap or retrace_taper_px.
    spacing_px: longest segment after styling, so the field bends strokes smoothly.
    """

    wobble_px: float = 2.0
    wobble_waves: int = 6
    wobble_wavelength_px: tuple[float, float] = (70.0, 200.0)
    pressure: tuple[float, float] = (0.6, 1.0)
    pressure_wavelength_px: float = 45.0
    overshoot_px: tuple[float, float] = (0.5, 3.5)
    gap_every_px: float = 200.0
    gap_px: tuple[float, float] = (1.0, 2.5)
    drop_below_px: float = 3.0
    drop_prob: float = 0.4
    join_px: float = 1.5
    retrace_prob: float = 0.3
    retrace_min_px: float = 15.0
    retrace_offset_px: tuple[float, float] = (0.7, 1.8)
    retrace_wander_px: float = 0.6
    retrace_wavelength_px: tuple[float, float] = (40.0, 120.0)
    retrace_cover: tuple[float, float] = (0.5, 1.0)
    retrace_weight: tuple[float, float] = (0.5, 0.85)
    retrace_taper_px: float = 6.0
    split_px: tuple[float, float] = (70.0, 160.0)
    split_overlap_px: tuple[float, float] = (3.0, 8.0)
    split_drift_px: tuple[float, float] = (0.5, 1.5)
    tip_weight: float = 1.0 / 3.0
    spacing_px: float = 1.5

    @property
    def reach_px(self) -> float:
        """Upper bound of how far the style draws any ink from its stroke's clean polyline: wobble plus
        the largest of overshoot, piece drift and retrace offset plus wander."""
        return self.wobble_px + max(self.overshoot_px[1], self.split_drift_px[1],
                                    self.retrace_offset_px[1] + self.retrace_wander_px)


SKETCHY_CONFIGS = {
    "sketchy": SketchyConfig(),
    "sketchy-light": SketchyConfig(
        wobble_px=1.2, pressure=(0.75, 1.0), overshoot_px=(0.3, 2.0), gap_every_px=400.0, drop_prob=0.2,
        retrace_prob=0.12, retrace_offset_px=(0.5, 1.2), retrace_wander_px=0.4, split_px=(110.0, 220.0),
        split_drift_px=(0.3, 1.0)),
    "sketchy-heavy": SketchyConfig(
        wobble_px=3.0, pressure=(0.45, 1.0), overshoot_px=(1.0, 6.0), gap_every_px=120.0, drop_prob=0.6,
        drop_below_px=4.0, retrace_prob=0.6, retrace_offset_px=(1.0, 2.6), retrace_wander_px=0.9,
        retrace_cover=(0.6, 1.0), split_px=(45.0, 110.0), split_overlap_px=(4.0, 10.0),
        split_drift_px=(0.8, 2.2)),
}
STYLES = ("clean",) + tuple(SKETCHY_CONFIGS)

# per-stroke uniform draws, by name and count: one row of the same width for every stroke, so one
# stroke's shape never shifts the choices made for another
_DRAWS = {"overshoot": 2, "phase": 1, "gap_at": MAX_GAPS, "gap_len": MAX_GAPS, "gap_count": 1, "drop": 1,
          "retrace": MAX_PIECES, "retrace_at": MAX_PIECES, "retrace_cover": MAX_PIECES,
          "retrace_offset": 2 * MAX_PIECES, "retrace_side": 2 * MAX_PIECES, "retrace_wave": 2 * MAX_PIECES,
          "retrace_weight": MAX_PIECES, "piece_len": 1, "seam": MAX_PIECES - 1,
          "overlap": 2 * (MAX_PIECES - 1), "drift": 2 * (MAX_PIECES - 1), "drift_side": 2 * (MAX_PIECES - 1)}


class CleanStyle:
    """The identity style: strokes and points as projected (``Stroke.offset`` None: zeros)."""

    def apply(self, drawing: Drawing, keep=None) -> Drawing:
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

    def apply(self, drawing: Drawing, keep=None) -> Drawing:
        """A new Drawing: short strokes dropped, the rest resampled, overshot, cut into overlapping
        pieces, some retraced, pressure-weighted, gapped and wobbled (see the module docstring).

        keep: (K, 2) pixel positions (as projected, before styling) whose ink must survive: a stroke
        passing within ``keep_px`` of one is never dropped and gets no gap there, so a correspondence
        stored at such a point (a triplet's zoom centre) lies on ink. The random draws are the same
        with or without ``keep``.

        Output order: for each kept input stroke in order, its pieces from start to end, then their
        retraces. Every output stroke has ``offset``, ``source`` (the input stroke's index in
        ``drawing.strokes``) and ``retrace`` set. All strokes are processed together in concatenated
        arrays (a drawing has tens of strokes and per-stroke numpy calls would cost more than the
        arithmetic).
        """
        cfg = self.config
        camera = drawing.camera
        source = np.array([k for k, s in enumerate(drawing.strokes) if len(s) > 0], dtype=np.int64)
        if len(source) == 0:
            return Drawing(camera=camera, strokes=[])
        rng = np.random.default_rng(self._stroke_seed)
        table = rng.random((int(source.max()) + 1, sum(_DRAWS.values())))[source]
        u = dict(zip(_DRAWS, np.split(table, np.cumsum(list(_DRAWS.values()))[:-1], axis=1)))

        strokes = [drawing.strokes[k] for k in source]
        v = _concatenate(strokes)
        _, length = _arc_lengths(v)
        drop = (length < cfg.drop_below_px) & (u["drop"][:, 0] < cfg.drop_prob)
        # a short stroke joined to other strokes at both ends is a fragment of a longer line (hidden-line
        # removal and chaining cut lines at every visibility change and junction), not a detail
        drop[drop] = _joined_ends(v, np.flatnonzero(drop), cfg.join_px) < 2
        keep_xy = None if keep is None else np.asarray(keep, np.float64).reshape(-1, 2)
        reach = self.keep_px
        if keep_xy is not None and len(keep_xy) and drop.any():
            drop &= ~np.bincount(v.sid, weights=_near(v.xy, keep_xy, reach), minlength=len(drop)).astype(bool)
        keep = ~drop
        if not keep.any():
            return Drawing(camera=camera, strokes=[])
        if not keep.all():
            source, length = source[keep], length[keep]
            strokes = [s for s, k in zip(strokes, keep) if k]
            u = {name: value[keep] for name, value in u.items()}
            v = v.select(keep)

        v = _subdivide(v, cfg.spacing_px, perspective=not camera.is_ortho)
        v, fade, before = _overshoot(v, _between(cfg.overshoot_px, u["overshoot"]), cfg.spacing_px, cfg.tip_weight)
        arc, total = _arc_lengths(v)
        head = arc[v.starts + before]  # arc length where the unstyled stroke begins
        weight = v.weight * fade * self._pressure(arc, u["phase"][v.sid, 0])
        gap = self._in_gap(arc, total, v.sid, u)
        if keep_xy is not None and len(keep_xy) and gap.any():
            gap &= ~_near(v.xy, keep_xy, reach).astype(bool)  # subdivided: gaps end within a vertex spacing
        weight[gap] = 0.0

        pieces, src, oid, first_arc, last_arc = _Pieces.plan(cfg, u, length, head, arc, total, v).gather(
            arc, total, v)
        lateral, factor = pieces.shape(cfg, arc[src], oid, first_arc, last_arc)
        xy = self.displace(v.xy)[src] + lateral[:, None] * _normals(v)[src]
        weight = weight[src] * factor
        points = v.points[src]
        offset = xy - camera.world_to_pixels(points)[0]

        depth, faces = v.depth[src], v.faces[src]
        bounds = np.flatnonzero(np.diff(oid, prepend=-1, append=len(pieces.sid))).tolist()
        return Drawing(camera=camera, strokes=[
            Stroke(xy=xy[a:b], depth=depth[a:b], points=points[a:b], faces=faces[a:b], kind=strokes[s].kind,
                   weight=weight[a:b], offset=offset[a:b], source=int(source[s]), retrace=r)
            for a, b, s, r in zip(bounds[:-1], bounds[1:], pieces.sid.tolist(), pieces.is_retrace.tolist())])

    @property
    def keep_px(self) -> float:
        """Radius (pixels) around a ``keep`` point within which no gap or dropped stroke takes the ink:
        the longest gap plus the line width, so a gap cannot cover the point from either side."""
        return float(self.config.gap_px[1] + 2.0 * self.line_width + self.config.spacing_px)

    def _pressure(self, arc: np.ndarray, phase_u: np.ndarray) -> np.ndarray:
        """(V,) weight factor: a slow sine along each stroke between the ``pressure`` bounds."""
        lo, hi = self.config.pressure
        wave = np.sin(2.0 * np.pi * arc / self.config.pressure_wavelength_px + 2.0 * np.pi * phase_u)
        return lo + (hi - lo) * (0.5 + 0.5 * wave)

    def _in_gap(self, arc, total, sid, u) -> np.ndarray:
        """(V,) bool: vertices in one of their stroke's gaps (a Poisson number, by inversion of one
        uniform each, placed clear of the stroke's ends)."""
        cfg = self.config
        gap_len = self.line_width + _between(cfg.gap_px, u["gap_len"])
        expected = total / cfg.gap_every_px if cfg.gap_every_px > 0 else np.zeros(len(total))
        n_gaps = (np.cumsum(_poisson_pmf(expected, MAX_GAPS), axis=1) < u["gap_count"]).sum(axis=1)
        valid = (np.arange(MAX_GAPS)[None, :] < n_gaps[:, None])
        valid &= np.logical_and.accumulate(total[:, None] >= 4.0 * gap_len, axis=1)
        gap_start = gap_len + u["gap_at"] * (total[:, None] - 3.0 * gap_len)
        rel = arc[:, None] - gap_start[sid]
        return ((rel >= 0.0) & (rel <= gap_len[sid]) & valid[sid]).any(axis=1)


@dataclass(frozen=True)
class _Pieces:
    """The output strokes planned for S styled strokes: up to MAX_PIECES pieces each and up to one
    retrace of each piece, as ranges of arc length on the stroke (all arrays (O,), in output order).

    sid: stroke each output draws; is_retrace: bool; lo, hi: arc range drawn; head_seam, tail_seam: arc
    where the piece's free start / end leaves the line (-inf / inf at a stroke's own ends); head_len,
    tail_len: how far past the seam it runs (the taper length of its tips); head_drift, tail_drift:
    signed sideways distance its tips land off the line; retrace_*: the retrace's signed sideways
    offsets at its start and end (linear between), wander amplitude, wander wavelength and phase, and
    weight factor (0, 0, 0, 1, 0, 1 for pieces).
    """

    sid: np.ndarray
    is_retrace: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    head_seam: np.ndarray
    tail_seam: np.ndarray
    head_len: np.ndarray
    tail_len: np.ndarray
    head_drift: np.ndarray
    tail_drift: np.ndarray
    retrace_start: np.ndarray
    retrace_end: np.ndarray
    retrace_wander: np.ndarray
    retrace_wavelength: np.ndarray
    retrace_phase: np.ndarray
    retrace_weight: np.ndarray

    @classmethod
    def plan(cls, cfg: SketchyConfig, u: dict, length, head, arc, total, v) -> _Pieces:
        """length: (S,) unstyled stroke lengths; head: (S,) arc where each begins after overshoot."""
        n_strokes = len(length)
        slots = 2 * MAX_PIECES  # pieces, then their retraces
        n_pieces = np.clip(np.floor(length / _between(cfg.split_px, u["piece_len"][:, 0])), 1, MAX_PIECES)
        n_pieces = n_pieces.astype(np.int64)
        k = np.arange(1, MAX_PIECES)[None, :]  # seam k joins piece k - 1 and piece k
        seam = head[:, None] + length[:, None] * (k + 0.5 * (u["seam"] - 0.5)) / n_pieces[:, None]
        # a seam lies exactly on a vertex, which both pieces share: the line is drawn up to it by one
        # piece and on from it by the other, so no stretch of it is left to a piece leaving the line
        key, base = _search_key(arc, total, v)
        at = np.clip(np.searchsorted(key, seam + base[:, None]), v.starts[:, None], v.ends[:, None])
        seam = arc[at]
        overlap = _between(cfg.split_overlap_px, u["overlap"]).reshape(n_strokes, MAX_PIECES - 1, 2)
        drift = (_between(cfg.split_drift_px, u["drift"]) * np.where(u["drift_side"] < 0.5, -1.0, 1.0))
        drift = drift.reshape(n_strokes, MAX_PIECES - 1, 2)

        inf = np.full((n_strokes, 1), np.inf)
        piece = np.arange(MAX_PIECES)[None, :]
        inner_head = (piece >= 1) & (piece < n_pieces[:, None])  # pieces starting at a seam
        inner_tail = piece < n_pieces[:, None] - 1  # pieces ending at one
        head_seam = np.where(inner_head, np.concatenate([-inf, seam], axis=1), -np.inf)
        tail_seam = np.where(inner_tail, np.concatenate([seam, inf], axis=1), np.inf)
        zero = np.zeros((n_strokes, 1))
        head_len = np.where(inner_head, np.concatenate([zero, overlap[..., 1]], axis=1), 0.0)
        tail_len = np.where(inner_tail, np.concatenate([overlap[..., 0], zero], axis=1), 0.0)
        head_drift = np.where(inner_head, np.concatenate([zero, drift[..., 1]], axis=1), 0.0)
        tail_drift = np.where(inner_tail, np.concatenate([drift[..., 0], zero], axis=1), 0.0)
        valid = piece < n_pieces[:, None]

        # a person goes over a stretch of line, not a whole long outline: each piece may be retraced,
        # over part of the stretch between its seams
        start = np.concatenate([head[:, None], seam], axis=1)
        stop = (head + length)[:, None]
        end = np.where(piece == n_pieces[:, None] - 1, stop, np.concatenate([seam, stop], axis=1))
        span = end - start
        retrace = valid & (span >= cfg.retrace_min_px) & (u["retrace"] < cfg.retrace_prob)
        cover = _between(cfg.retrace_cover, u["retrace_cover"]) * span
        r_lo = start + u["retrace_at"] * (span - cover)
        # sideways offset at each end, on either side: a second pass runs beside the first, or
        # crosses it at a slight angle
        r_offset = _between(cfg.retrace_offset_px, u["retrace_offset"]) * np.where(u["retrace_side"] < 0.5, -1, 1)

        def slot(pieces_value, retrace_value):
            out = np.empty((n_strokes, slots))
            out[:, :MAX_PIECES] = pieces_value
            out[:, MAX_PIECES:] = retrace_value
            return out

        valid = np.concatenate([valid, retrace], axis=1)
        fields = {
            "lo": slot(head_seam - head_len, r_lo),
            "hi": slot(tail_seam + tail_len, r_lo + cover),
            "head_seam": slot(head_seam, -np.inf), "tail_seam": slot(tail_seam, np.inf),
            "head_len": slot(head_len, cfg.retrace_taper_px), "tail_len": slot(tail_len, cfg.retrace_taper_px),
            "head_drift": slot(head_drift, 0.0), "tail_drift": slot(tail_drift, 0.0),
            "retrace_start": slot(0.0, r_offset[:, 0::2]), "retrace_end": slot(0.0, r_offset[:, 1::2]),
            "retrace_wander": slot(0.0, cfg.retrace_wander_px),
            "retrace_wavelength": slot(1.0, _between(cfg.retrace_wavelength_px, u["retrace_wave"][:, 0::2])),
            "retrace_phase": slot(0.0, 2.0 * np.pi * u["retrace_wave"][:, 1::2]),
            "retrace_weight": slot(1.0, _between(cfg.retrace_weight, u["retrace_weight"])),
        }
        sid = np.broadcast_to(np.arange(n_strokes)[:, None], (n_strokes, slots))
        is_retrace = np.broadcast_to(np.arange(slots)[None, :] >= MAX_PIECES, (n_strokes, slots))
        return cls(sid=sid[valid], is_retrace=is_retrace[valid], **{k: f[valid] for k, f in fields.items()})

    def select(self, mask: np.ndarray) -> _Pieces:
        return _Pieces(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    def gather(self, arc, total, v) -> tuple[_Pieces, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The vertices of each output's arc range: (the outputs of at least two vertices, (V',) index
        of the stroke vertex each output vertex draws, (V',) its output stroke, (O',) arc length of each
        output's first and last vertex)."""
        key, base = _search_key(arc, total, v)
        first = np.clip(np.searchsorted(key, base[self.sid] + self.lo, side="left"),
                        v.starts[self.sid], v.ends[self.sid])
        last = np.clip(np.searchsorted(key, base[self.sid] + self.hi, side="right") - 1,
                       v.starts[self.sid], v.ends[self.sid])
        ok = last > first
        pieces = self if ok.all() else self.select(ok)
        first, last = first[ok], last[ok]
        count = last - first + 1
        oid = np.repeat(np.arange(len(count)), count)
        src = first[oid] + np.arange(len(oid)) - np.repeat(np.cumsum(count) - count, count)
        return pieces, src, oid, arc[first], arc[last]

    def shape(self, cfg: SketchyConfig, a, oid, first_arc, last_arc) -> tuple[np.ndarray, np.ndarray]:
        """(V',) signed sideways displacement (pixels, along the stroke's left normal) and (V',) weight
        factor of each output vertex at arc length ``a`` of output stroke ``oid``; first_arc, last_arc:
        (O,) arc length of each output's tips."""
        head = np.clip((self.head_seam[oid] - a) / np.maximum(self.head_len[oid], 1e-9), 0.0, 1.0)
        tail = np.clip((a - self.tail_seam[oid]) / np.maximum(self.tail_len[oid], 1e-9), 0.0, 1.0)
        # a free end eases off the line (zero slope at the seam), as a pen landing or lifting drifts
        lateral = self.head_drift[oid] * head ** 2 + self.tail_drift[oid] * tail ** 2
        wave = np.sin(2.0 * np.pi * a / self.retrace_wavelength[oid] + self.retrace_phase[oid])
        along = np.clip((a - first_arc[oid]) / np.maximum(last_arc - first_arc, 1e-9)[oid], 0.0, 1.0)
        lateral += self.retrace_start[oid] + along * (self.retrace_end - self.retrace_start)[oid]
        lateral += self.retrace_wander[oid] * wave
        tip = cfg.tip_weight

        def taper(distance, reach):
            return np.where(reach > 0, tip + (1.0 - tip) * np.clip(distance / np.maximum(reach, 1e-9), 0, 1), 1.0)

        factor = (taper(a - first_arc[oid], self.head_len[oid])
                  * taper(last_arc[oid] - a, self.tail_len[oid]) * self.retrace_weight[oid])
        return lateral, factor


def _near(xy: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """(N,) float64 1.0 where a vertex of ``xy`` (N, 2) lies within ``radius`` px of one of ``points``
    (K, 2), else 0.0 (K is a few points: a dense (N, K) distance is cheap)."""
    d2 = ((xy[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    return (d2.min(axis=1) <= radius * radius).astype(np.float64)


def _joined_ends(v: _Vertices, strokes: np.ndarray, join_px: float) -> np.ndarray:
    """(len(strokes),) how many of the ends (0, 1 or 2) of each of ``strokes`` lie within ``join_px``
    pixels of an end of another stroke."""
    if len(strokes) == 0:
        return np.zeros(0, dtype=np.int64)
    tips = np.concatenate([v.xy[v.starts], v.xy[v.ends]])  # (2S, 2)
    owner = np.tile(np.arange(len(v.starts)), 2)
    mine = np.concatenate([v.xy[v.starts[strokes]], v.xy[v.ends[strokes]]])  # (2C, 2)
    near = np.hypot(*(mine[:, None, :] - tips[None, :, :]).transpose(2, 0, 1)) <= join_px
    near &= owner[None, :] != np.tile(strokes, 2)[:, None]
    return near.any(axis=1).reshape(2, -1).sum(axis=0)


def _between(bounds: tuple[float, float], unit: np.ndarray) -> np.ndarray:
    """Uniform draws in [0, 1) mapped to [lo, hi)."""
    lo, hi = bounds
    return lo + (hi - lo) * unit


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

    def select(self, keep: np.ndarray) -> _Vertices:
        """The vertices of the strokes where ``keep`` (S,) bool is True, renumbered."""
        mask = keep[self.sid]
        counts = np.bincount(self.sid, minlength=len(self.starts))[keep]
        sid = np.repeat(np.arange(len(counts)), counts)
        return _Vertices(self.xy[mask], self.depth[mask], self.points[mask], self.faces[mask], self.weight[mask],
                         sid, np.cumsum(counts) - counts)

    def take(self, index: np.ndarray) -> _Vertices:
        """Vertices ``index`` (``starts`` left for the caller to set)."""
        return _Vertices(self.xy[index], self.depth[index], self.points[index], self.faces[index],
                         self.weight[index], self.sid[index], self.starts)


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


def _subdivide(v: _Vertices, spacing: float, *, perspective: bool) -> _Vertices:
    """Insert vertices so that no segment is longer than ``spacing``; original vertices are kept.

    A new vertex a fraction t of the way along a segment in the image gets xy and weight interpolated
    by t, and the 3D point and depth a fraction s = t d0 / ((1 - t) d1 + t d0) of the way between the
    ends' (perspective-correct interpolation: 1 / depth is linear in the image), so its point projects
    to its xy; s = t for an orthographic camera. It takes the segment's first face.
    """
    nxt = np.arange(1, len(v.sid) + 1)
    ends = v.ends
    nxt[ends] = ends  # a stroke's last vertex pairs with itself: one piece, itself
    seglen = np.nan_to_num(np.hypot(*(v.xy[nxt] - v.xy).T), nan=0.0)
    pieces = np.maximum(np.ceil(seglen / spacing), 1).astype(np.int64)
    if np.all(pieces == 1):
        return v
    src = np.repeat(np.arange(len(pieces)), pieces)
    to = nxt[src]
    t = (np.arange(len(src)) - np.repeat(np.cumsum(pieces) - pieces, pieces)) / pieces[src]
    s = t
    if perspective:
        d0, d1 = v.depth[src], v.depth[to]
        den = (1.0 - t) * d1 + t * d0
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where((d0 > 0) & (d1 > 0), t * d0 / den, t)

    def lerp(values, f):
        f = f.reshape((-1,) + (1,) * (values.ndim - 1))
        return values[src] + f * (values[to] - values[src])

    counts = np.bincount(v.sid[src], minlength=len(v.starts))
    return _Vertices(lerp(v.xy, t), lerp(v.depth, s), lerp(v.points, s), v.faces[src], lerp(v.weight, t),
                     v.sid[src], np.cumsum(counts) - counts)


def _arc_lengths(v: _Vertices) -> tuple[np.ndarray, np.ndarray]:
    """(V,) arc length of each vertex from its stroke's start and (S,) length of each stroke, pixels."""
    step = np.hypot(*np.diff(v.xy, axis=0).T) if len(v.xy) > 1 else np.zeros(0)
    step = np.where(v.sid[1:] == v.sid[:-1], np.nan_to_num(step, nan=0.0), 0.0)
    cum = np.concatenate([[0.0], np.cumsum(step)])
    arc = cum - cum[v.starts][v.sid]
    return arc, arc[v.ends]


def _search_key(arc: np.ndarray, total: np.ndarray, v: _Vertices) -> tuple[np.ndarray, np.ndarray]:
    """(V,) key increasing through all strokes (arc length plus the lengths of the strokes before, plus
    a 10 px spacer per stroke) and (S,) each stroke's base, so ``searchsorted(key, base[s] + a)``
    finds arc length ``a`` on stroke ``s`` in one search for all strokes."""
    base = np.cumsum(total + 10.0) - (total + 10.0)
    return arc + base[v.sid], base


def _normals(v: _Vertices) -> np.ndarray:
    """(V, 2) unit left normal of each stroke at each vertex, from the chord between the vertices two
    either side (about 3 px at the default spacing, steadier than one segment); zero where undefined."""
    index = np.arange(len(v.sid))
    lo = np.maximum(index - 2, v.starts[v.sid])
    hi = np.minimum(index + 2, v.ends[v.sid])
    chord = v.xy[hi] - v.xy[lo]
    norm = np.hypot(chord[:, 0], chord[:, 1])
    ok = np.isfinite(norm) & (norm > 1e-9)
    unit = np.where(ok[:, None], chord / np.where(ok, norm, 1.0)[:, None], 0.0)
    return np.stack([unit[:, 1], -unit[:, 0]], axis=1)


def _overshoot(v: _Vertices, lengths: np.ndarray, spacing: float, tip_weight: float):
    """Extend both ends of every open stroke along its end tangent (taken over the last ~3 px) by
    ``lengths`` (S, 2) pixels (start, end), with vertices every ``spacing`` pixels.

    The new vertices repeat their end vertex's depth, 3D point, face and weight (they lie off the
    surface). Returns the vertices, a (V,) taper factor (1 on the stroke, falling to ``tip_weight`` at
    the tips) and (S,) int64 counts of vertices added before each stroke.
    """
    starts, ends = v.starts, v.ends
    n = ends - starts + 1
    closed = (n > 2) & np.all(np.abs(v.xy[starts] - v.xy[ends]) <= 1e-6, axis=1)
    arc, length = _arc_lengths(v)
    key, _ = _search_key(arc, length, v)
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
        fade[pos] = 1.0 - (1.0 - tip_weight) * frac

    out = v.take(source)
    out = replace(out, xy=out.xy + offset, starts=new_starts)
    return out, fade, before


def make_style(name: str, rng: np.random.Generator | None = None, *, line_width: float = 1.0,
               config: SketchyConfig | None = None):
    """The style called ``name`` (one of STYLES); the sketchy family needs ``rng``. ``config``
    replaces the named variant's parameters (``SKETCHY_CONFIGS[name]``). Raises ValueError for an
    unknown name or a missing rng."""
    if name == "clean":
        return CleanStyle()
    if name in SKETCHY_CONFIGS:
        if rng is None:
            raise ValueError(f"the {name} style needs an np.random.Generator")
        return SketchyStyle(rng, SKETCHY_CONFIGS[name] if config is None else config, line_width=line_width)
    raise ValueError(f"unknown style {name!r}; expected one of {', '.join(STYLES)}")


def _poisson_pmf(mean: np.ndarray, n: int) -> np.ndarray:
    """(S, n) Poisson probabilities of 0..n-1 events for each of the (S,) means."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    k = np.arange(n)[None, :]
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n)))])[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        pmf = np.exp(k * np.log(mean) - mean - log_fact)
    return np.where(mean > 0, pmf, (k == 0).astype(np.float64))
