"""Procedural textures for photo renders: solid (3D) textures evaluated at surface points, so parts without
UV coordinates get wood, stone, fabric or brushed metal, and floor and backdrop patterns.

Every texture is a pure function of its points and of parameters drawn once from the caller's
``np.random.Generator`` (``random_solid``, ``random_floor``), so a render is reproducible from its seed.
Noise is value noise on a periodic 16^3 lattice of random values, trilinearly interpolated with
smoothstep weights, summed over octaves (fractal Brownian motion; Perlin 1985, Ebert et al.,
"Texturing and Modeling", ch. 2). Colours are linear RGB in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LATTICE = 16
SOLIDS = ("plain", "noise", "wood", "marble", "weave", "brushed")
FLOORS = ("planks", "tiles", "concrete", "carpet")


class ValueNoise:
    """Value noise over R^3 with period ``LATTICE``: ``fbm(points (N, 3), octaves)`` -> (N,) float64 in
    about [0, 1] (mean 0.5)."""

    def __init__(self, rng: np.random.Generator):
        self.lattice = rng.uniform(0.0, 1.0, size=(LATTICE, LATTICE, LATTICE))
        # padded by one cell on each axis (wrapped), so a cell's 8 corners are one flat offset apart
        self._flat = np.pad(self.lattice, ((0, 1), (0, 1), (0, 1)), mode="wrap").astype(np.float32).ravel()

    def __call__(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, np.float64).reshape(-1, 3)
        base = np.floor(p)
        t = (p - base).astype(np.float32)
        t = t * t * (3.0 - 2.0 * t)  # smoothstep weights: continuous derivative across cells
        m = LATTICE + 1
        i = base.astype(np.int64) % LATTICE
        k = (i[:, 0] * m + i[:, 1]) * m + i[:, 2]
        v = self._flat
        tx, ty, tz = t[:, 0], t[:, 1], t[:, 2]

        def lerp(a, b, w):
            return a + (b - a) * w

        x0 = lerp(lerp(v[k], v[k + 1], tz), lerp(v[k + m], v[k + m + 1], tz), ty)
        k = k + m * m
        x1 = lerp(lerp(v[k], v[k + 1], tz), lerp(v[k + m], v[k + m + 1], tz), ty)
        return lerp(x0, x1, tx).astype(np.float64)

    def fbm(self, p: np.ndarray, octaves: int = 4) -> np.ndarray:
        p = np.asarray(p, np.float64).reshape(-1, 3)
        total, amp, norm = np.zeros(len(p)), 1.0, 0.0
        for k in range(octaves):
            # each octave shifted so lattice points of different octaves do not line up
            total += amp * self(p * (2.0 ** k) + 3.7 * k)
            norm += amp
            amp *= 0.5
        return total / norm


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class SolidTexture:
    """A solid texture: ``kind`` (one of ``SOLIDS``), a second colour, its scale (cycles per unit of the
    unit-sphere frame) and frame (rotation (3, 3), offset (3,)). ``albedo(points, base)`` -> (N, 3)."""

    kind: str
    other: np.ndarray
    scale: float
    rotation: np.ndarray
    offset: np.ndarray
    noise: ValueNoise

    def albedo(self, points: np.ndarray, base: np.ndarray) -> np.ndarray:
        """(N, 3) float64 linear albedo at (N, 3) points of a part whose base colour is ``base`` (3,)."""
        p = (np.asarray(points, np.float64).reshape(-1, 3) @ self.rotation.T + self.offset) * self.scale
        base = np.asarray(base, np.float64)
        if self.kind == "plain" or len(p) == 0:
            return np.broadcast_to(base, p.shape).copy()
        n = self.noise
        if self.kind == "noise":  # mottled plastic, stone, paint
            t = n.fbm(p, 3)[:, None]
            return base * (0.75 + 0.5 * t)
        if self.kind == "wood":  # growth rings around the frame's y axis, disturbed by noise
            r = np.hypot(p[:, 0], p[:, 2]) * 2.0 + 1.5 * n.fbm(p * np.array([0.6, 0.08, 0.6]), 3)
            ring = np.abs(np.sin(np.pi * r)) ** 3
            grain = n.fbm(p * np.array([3.0, 0.3, 3.0]), 2)
            t = np.clip(0.75 * ring + 0.25 * grain, 0.0, 1.0)[:, None]
            return base * (1.0 - t) + self.other * t
        if self.kind == "marble":  # veins: a sine of one axis turbulated by noise
            v = np.sin(3.0 * p[:, 0] + 6.0 * n.fbm(p, 4))
            t = (1.0 - np.abs(v)) ** 6
            return base * (1.0 - t[:, None]) + self.other * t[:, None]
        if self.kind == "weave":  # fabric: threads too fine to resolve; slubs stretched along the warp
            slub = n.fbm(p * np.array([1.0, 6.0, 1.0]), 2)
            return base * (0.85 + 0.4 * (slub - 0.5))[:, None]
        if self.kind == "brushed":  # metal brushed along the frame's x axis: noise stretched 40:1
            t = n.fbm(p * np.array([0.2, 8.0, 8.0]), 2)
            return base * (0.85 + 0.3 * t)[:, None]
        raise ValueError(f"unknown solid texture {self.kind!r}")


def random_solid(kind: str, base: np.ndarray, rng: np.random.Generator) -> SolidTexture:
    """A ``kind`` texture with random frame and scale; ``other`` (the grain, vein colour) derived from
    ``base``: darker for wood, near-white or near-black for marble."""
    rotation, offset = _rotation(rng), rng.uniform(-8.0, 8.0, size=3)
    scale = float(np.exp(rng.uniform(np.log(0.8), np.log(2.5))))
    noise = ValueNoise(rng)
    base = np.asarray(base, np.float64)
    if kind == "wood":
        other = base * rng.uniform(0.35, 0.6)
    elif kind == "marble":
        other = np.full(3, 0.05) if rng.uniform() < 0.3 else np.full(3, 0.9)
    else:
        other = base.copy()
    return SolidTexture(kind, other, scale, rotation, offset, noise)


@dataclass(frozen=True)
class FloorTexture:
    """A floor pattern in the ground plane's (x, z) coordinates: ``albedo(xz (N, 2))`` -> (N, 3) linear."""

    kind: str
    colour: np.ndarray
    other: np.ndarray
    size: float      # plank width or tile side, unit-sphere frame units
    angle: float     # radians, the pattern's rotation about the vertical
    noise: ValueNoise

    def albedo(self, xz: np.ndarray, footprint: np.ndarray | float = 0.0) -> np.ndarray:
        """(N, 3) float64 linear albedo at (N, 2) floor points; ``footprint``: (N,) size of a pixel there
        (floor units), so joints thinner than a pixel are drawn by their coverage and grain finer
        than it fades to its mean (no moire towards the horizon)."""
        xz = np.asarray(xz, np.float64).reshape(-1, 2)
        fw = np.broadcast_to(np.asarray(footprint, np.float64), (len(xz),)) / self.size + 1e-6
        c, s = np.cos(self.angle), np.sin(self.angle)
        u = (c * xz[:, 0] - s * xz[:, 1]) / self.size
        v = (s * xz[:, 0] + c * xz[:, 1]) / self.size
        z = np.zeros_like(u)
        n = self.noise
        if self.kind == "planks":
            row = np.floor(v)
            # planks 6 widths long, their joints staggered row by row
            shift = (row * 0.618) % 1.0 * 6.0
            col = np.floor((u + shift) / 6.0)
            tone = n(np.stack([row * 1.7, col * 2.3, z], 1) + 0.5)
            grain = n(np.stack([u * 0.7, v * 12.0, tone * 4.0], 1))
            fade = np.clip(1.0 - fw * 12.0, 0.0, 1.0)
            t = np.clip(0.55 * (0.5 + (grain - 0.5) * fade) + 0.45 * tone, 0.0, 1.0)[:, None]
            albedo = self.colour * (1.0 - t) + self.other * t
            joint = np.maximum(_line_coverage(v, 0.025, fw), _line_coverage((u + shift) / 6.0, 0.004, fw / 6.0))
            return albedo * (1.0 - 0.55 * joint)[:, None]
        if self.kind == "tiles":
            tone = n(np.stack([np.floor(u) * 1.3, np.floor(v) * 1.9, z], 1) + 0.5)
            spots = n(np.stack([u * 6.0, v * 6.0, z], 1))
            fade = np.clip(1.0 - fw * 6.0, 0.0, 1.0)
            albedo = self.colour * (0.88 + 0.2 * tone + 0.12 * (spots - 0.5) * fade)[:, None]
            grout = np.maximum(_line_coverage(u, 0.02, fw), _line_coverage(v, 0.02, fw))[:, None]
            return albedo * (1.0 - grout) + self.other * grout
        if self.kind == "concrete":
            t = n.fbm(np.stack([u * 3.0, v * 3.0, z], 1), 3)
            return self.colour * (0.7 + 0.5 * t)[:, None]
        if self.kind == "carpet":
            fine = n(np.stack([u * 80.0, v * 80.0, z + 3.0], 1))
            patch = n(np.stack([u * 2.0, v * 2.0, z + 11.0], 1))
            fade = np.clip(1.0 - fw * 80.0, 0.0, 1.0)
            return self.colour * (0.9 + 0.35 * (fine - 0.5) * fade + 0.25 * (patch - 0.5))[:, None]
        raise ValueError(f"unknown floor texture {self.kind!r}")


