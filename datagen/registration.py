"""Correspondence between the shapes of a category, from their geometry and part labels alone.

Two kinds:

- ``keypoint_matches(a, b)``: keypoints with the same semantic id (KeypointNet, the bundled shapes).
- ``register(a, b)``: dense, part-wise. For every part label the two shapes share, A's part is aligned
  to B's: first by its frame (area-weighted centroid and per-axis spread, so the collection's common
  up/front orientation is assumed, as ShapeNet/PartNet/KeypointNet have it), then refined by an ICP
  that fits a per-axis scale and a translation to nearest-neighbour pairs taken in both directions
  (so neither part can shrink onto a piece of the other). ``Registration.map`` carries any surface
  point (face, barycentric weights) of A through its part's alignment and snaps it to the nearest
  point of the same part of B.
  This is how a part-labelled collection becomes part-registered (Huang et al. 2018).

Confidence of a mapped point, in [0, 1]: ``exp(-(d / s)^2) * q`` where d is how far the aligned point
was from B's part surface, s is 10% of B's part RMS radius, and q = ``exp(-(r / s)^2)`` for the ICP's
final RMS residual r of that part; a point whose part is missing from B is placed by the whole-shape
alignment, with q quartered.

All coordinates are the PartMeshes' unit-sphere frames. The bundled collection's exact correspondence
(``datagen.procedural.exact_correspondence``) is not used here; ``bench/bench_registration.py``
measures against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from datagen.partmesh import PartMesh
from datagen.sampling import closest_surface_points, sample_surface

WHOLE = -1  # key of the whole-shape alignment in ``Registration.alignments``


@dataclass(frozen=True)
class PartAlignment:
    """x_b ~= scale * x_a + offset for one part. scale, offset: (3,) float64; residual: final ICP RMS
    distance; size: B part's RMS radius (both unit-sphere frame)."""

    scale: np.ndarray
    offset: np.ndarray
    residual: float
    size: float

    def apply(self, points: np.ndarray) -> np.ndarray:
        return points * self.scale + self.offset

    @property
    def quality(self) -> float:
        return float(np.exp(-(self.residual / (0.1 * self.size)) ** 2))


