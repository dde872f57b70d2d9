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
  This is how a part-labelled collection becomes part-registered (Huang et al. 2018). Parts are
  paired by equal label: only for labels that name one part across the category.
- ``register_label_free(a, b)``: for labels that only segment each shape (PSB's per-shape segment
  ids). The whole shapes are aligned first, trying quarter turns about the up axis (the shapes are
  upright, not all facing one way); the segments of A and B are paired one to one by how much of each
  lands on the other (Hungarian assignment on the Jaccard overlap); each pair is then aligned as
  ``register`` aligns a part. Label values are never compared.

Confidence of a mapped point, in [0, 1]: ``exp(-(d / 0.05 D)^2) * q``, where D is B's bounding-box
diagonal, d how far the aligned point was from B's piece, and q the piece's ``PartAlignment.quality``
(1 while the ICP residual is what sampling alone leaves, falling as the excess nears 2% of D); a point
whose part is missing from B is placed by the whole-shape alignment, with q quartered. A label-free
registration multiplies it by its pairing's trust (``SegmentMatch.trust``: 0 when the segments do not
pair up cleanly). It flags misaligned or missing parts; it cannot see where two plausible
correspondences differ (a round table top against a square one).

All coordinates are the PartMeshes' unit-sphere frames. The bundled collection's exact correspondence
(``ingest.procedural.exact_correspondence``) is not used here; ``bench/bench_registration.py``
measures against it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sketchgen.ingest.partmesh import PartMesh, face_components
from sketchgen.ingest.sampling import closest_surface_points, sample_surface