def _line_coverage(x: np.ndarray, half: float, fw: np.ndarray) -> np.ndarray:
    """(N,) fraction of a pixel of width ``fw`` (pattern units) centred at ``x`` that lines of half-width
    ``half`` at every integer cover: the box-filtered line, exact for one line per pixel."""
    d = np.abs(x - np.round(x))
    lo, hi = d - fw / 2.0, d + fw / 2.0
    cover = np.clip(np.minimum(hi, half) - np.maximum(lo, -half), 0.0, None)
    cover += np.clip(np.minimum(hi, 1.0 + half) - np.maximum(lo, 1.0 - half), 0.0, None)  # the next line
    return np.clip(cover / fw, 0.0, 1.0)


def random_floor(rng: np.random.Generator) -> FloorTexture:
    """A floor: wooden planks, ceramic tiles, concrete or carpet, in plausible colours."""
    kind = FLOORS[int(rng.integers(len(FLOORS)))]
    if kind == "planks":
        colour = hsv_to_rgb(rng.uniform(0.05, 0.1), rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.8))
        other = colour * rng.uniform(0.5, 0.75)
        size = rng.uniform(0.12, 0.25)
    elif kind == "tiles":
        colour = hsv_to_rgb(rng.uniform(0.0, 1.0), rng.uniform(0.0, 0.25), rng.uniform(0.4, 0.95))
        other = colour * rng.uniform(0.6, 0.9)
        size = rng.uniform(0.3, 0.8)
    elif kind == "concrete":
        colour = np.full(3, rng.uniform(0.35, 0.7)) * rng.uniform(0.95, 1.05, size=3)
        other = colour
        size = rng.uniform(0.5, 1.5)
    else:
        colour = hsv_to_rgb(rng.uniform(0.0, 1.0), rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.7))
        other = colour
        size = 1.0
    return FloorTexture(kind, srgb_to_linear(colour), srgb_to_linear(other), float(size),
                        float(rng.uniform(0.0, np.pi)), ValueNoise(rng))


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """(3,) float64 RGB of hue ``h`` (turns), saturation and value in [0, 1] (sRGB-encoded values)."""
    i = int(np.floor(h * 6.0)) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], np.float64)


def srgb_to_linear(c) -> np.ndarray:
    """sRGB-encoded values in [0, 1] -> linear (a 2.2 power, the approximation used throughout)."""
    return np.clip(np.asarray(c, np.float64), 0.0, None) ** 2.2


def linear_to_srgb(c) -> np.ndarray:
    """Inverse of ``srgb_to_linear``; keeps a float32 input float32."""
    c = np.asarray(c)
    c = c if c.dtype == np.float32 else c.astype(np.float64)
    return np.clip(c, 0.0, None) ** c.dtype.type(1.0 / 2.2)