@dataclass(frozen=True)
class Registration:
    """Dense part-wise map from shape ``a`` to shape ``b``: one PartAlignment per shared label, plus the
    whole-shape one under the key ``WHOLE``."""

    a: PartMesh
    b: PartMesh
    alignments: dict[int, PartAlignment]

    def map(self, face: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Map points of ``a`` to ``b``.

        face: (N,) int face indices of ``a``; bary: (N, 3) float64 weights.
        Returns face_b (N,) int64, bary_b (N, 3) float64 on ``b`` and confidence (N,) float64 in [0, 1].
        """
        face = np.asarray(face, np.int64)
        bary = np.asarray(bary, np.float64)
        points = self.a.points(face, bary)
        labels = self.a.face_labels[face]
        out_face = np.zeros(len(face), np.int64)
        out_bary = np.zeros((len(face), 3))
        conf = np.zeros(len(face))
        for label in np.unique(labels):
            sel = np.flatnonzero(labels == label)
            key = int(label) if int(label) in self.alignments else WHOLE
            al = self.alignments[key]
            moved = al.apply(points[sel])
            subset = np.flatnonzero(self.b.face_labels == label) if key != WHOLE else None
            f, w, d = closest_surface_points(self.b, moved, subset)
            quality = al.quality if key != WHOLE else 0.25 * al.quality
            out_face[sel], out_bary[sel] = f, w
            conf[sel] = np.exp(-(d / (0.1 * al.size)) ** 2) * quality
        return out_face, out_bary, conf

    def map_points(self, face, bary) -> tuple[np.ndarray, np.ndarray]:
        """Like ``map`` but returns (N, 3) float64 points on ``b`` (unit frame) and the confidence."""
        f, w, c = self.map(face, bary)
        return self.b.points(f, w), c


def register(a: PartMesh, b: PartMesh, *, samples: int = 1500, iterations: int = 15, seed: int = 0) -> Registration:
    """Part-wise alignment of ``a`` onto ``b`` (see the module docstring). Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    alignments: dict[int, PartAlignment] = {}
    shared = sorted(set(a.parts.tolist()) & set(b.parts.tolist()))
    for label in shared:
        pa = a.points(*sample_surface(a, samples, rng, labels=[label]))
        pb = b.points(*sample_surface(b, samples, rng, labels=[label]))
        alignments[label] = align_points(pa, pb, iterations)
    pa = a.points(*sample_surface(a, samples, rng))
    pb = b.points(*sample_surface(b, samples, rng))
    alignments[WHOLE] = align_points(pa, pb, iterations)
    return Registration(a, b, alignments)


def register_points(a: PartMesh, b: PartMesh, face: np.ndarray, bary: np.ndarray):
    """Map surface points of ``a`` to ``b`` with ``register(a, b)`` (default settings), reusing the
    registration of a pair already seen in this process (the last 64 pairs, by object identity).

    face: (N,) int faces of ``a``; bary: (N, 3) float64. Returns (face_b (N,) int64, bary_b (N, 3)
    float64, confidence (N,) float64 in [0, 1]), as ``Registration.map``.
    """
    return _cached_register(a, b).map(face, bary)


@lru_cache(maxsize=64)
def _cached_register(a: PartMesh, b: PartMesh) -> Registration:
    return register(a, b)  # PartMesh hashes by identity (eq=False), so this keys on the objects


def align_points(pa: np.ndarray, pb: np.ndarray, iterations: int = 15) -> PartAlignment:
    """Per-axis scale + translation taking point set (N, 3) ``pa`` onto (M, 3) ``pb``: frames first
    (centroid, per-axis standard deviation), then symmetric nearest-neighbour ICP."""
    from scipy.spatial import cKDTree

    ca, cb = pa.mean(0), pb.mean(0)
    sa, sb = pa.std(0), pb.std(0)
    scale = np.where(sa > 1e-9, sb / np.maximum(sa, 1e-9), 1.0)
    offset = cb - scale * ca
    size = float(np.sqrt(((pb - cb) ** 2).sum(1).mean()))
    # along an axis thinner than a few sample spacings (a table top's thickness), nearest neighbours
    # pair the two faces at random and the fitted scale collapses: keep the frames' scale there
    spacing = float(np.median(cKDTree(pa).query(pa, k=2)[0][:, 1]))
    fixed = sa < 2.0 * spacing
    tree_b = cKDTree(pb)
    residual = np.inf
    for _ in range(iterations):
        moved = pa * scale + offset
        d_ab, j = tree_b.query(moved)
        d_ba, i = cKDTree(moved).query(pb)
        # pairs both ways: A's points pulled to B, and every B point claims its nearest A point
        src = np.concatenate([pa, pa[i]])
        dst = np.concatenate([pb[j], pb])
        residual = float(np.sqrt(0.5 * (np.mean(d_ab ** 2) + np.mean(d_ba ** 2))))
        new_scale, new_offset = _fit_axis_scale(src, dst, np.where(fixed, scale, np.nan))
        if np.allclose(new_scale, scale, atol=1e-6) and np.allclose(new_offset, offset, atol=1e-7):
            break
        scale, offset = new_scale, new_offset
    return PartAlignment(scale, offset, residual, size)


def _fit_axis_scale(src, dst, fixed_scale):
    """Least-squares dst ~ s * src + t per axis; axes where ``fixed_scale`` (3,) is not NaN keep that
    scale and fit only the translation."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    var = ((src - mu_s) ** 2).mean(0)
    cov = ((src - mu_s) * (dst - mu_d)).mean(0)
    s = np.where(np.isnan(fixed_scale), cov / np.maximum(var, 1e-12), fixed_scale)
    s = np.clip(s, 0.05, 20.0)  # a reflection or collapse is never a valid correspondence
    return s, mu_d - s * mu_s


def keypoint_matches(a: PartMesh, b: PartMesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints of ``a`` and ``b`` sharing a semantic id: (ids (M,) int64, index into a's keypoints (M,),
    index into b's keypoints (M,)), ids ascending. A semantic id repeated on a shape uses its first."""
    ids_a = {int(s): k for k, s in reversed(list(enumerate(a.keypoints.semantic_id)))}
    ids_b = {int(s): k for k, s in reversed(list(enumerate(b.keypoints.semantic_id)))}
    common = sorted(set(ids_a) & set(ids_b))
    return (np.asarray(common, np.int64), np.asarray([ids_a[s] for s in common], np.int64),
            np.asarray([ids_b[s] for s in common], np.int64))
