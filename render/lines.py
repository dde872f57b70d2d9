"""Object-space line drawings of a mesh: contours, boundaries, creases and suggestive contours,
hidden lines removed, chained into strokes.

- contour: on a smooth mesh, the zero crossings of n.v interpolated along edges from vertex normals and
  joined across each face (Hertzmann & Zorin 2000), v the unit vector from the point to the eye; on a
  faceted mesh, the edges between a front-facing and a back-facing face. ``smooth=None`` picks by
  ``PreparedMesh.is_smooth`` (few edges sharper than 30 degrees).
- boundary: edges used by one face only.
- crease: edges whose two face normals differ by more than ``crease_deg``. An edge that is both a
  contour (faceted mesh) and a crease is typed ``contour``: the outline takes precedence, as in
  Freestyle's silhouette, so every edge appears once.
- suggestive: zero crossings of radial curvature on front-facing surface where its derivative along
  the projected view direction exceeds ``suggestive_threshold``; stroke weight rises from 0 to 1 over a
  further ``suggestive_fade`` (see render.curvature for the scale-free units).

Hidden lines are removed by ray casting samples of every segment (render.visibility.visible_pieces),
and the visible pieces of each type are chained into maximal polylines (render.chain).
"""

from __future__ import annotations

import numpy as np

from render.camera import Camera
from render.chain import chain_segments
from render.curvature import radial_curvature, suggestive_strength
from render.errors import InputError
from render.prepared import PreparedMesh, prepare
from render.strokes import LINE_TYPES, Drawing, Stroke
from render.visibility import visible_pieces

__all__ = ["extract_lines", "prepare", "PreparedMesh", "DEFAULT_KINDS"]

DEFAULT_KINDS = ("contour", "boundary", "crease")
SUGGESTIVE_THRESHOLD = 20.0
SUGGESTIVE_FADE = 40.0


class _Segments:
    """Candidate line segments of one type: (S, 3) p0/p1 world endpoints, (S,) int64 node ids of the ends
    for chaining, (S,) int64 face each segment lies on, optional (S,) int64 ring faces (smooth contours)
    and (S,) float64 weight."""

    def __init__(self, kind, p0, p1, node0, node1, face, ring=None, weight=None):
        self.kind, self.p0, self.p1 = kind, p0, p1
        self.node0, self.node1, self.face, self.ring, self.weight = node0, node1, face, ring, weight


def extract_lines(mesh, camera: Camera, *, kinds=DEFAULT_KINDS, crease_deg: float = 45.0,
                  smooth: bool | None = None, suggestive_threshold: float = SUGGESTIVE_THRESHOLD,
                  suggestive_fade: float = SUGGESTIVE_FADE, spacing_px: float = 1.0,
                  prepared: PreparedMesh | None = None) -> Drawing:
    """The visible lines of ``mesh`` (trimesh.Trimesh, world coordinates) seen by ``camera``.

    kinds: line types to extract, any of render.strokes.LINE_TYPES.
    crease_deg: creases are edges whose face normals differ by more than this (degrees).
    smooth: contour method (True interpolated, False faceted, None automatic).
    spacing_px: sample spacing in pixels for hidden-line removal.
    prepared: render.lines.prepare(mesh), to reuse per-mesh data over many views.
    Returns a Drawing whose strokes are ordered by type (in ``kinds`` order), then deterministically.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in LINE_TYPES]
    if unknown:
        raise InputError(f"unknown line type {unknown[0]!r} (choose from {', '.join(LINE_TYPES)})")
    if not spacing_px > 0:
        raise InputError(f"spacing_px must be positive, got {spacing_px!r}")
    prep = prepared if prepared is not None else prepare(mesh)
    if len(prep.faces) == 0:
        return Drawing(camera=camera, strokes=[])
    smooth = prep.is_smooth if smooth is None else bool(smooth)
    facing = _face_facing(prep, camera)
    sets = []
    for kind in kinds:
        if kind == "contour":
            sets.append(_smooth_contours(prep, camera) if smooth else _faceted_contours(prep, facing))
        elif kind == "boundary":
            sets.append(_boundaries(prep, facing))
        elif kind == "crease":
            sets.append(_creases(prep, facing, crease_deg, exclude_contours=not smooth and "contour" in kinds))
        else:
            sets.append(_suggestive(prep, camera, suggestive_threshold, suggestive_fade))
    return Drawing(camera=camera, strokes=_visible_strokes(prep, camera, sets, spacing_px))


# ---------------------------------------------------------------------- candidate segments
def _face_facing(prep: PreparedMesh, camera: Camera) -> np.ndarray:
    """(F,) float64 n . (eye - p) per face: > 0 where the face's front side faces the camera."""
    if camera.is_ortho:
        return prep.face_normals @ (-camera.forward)
    return prep.face_normals @ camera.position - prep.face_offsets