WHOLE = -1  # key of the whole-shape alignment in ``Registration.alignments``
# how a correspondence was made (stored with every cross-shape sample)
EXACT = "exact"              # the bundled collection's instances share their faces
PART_LABELS = "part-labels"  # parts paired by equal label: labels that name one part across the category
LABEL_FREE = "label-free"    # whole-shape alignment with a flip search, then segments paired by overlap
# turns about the unit frame's up axis (+Y) a label-free registration tries, in quarter turns; the
# shapes of one category are assumed upright (``--up-axis``), not facing one way
UP_TURNS = (0, 1, 2, 3)
# segment-pairing agreement below which a label-free registration is not trusted at all, and from which
# it is fully trusted (``SegmentMatch.trust``); on the COSEG chairs, pairings at 0.85 and above paired
# every segment rightly, and every wrong pairing (chairs with stools) stayed under 0.8
TRUSTED_AGREEMENT = (0.8, 0.9)


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
    method: ``PART_LABELS`` or ``LABEL_FREE``. match: the segment pairing of a label-free registration.
    """

    a: PartMesh
    b: PartMesh
    alignments: dict[int, PartAlignment]
    pieces: list[Piece]
    method: str = PART_LABELS
    match: "SegmentMatch | None" = None

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
        if self.match is not None:
            conf *= self.match.trust
        return out_face, out_bary, conf

    def map_points(self, face, bary) -> tuple[np.ndarray, np.ndarray]:
        """Like ``map`` but returns (N, 3) float64 points on ``b`` (unit frame) and the confidence."""
        f, w, c = self.map(face, bary)
        return self.b.points(f, w), c


def register(a: PartMesh, b: PartMesh, *, samples: int = 1500, iterations: int = 15, seed: int = 0,
             components: bool = True, keypoints: bool = False,
             label_pairs: Sequence[tuple[int, int]] | None = None, turn: np.ndarray | None = None,
             whole: PartAlignment | None = None, method: str = PART_LABELS) -> Registration:
    """Part-wise alignment of ``a`` onto ``b`` (see the module docstring). Deterministic for a seed.

    components: align matched connected components of a part separately (when both shapes' part has
    the same number of them, 2 to 32). keypoints: use keypoints that share a semantic id (and lie on
    the same piece on both shapes) as anchors of the alignments. label_pairs: (label of a, label of b)
    of the parts aligned to each other (default: every label both shapes carry, with itself; only
    labels that name one part across the category may be paired so). turn: (3, 3) float64 rotation
    applied to ``a``'s points before every alignment (a flip found by ``register_label_free``), folded
    into the alignments. whole: the whole-shape alignment, when already made. method: recorded on
    the Registration.
    """
    rng = np.random.default_rng(seed)
    ka = kb = None
    if keypoints:
        _, ia, ib = keypoint_matches(a, b)
        ka = (a.keypoints.face[ia], a.keypoint_points()[ia])
        kb = (b.keypoints.face[ib], b.keypoint_points()[ib])
    turn = np.eye(3) if turn is None else np.asarray(turn, np.float64)

    def anchors(faces_a, faces_b):
        if ka is None:
            return None
        on = np.isin(ka[0], faces_a) & np.isin(kb[0], faces_b)
        return (ka[1][on] @ turn.T, kb[1][on]) if on.any() else None

    def align(faces_a, faces_b, n):
        qa = a.points(*sample_surface(a, n, rng, face_subset=faces_a)) @ turn.T
        qb = b.points(*sample_surface(b, n, rng, face_subset=faces_b))
        return _turned(align_points(qa, qb, iterations, size=b.bbox_diagonal, anchors=anchors(faces_a, faces_b)),
                       turn)

    if label_pairs is None:
        label_pairs = [(label, label) for label in sorted(set(a.parts.tolist()) & set(b.parts.tolist()))]
    alignments: dict[int, PartAlignment] = {}
    pieces: list[Piece] = []
    for label_a, label_b in label_pairs:
        fa = np.flatnonzero(a.face_labels == label_a)
        fb = np.flatnonzero(b.face_labels == label_b)
        part = align(fa, fb, samples)
        alignments[int(label_a)] = part
        matched = _match_components(a, b, fa, fb, part) if components else None
        if matched is None:
            pieces.append(Piece(fa, part, fb))
            continue
        for ca, cb in matched:
            pieces.append(Piece(ca, align(ca, cb, max(200, samples * len(ca) // len(fa))), cb))
    if whole is None:
        pa = a.points(*sample_surface(a, samples, rng)) @ turn.T
        pb = b.points(*sample_surface(b, samples, rng))
        whole = _turned(align_points(pa, pb, iterations, size=b.bbox_diagonal,
                                     anchors=None if ka is None else (ka[1] @ turn.T, kb[1])), turn)
    alignments[WHOLE] = whole
    return Registration(a, b, alignments, pieces, method)


def _turned(alignment: PartAlignment, turn: np.ndarray) -> PartAlignment:
    """``alignment`` of points turned by ``turn`` (3, 3), as an alignment of the unturned points."""
    if np.array_equal(turn, np.eye(3)):
        return alignment
    return dataclasses.replace(alignment, matrix=alignment.matrix @ turn)


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


def register_points(a: PartMesh, b: PartMesh, face: np.ndarray, bary: np.ndarray, method: str = PART_LABELS):
    """Map surface points of ``a`` to ``b`` with ``register(a, b)`` (``method`` ``PART_LABELS``) or
    ``register_label_free(a, b)`` (``LABEL_FREE``), default settings, reusing the registration of the
    same two shapes (by content) made before, in this process or kept on disk
    (``datagen.registration_cache``).

    face: (N,) int faces of ``a``; bary: (N, 3) float64. Returns (face_b (N,) int64, bary_b (N, 3)
    float64, confidence (N,) float64 in [0, 1]), as ``Registration.map``.
    """
    return cached_registration(a, b, method).map(face, bary)


def cached_registration(a: PartMesh, b: PartMesh, method: str = PART_LABELS) -> Registration:
    """``register(a, b)`` or ``register_label_free(a, b)`` (by ``method``), made once per pair of shapes
    (by content; ``datagen.registration_cache``)."""
    if method not in (PART_LABELS, LABEL_FREE):
        raise ValueError(f"no registration method {method!r}")
    return _cached_register(a, b, method)


def _cached_register(a: PartMesh, b: PartMesh, method: str = PART_LABELS) -> Registration:
    from sketchgen.datagen.registration_cache import cached_register

    return cached_register(a, b, **({"method": LABEL_FREE} if method == LABEL_FREE else {}))


@dataclass(frozen=True)
class SegmentMatch:
    """Segments of ``a`` paired with segments of ``b`` by where a whole-shape alignment carries them.

    pairs: ((label of a, label of b), ...) paired one to one (Hungarian assignment on the overlap).
    overlap: {label of a: Jaccard overlap of the pair, in [0, 1]}: the sampled points of both segments
    that land on each other (A's points carried to B and B's points to A's nearest carried point),
    over the points of either. agreement: in [0, 1], the fraction of all those sampled points that land
    on their paired segment: 1 when the segmentations agree part for part under the alignment.
    turn: quarter turns about the up axis applied to ``a`` (``UP_TURNS``).
    """

    pairs: tuple[tuple[int, int], ...]
    overlap: dict[int, float]
    agreement: float
    turn: int

    @property
    def trust(self) -> float:
        """In [0, 1], what the pairing's confidences are multiplied by: 0 up to an ``agreement`` of
        ``TRUSTED_AGREEMENT[0]``, 1 from ``TRUSTED_AGREEMENT[1]``, linear between. A chair paired with
        a stool, or two segmentations that cut the shape differently, land below the first."""
        low, high = TRUSTED_AGREEMENT
        return float(np.clip((self.agreement - low) / (high - low), 0.0, 1.0))


def up_turn(quarters: int) -> np.ndarray:
    """(3, 3) float64 rotation by ``quarters`` * 90 degrees about +Y (right-handed)."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarters % 4]
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], np.float64)


