"""Correspondence between the shapes of a category, from their geometry and part labels alone.

Two kinds:

- ``keypoint_matches(a, b)``: keypoints with the same semantic id (KeypointNet, the bundled shapes).
- ``register(a, b)``: dense, part-wise. For every part label the two shapes share, A's part is aligned
  to B's: first by its frame (area-weighted centroid and per-axis spread, so the collection's common
  up/front orientation is assumed, as ShapeNet/PartNet/KeypointNet have it), then refined by an ICP
  with nearest-neighbour pairs taken in both directions (so neither part can shrink onto a piece of
  the other), fitting a per-axis scale and translation and then, where it fits clearly better, a full
  affine map. When a part splits into the same number of connected components on both shapes (four
  legs, two engines) the components are matched by position and aligned one by one.
  ``Registration.map`` carries any surface point (face, barycentric weights) of A through its piece's
  alignment and snaps it to the nearest point of the matching piece of B. With ``keypoints=True``,
  keypoints sharing a semantic id anchor the alignments as well.
  This is how a part-labelled collection becomes part-registered (Huang et al. 2018).

Confidence of a mapped point, in [0, 1]: ``exp(-(d / 0.05 D)^2) * q``, where D is B's bounding-box
diagonal, d how far the aligned point was from B's piece, and q the piece's ``PartAlignment.quality``
(1 while the ICP residual is what sampling alone leaves, falling as the excess nears 2% of D); a point
whose part is missing from B is placed by the whole-shape alignment, with q quartered. It flags
misaligned or missing parts; it cannot see where two plausible correspondences differ (a round
table top against a square one).

All coordinates are the PartMeshes' unit-sphere frames. The bundled collection's exact correspondence
(``datagen.procedural.exact_correspondence``) is not used here; ``bench/bench_registration.py``
measures against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.datagen.partmesh import PartMesh, face_components
from sketchgen.datagen.sampling import closest_surface_points, sample_surface

WHOLE = -1  # key of the whole-shape alignment in ``Registration.alignments``


@dataclass(frozen=True)
class PartAlignment:
    """x_b ~= matrix @ x_a + offset for one part. matrix: (3, 3) float64; offset: (3,) float64;
    residual: final ICP RMS distance; size: the length errors are judged against (``register`` uses
    B's bounding-box diagonal; default B's part RMS radius); spacing: median distance between
    neighbouring samples of A's part (all unit-sphere frame)."""

    matrix: np.ndarray
    offset: np.ndarray
    residual: float
    size: float
    spacing: float = 0.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        return points @ self.matrix.T + self.offset

    @property
    def scale(self) -> np.ndarray:
        """(3,) float64 the matrix's diagonal (the per-axis scales when there is no shear)."""
        return np.diag(self.matrix).copy()

    @property
    def quality(self) -> float:
        """In (0, 1]: 1 when the ICP residual is no more than two independent samplings of one surface
        leave (about 1.2 sample spacings), falling off as the excess reaches 2% of ``size``."""
        excess = max(0.0, self.residual - 1.2 * self.spacing)
        return float(np.exp(-(excess / (0.02 * self.size)) ** 2))


@dataclass(frozen=True)
class Piece:
    """One aligned piece: faces of ``a`` (A_faces,) int64, their alignment, and the faces of ``b`` they
    snap to (B_faces,) int64 (None: all of b). fallback: placed by the whole-shape alignment."""

    a_faces: np.ndarray
    alignment: PartAlignment
    b_faces: np.ndarray | None
    fallback: bool = False