def _edge_segments(prep, kind, edges, facing) -> _Segments:
    """Segments along mesh edges (ids ``edges``), carried by their camera-facing adjacent face."""
    ef = prep.edge_faces[edges]
    second_front = (ef[:, 1] >= 0) & (facing[np.maximum(ef[:, 1], 0)] > facing[ef[:, 0]])
    face = np.where(second_front, ef[:, 1], ef[:, 0])
    a, b = prep.edges[edges, 0], prep.edges[edges, 1]
    return _Segments(kind, prep.vertices[a], prep.vertices[b], a, b, face)


def _faceted_front(prep, facing):
    """(E,) bool front-facing per adjacent face, with inconsistent winding across an edge undone."""
    ef = prep.edge_faces
    f0 = facing[ef[:, 0]] > 0
    f1 = (facing[np.maximum(ef[:, 1], 0)] > 0) ^ prep.edge_flip
    return f0, f1


def _faceted_contour_mask(prep, facing) -> np.ndarray:
    f0, f1 = _faceted_front(prep, facing)
    return (prep.edge_count == 2) & (f0 != f1)


def _faceted_contours(prep, facing) -> _Segments:
    return _edge_segments(prep, "contour", np.flatnonzero(_faceted_contour_mask(prep, facing)), facing)


def _boundaries(prep, facing) -> _Segments:
    return _edge_segments(prep, "boundary", np.flatnonzero(prep.edge_count == 1), facing)


def _creases(prep, facing, crease_deg, exclude_contours) -> _Segments:
    mask = prep.edge_angle_deg > crease_deg  # NaN on boundaries compares False
    if exclude_contours:
        mask &= ~_faceted_contour_mask(prep, facing)
    if prep.is_closed:
        # on a closed outward mesh an edge between two back faces is always hidden: skip its rays
        f0, f1 = _faceted_front(prep, facing)
        mask &= f0 | f1
    return _edge_segments(prep, "crease", np.flatnonzero(mask), facing)


def _zero_crossings(prep, values, kind, face_ok=None, ring=False, weight=None) -> _Segments:
    """Segments joining, across each face, the zero crossings of a per-vertex (V,) field ``values``.

    Crossings are computed once per edge so neighbouring faces share their endpoints exactly; node ids
    are edge ids. face_ok: optional (F,) bool filter; weight: optional (F,) float64 per face.
    """
    positive = values > 0
    side = positive[prep.faces]  # (F, 3)
    crossed = side != side[:, [1, 2, 0]]  # face edge k runs corner k -> k + 1
    has = crossed.any(axis=1)
    if face_ok is not None:
        has &= face_ok
    faces = np.flatnonzero(has)
    crossed = crossed[faces]
    k_first = np.argmax(crossed, axis=1)
    k_second = 2 - np.argmax(crossed[:, ::-1], axis=1)
    e0 = prep.face_edges[faces, k_first]
    e1 = prep.face_edges[faces, k_second]
    points = _edge_crossings(prep, values, np.concatenate([e0, e1]))
    p0, p1 = points[: len(faces)], points[len(faces):]
    return _Segments(kind, p0, p1, e0, e1, faces, ring=faces if ring else None,
                     weight=None if weight is None else weight[faces])