def align_whole(a: PartMesh, b: PartMesh, rng: np.random.Generator, *, samples: int = 1500, iterations: int = 15,
                turns: Sequence[int] = UP_TURNS) -> tuple[PartAlignment, int]:
    """The whole-shape alignment of ``a`` onto ``b`` without labels, and the quarter turn about the up
    axis it starts from: each of ``turns`` is tried (frames, then a per-axis-scale ICP) and the lowest
    residual wins, the first of ``turns`` unless another lowers it by 10% (a near-symmetric shape keeps
    its pose); the winner is then refined with an affine map (``align_points``)."""
    pa = a.points(*sample_surface(a, samples, rng))
    pb = b.points(*sample_surface(b, samples, rng))
    tried = [(align_points(pa @ up_turn(k).T, pb, iterations, affine=False, size=b.bbox_diagonal).residual, k)
             for k in turns]
    best = min(tried)
    if best[0] >= 0.9 * tried[0][0]:
        best = tried[0]
    turn = up_turn(best[1])
    return _turned(align_points(pa @ turn.T, pb, iterations, size=b.bbox_diagonal), turn), best[1]


def match_segments(a: PartMesh, b: PartMesh, whole: PartAlignment, rng: np.random.Generator, *,
                   samples: int = 1500, min_overlap: float = 0.25, turn: int = 0) -> SegmentMatch:
    """Pair the segments (part labels) of ``a`` and ``b`` by their overlap under ``whole`` (A onto B):
    the Hungarian assignment maximising the Jaccard overlap, keeping pairs of at least ``min_overlap``.
    Labels are used only as segment ids here: their values need not agree across the shapes."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree

    fa, wa = sample_surface(a, samples, rng)
    carried = whole.apply(a.points(fa, wa))
    fb_hit = closest_surface_points(b, carried)[0]
    fb, wb = sample_surface(b, samples, rng)
    pb = b.points(fb, wb)
    nearest = cKDTree(carried).query(pb)[1]
    la, lb = a.parts, b.parts
    ia = np.searchsorted(la, a.face_labels[fa])
    ib = np.searchsorted(lb, b.face_labels[fb_hit])
    counts = np.zeros((len(la), len(lb)))
    np.add.at(counts, (ia, ib), 1.0)
    np.add.at(counts, (ia[nearest], np.searchsorted(lb, b.face_labels[fb])), 1.0)
    union = counts.sum(1)[:, None] + counts.sum(0)[None, :] - counts
    jaccard = counts / np.maximum(union, 1.0)
    rows, cols = linear_sum_assignment(-jaccard)
    keep = [(r, c) for r, c in zip(rows, cols) if jaccard[r, c] >= min_overlap]
    pairs = tuple((int(la[r]), int(lb[c])) for r, c in keep)
    agreement = float(sum(counts[r, c] for r, c in keep) / max(counts.sum(), 1.0))
    return SegmentMatch(pairs, {int(la[r]): float(jaccard[r, c]) for r, c in keep}, agreement, turn)


def register_label_free(a: PartMesh, b: PartMesh, *, samples: int = 1500, iterations: int = 15,
                        seed: int = 0, turns: Sequence[int] = UP_TURNS) -> Registration:
    """Registration of ``a`` onto ``b`` that never reads a label as a part's name: the whole shapes
    are aligned (``align_whole``, searching quarter turns about the up axis), the segments paired by
    their overlap (``match_segments``), then each pair aligned part to part as ``register`` does.
    A point of a segment left unpaired (a chair's back against a stool) is placed by the whole-shape
    alignment with its confidence quartered. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    whole, k = align_whole(a, b, rng, samples=samples, iterations=iterations, turns=turns)
    match = match_segments(a, b, whole, rng, samples=samples, turn=k)
    reg = register(a, b, samples=samples, iterations=iterations, seed=seed + 1, label_pairs=match.pairs,
                   turn=up_turn(k), whole=whole, method=LABEL_FREE)
    return dataclasses.replace(reg, match=match)


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