@dataclass(frozen=True)
class Registration:
    """Dense part-wise map from shape ``a`` to shape ``b``.

    alignments: {label: PartAlignment} for every shared label, plus the whole-shape one under ``WHOLE``.
    pieces: what ``map`` uses: per shared label one piece, or one per connected component when both
    parts split into the same number of components (four legs, two engines), matched by position.
    """

    a: PartMesh
    b: PartMesh
    alignments: dict[int, PartAlignment]
    pieces: list[Piece]

    def map(self, face: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Map points of ``a`` to ``b``.

        face: (N,) int face indices of ``a``; bary: (N, 3) float64 weights.
        Returns face_b (N,) int64, bary_b (N, 3) float64 on ``b`` and confidence (N,) float64 in [0, 1].
        """
        face = np.asarray(face, np.int64)
        bary = np.asarray(bary, np.float64)
        points = self.a.points(face, bary)
        piece_of = np.full(self.a.n_faces, -1, np.int64)
        for k, piece in enumerate(self.pieces):
            piece_of[piece.a_faces] = k
        which = piece_of[face]
        out_face = np.zeros(len(face), np.int64)
        out_bary = np.zeros((len(face), 3))
        conf = np.zeros(len(face))
        for k in np.unique(which):
            sel = np.flatnonzero(which == k)
            piece = self.pieces[k] if k >= 0 else Piece(np.zeros(0, np.int64), self.alignments[WHOLE], None, True)
            al = piece.alignment
            f, w, d = closest_surface_points(self.b, al.apply(points[sel]), piece.b_faces)
            quality = 0.25 * al.quality if piece.fallback else al.quality
            out_face[sel], out_bary[sel] = f, w
            conf[sel] = np.exp(-(d / (0.05 * al.size)) ** 2) * quality
        return out_face, out_bary, conf

    def map_points(self, face, bary) -> tuple[np.ndarray, np.ndarray]:
        """Like ``map`` but returns (N, 3) float64 points on ``b`` (unit frame) and the confidence."""
        f, w, c = self.map(face, bary)
        return self.b.points(f, w), c


def register(a: PartMesh, b: PartMesh, *, samples: int = 1500, iterations: int = 15, seed: int = 0,
             components: bool = True, keypoints: bool = False) -> Registration:
    """Part-wise alignment of ``a`` onto ``b`` (see the module docstring). Deterministic for a seed.

    components: align matched connected components of a part separately (when both shapes' part has
    the same number of them, 2 to 32). keypoints: use keypoints that share a semantic id (and lie on
    the same piece on both shapes) as anchors of the alignments.
    """
    rng = np.random.default_rng(seed)
    ka = kb = None
    if keypoints:
        _, ia, ib = keypoint_matches(a, b)
        ka = (a.keypoints.face[ia], a.keypoint_points()[ia])
        kb = (b.keypoints.face[ib], b.keypoint_points()[ib])

    def anchors(faces_a, faces_b):
        if ka is None:
            return None
        on = np.isin(ka[0], faces_a) & np.isin(kb[0], faces_b)
        return (ka[1][on], kb[1][on]) if on.any() else None

    alignments: dict[int, PartAlignment] = {}
    pieces: list[Piece] = []
    shared = sorted(set(a.parts.tolist()) & set(b.parts.tolist()))
    for label in shared:
        fa = np.flatnonzero(a.face_labels == label)
        fb = np.flatnonzero(b.face_labels == label)
        pa = a.points(*sample_surface(a, samples, rng, face_subset=fa))
        pb = b.points(*sample_surface(b, samples, rng, face_subset=fb))
        part = align_points(pa, pb, iterations, size=b.bbox_diagonal, anchors=anchors(fa, fb))
        alignments[label] = part
        matched = _match_components(a, b, fa, fb, part) if components else None
        if matched is None:
            pieces.append(Piece(fa, part, fb))
            continue
        for ca, cb in matched:
            n = max(200, samples * len(ca) // len(fa))
            qa = a.points(*sample_surface(a, n, rng, face_subset=ca))
            qb = b.points(*sample_surface(b, n, rng, face_subset=cb))
            pieces.append(Piece(ca, align_points(qa, qb, iterations, size=b.bbox_diagonal,
                                                 anchors=anchors(ca, cb)), cb))
    pa = a.points(*sample_surface(a, samples, rng))
    pb = b.points(*sample_surface(b, samples, rng))
    alignments[WHOLE] = align_points(pa, pb, iterations, size=b.bbox_diagonal,
                                     anchors=None if ka is None else (ka[1], kb[1]))
    return Registration(a, b, alignments, pieces)


def _match_components(a, b, fa, fb, part: PartAlignment):
    """Pairs (A faces, B faces) of components matched by their centroids under the part alignment,
    or None when the parts do not split into the same number (2..32) of components."""
    from scipy.optimize import linear_sum_assignment

    comps_a, comps_b = face_components(a, fa), face_components(b, fb)
    if not (2 <= len(comps_a) == len(comps_b) <= 32):
        return None
    ca = np.array([_centroid(a, c) for c in comps_a])
    cb = np.array([_centroid(b, c) for c in comps_b])
    cost = np.linalg.norm(part.apply(ca)[:, None, :] - cb[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return [(comps_a[i], comps_b[j]) for i, j in zip(rows, cols)]


def _centroid(mesh: PartMesh, faces: np.ndarray) -> np.ndarray:
    area = mesh.face_areas[faces]
    return (mesh.vertices[mesh.faces[faces]].mean(1) * area[:, None]).sum(0) / max(area.sum(), 1e-300)


def register_points(a: PartMesh, b: PartMesh, face: np.ndarray, bary: np.ndarray):
    """Map surface points of ``a`` to ``b`` with ``register(a, b)`` (default settings), reusing the
    registration of the same two shapes (by content) made before, in this process or kept on disk
    (``datagen.registration_cache``).

    face: (N,) int faces of ``a``; bary: (N, 3) float64. Returns (face_b (N,) int64, bary_b (N, 3)
    float64, confidence (N,) float64 in [0, 1]), as ``Registration.map``.
    """
    return _cached_register(a, b).map(face, bary)


def _cached_register(a: PartMesh, b: PartMesh) -> Registration:
    from sketchgen.datagen.registration_cache import cached_register

    return cached_register(a, b)


def align_points(pa: np.ndarray, pb: np.ndarray, iterations: int = 15, affine: bool = True,
                 size: float | None = None, anchors: tuple[np.ndarray, np.ndarray] | None = None) -> PartAlignment:
    """Alignment taking point set (N, 3) ``pa`` onto (M, 3) ``pb``: frames first (centroid, per-axis
    standard deviation), then symmetric nearest-neighbour ICP fitting a per-axis scale and translation,
    then (``affine``) a full affine map, kept only when it lowers the residual by 10% (a tilted chair
    back, a swept wing need the shear; elsewhere it would only fit sampling noise). size: the length
    the alignment's quality is judged against (default: pb's RMS radius). anchors: known pairs
    ((K, 3) on A, (K, 3) on B), e.g. keypoints with one semantic id, added to every fit with a
    quarter of its weight."""
    from scipy.spatial import cKDTree

    ca, cb = pa.mean(0), pb.mean(0)
    sa, sb = pa.std(0), pb.std(0)
    scale = np.where(sa > 1e-9, sb / np.maximum(sa, 1e-9), 1.0)
    matrix, offset = np.diag(scale), cb - scale * ca
    if size is None:
        size = float(np.sqrt(((pb - cb) ** 2).sum(1).mean()))
    # along an axis thinner than a few sample spacings (a table top's thickness), nearest neighbours
    # pair the two faces at random and a fitted scale collapses: keep the frames' scale there
    spacing = float(np.median(cKDTree(pa).query(pa, k=2)[0][:, 1]))
    fixed = sa < 2.0 * spacing
    tree_b = cKDTree(pb)
    anchor_a = anchor_b = np.zeros((0, 3))
    if anchors is not None and len(anchors[0]):
        # repeated so the anchors weigh a quarter of the nearest-neighbour pairs
        reps = max(1, int(round((len(pa) + len(pb)) / (3.0 * len(anchors[0])))))
        anchor_a = np.repeat(np.asarray(anchors[0], np.float64), reps, axis=0)
        anchor_b = np.repeat(np.asarray(anchors[1], np.float64), reps, axis=0)

    def icp(matrix, offset, fit):
        residual = np.inf
        for _ in range(iterations):
            moved = pa @ matrix.T + offset
            d_ab, j = tree_b.query(moved)
            d_ba, i = cKDTree(moved).query(pb)
            # pairs both ways: A's points pulled to B, and every B point claims its nearest A point
            src = np.concatenate([pa, pa[i], anchor_a])
            dst = np.concatenate([pb[j], pb, anchor_b])
            residual = float(np.sqrt(0.5 * (np.mean(d_ab ** 2) + np.mean(d_ba ** 2))))
            new_matrix, new_offset = fit(src, dst, matrix)
            if np.allclose(new_matrix, matrix, atol=1e-6) and np.allclose(new_offset, offset, atol=1e-7):
                break
            matrix, offset = new_matrix, new_offset
        return matrix, offset, residual

    def fit_scale(src, dst, matrix):
        s, t = _fit_axis_scale(src, dst, np.where(fixed, np.diag(matrix), np.nan))
        return np.diag(s), t

    def fit_affine(src, dst, matrix):
        return _fit_affine(src, dst, matrix, fixed)

    matrix, offset, residual = icp(matrix, offset, fit_scale)
    if affine:
        m2, o2, r2 = icp(matrix, offset, fit_affine)
        if r2 < 0.9 * residual:
            matrix, offset, residual = m2, o2, r2
    return PartAlignment(matrix, offset, residual, size, spacing)


def _fit_affine(src, dst, matrix, fixed):
    """Least-squares dst ~ M src + t; the columns of M for ``fixed`` (3,) bool axes keep their values.
    A map whose singular values leave [0.2, 5] x those of ``matrix`` is refused (``matrix`` kept)."""
    free = np.flatnonzero(~fixed)
    rhs = dst - src[:, fixed] @ matrix[:, fixed].T
    design = np.c_[src[:, free], np.ones(len(src))]
    sol, *_ = np.linalg.lstsq(design, rhs, rcond=None)
    new = matrix.copy()
    new[:, free] = sol[:-1].T
    sv_new, sv_old = np.linalg.svd(new, compute_uv=False), np.linalg.svd(matrix, compute_uv=False)
    if np.linalg.det(new) <= 0 or sv_new.min() < 0.2 * sv_old.min() or sv_new.max() > 5.0 * sv_old.max():
        return matrix, dst.mean(0) - src.mean(0) @ matrix.T
    return new, sol[-1]


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