def _edge_crossings(prep, values, edges) -> np.ndarray:
    """(len(edges), 3) float64 points where the linear interpolation of ``values`` along each edge is 0."""
    a, b = prep.edges[edges, 0], prep.edges[edges, 1]
    va, vb = values[a], values[b]
    t = np.clip(va / (va - vb), 0.0, 1.0)
    return prep.vertices[a] + t[:, None] * (prep.vertices[b] - prep.vertices[a])


def _smooth_contours(prep, camera) -> _Segments:
    ndotv = np.einsum("ij,ij->i", prep.vertex_normals, camera.view_directions(prep.vertices))
    return _zero_crossings(prep, ndotv, "contour", ring=True)


def _suggestive(prep, camera, threshold, fade) -> _Segments:
    kr = radial_curvature(prep, camera)
    ndotv = np.einsum("ij,ij->i", prep.vertex_normals, camera.view_directions(prep.vertices))
    side = kr[prep.faces] > 0
    candidates = np.flatnonzero((side != side[:, [1, 2, 0]]).any(axis=1)
                                & (ndotv[prep.faces] > 0).all(axis=1))
    strength = np.zeros(len(prep.faces))
    strength[candidates] = suggestive_strength(prep, camera, kr, candidates)
    face_ok = np.zeros(len(prep.faces), dtype=bool)
    face_ok[candidates] = strength[candidates] > threshold
    weight = np.clip((strength - threshold) / fade, 0.0, 1.0) if fade > 0 else (strength > threshold) * 1.0
    return _zero_crossings(prep, kr, "suggestive", face_ok=face_ok, weight=weight)


# ---------------------------------------------------------------------- visibility and strokes
def _visible_strokes(prep, camera, sets: list[_Segments], spacing_px) -> list[Stroke]:
    """Hidden-line removal of all candidate segments at once, then chaining per line type."""
    sizes = [len(seg.p0) for seg in sets]
    if sum(sizes) == 0:
        return []
    p0 = np.concatenate([seg.p0 for seg in sets])
    p1 = np.concatenate([seg.p1 for seg in sets])
    ring = None
    if any(seg.ring is not None for seg in sets):
        ring = np.concatenate([seg.ring if seg.ring is not None else np.full(len(seg.p0), -1, np.int64)
                               for seg in sets])
    pieces = visible_pieces(prep, camera, p0, p1, ring_faces=ring, spacing_px=spacing_px)
    n = len(pieces.seg)
    if n == 0:
        return []
    node0 = np.concatenate([seg.node0 for seg in sets])[pieces.seg]
    node1 = np.concatenate([seg.node1 for seg in sets])[pieces.seg]
    face = np.concatenate([seg.face for seg in sets])[pieces.seg].astype(np.int64)
    weight = np.concatenate([seg.weight if seg.weight is not None else np.ones(len(seg.p0))
                             for seg in sets])[pieces.seg]
    set_of = np.repeat(np.arange(len(sets)), sizes)[pieces.seg]
    # ends cut by hidden-line removal get ids of their own (negative) so they never join anything
    node0 = np.where(pieces.whole0, node0, -1 - np.arange(n))
    node1 = np.where(pieces.whole1, node1, -1 - n - np.arange(n))
    d = p1[pieces.seg] - p0[pieces.seg]
    ends = np.concatenate([p0[pieces.seg] + pieces.t0[:, None] * d, p0[pieces.seg] + pieces.t1[:, None] * d])
    ends_xy, ends_depth = camera.world_to_pixels(ends)  # row i: start of piece i; row n + i: its end
    strokes = []
    for k, seg in enumerate(sets):
        mine = np.flatnonzero(set_of == k)  # pieces are in segment order, so sets are contiguous
        for order, flipped in chain_segments(node0[mine], node1[mine]):
            order = mine[order]
            first = order[0] + (n if flipped[0] else 0)
            rows = np.concatenate([[first], np.where(flipped, order, order + n)])
            strokes.append(Stroke(xy=ends_xy[rows], depth=ends_depth[rows], points=ends[rows],
                                  faces=np.concatenate([face[order[:1]], face[order]]), kind=seg.kind,
                                  weight=np.concatenate([weight[order[:1]], weight[order]])))
    return strokes
