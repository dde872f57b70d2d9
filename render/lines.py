"""Object-space line drawings of a mesh: contours, boundaries, creases and suggestive contours,
hidden lines removed, chained into strokes.

- contour: the zero crossings of n.v interpolated along edges from vertex normals and joined across
  each face (Hertzmann & Zorin 2000), v the unit vector from the point to the eye; vertex normals are
  split at sharp edges (more than SMOOTH_SHARP_DEG = 30 degrees, as Blender's auto smooth) and all
  around vertices where the mesh is too coarse for them (an interpolated contour could stray from the
  faceted outline by more than SMOOTH_MAX_DEVIATION = 1/1000 of the mesh's size:
  PreparedMesh.coarse_vertices), and along those edges the contour is the edge itself where one face
  is front-facing and the other back-facing. So a cube, a polyhedron or a 320-face sphere gets faceted
  contours (its exact outline), a finely tessellated sphere interpolated ones, and a mixed mesh each
  where it belongs. ``smooth=True`` uses unsplit vertex normals everywhere, ``smooth=False`` only
  face edges.
- boundary: edges used by one face only.
- crease: edges whose two face normals differ by more than ``crease_deg``. An edge that is both a
  contour (a sharp edge between a front- and a back-facing face) and a crease is typed ``contour``:
  the outline takes precedence, as in Freestyle's silhouette, so every edge appears once.
- suggestive: zero crossings of radial curvature on front-facing surface where its derivative along
  the projected view direction exceeds ``suggestive_threshold``; stroke weight rises from 0 to 1 over a
  further ``suggestive_fade`` (see render.curvature for the scale-free units).

Hidden lines are removed by ray casting samples of every segment (render.visibility.visible_pieces),
and the visible pieces of each type are chained into maximal polylines (render.chain).
"""

from __future__ import annotations

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.chain import chain_segments
from sketchgen.render.curvature import radial_curvature, suggestive_strength
from sketchgen.render.prepared import SMOOTH_MAX_DEVIATION, SMOOTH_SHARP_DEG, PreparedMesh, prepare
from sketchgen.render.strokes import DEFAULT_LINES, LINE_TYPES, Drawing, Stroke
from sketchgen.render.visibility import visible_pieces

__all__ = ["extract_lines", "prepare", "PreparedMesh", "DEFAULT_LINES"]

SUGGESTIVE_THRESHOLD = 20.0
SUGGESTIVE_FADE = 40.0


class _Segments:
    """Candidate line segments of one type: (S, 3) p0/p1 world endpoints, (S,) int64 node ids of the ends
    for chaining, (S,) int64 face each segment lies on, optional (S,) int64 ring faces (smooth contours)
    and (S,) float64 weight."""

    def __init__(self, kind, p0, p1, node0, node1, face, ring=None, weight=None):
        self.kind, self.p0, self.p1 = kind, p0, p1
        self.node0, self.node1, self.face, self.ring, self.weight = node0, node1, face, ring, weight


def extract_lines(mesh, camera: Camera, *, kinds=DEFAULT_LINES, crease_deg: float = 45.0,
                  smooth: bool | None = None, suggestive_threshold: float = SUGGESTIVE_THRESHOLD,
                  suggestive_fade: float = SUGGESTIVE_FADE, spacing_px: float = 1.0,
                  prepared: PreparedMesh | None = None) -> Drawing:
    """The visible lines of ``mesh`` (trimesh.Trimesh, world coordinates) seen by ``camera``.

    kinds: line types to extract, any of render.strokes.LINE_TYPES.
    crease_deg: creases are edges whose face normals differ by more than this (degrees).
    smooth: contour method: None interpolated where the mesh is smooth and fine, faceted along sharp
        edges and where it is coarse; True interpolated from unsplit vertex normals; False faceted
        (edges between front and back faces).
    spacing_px: sample spacing in pixels for hidden-line removal.
    prepared: render.lines.prepare(mesh), to reuse per-mesh data over many views.
    Clip planes the camera leaves out are fitted to the mesh (Camera.fitted).
    Returns a Drawing whose strokes are ordered by type (in ``kinds`` order), then deterministically.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in LINE_TYPES]
    if unknown:
        raise InputError(f"unknown line type {unknown[0]!r} (choose from {', '.join(LINE_TYPES)})")
    if not spacing_px > 0:
        raise InputError(f"spacing_px must be positive, got {spacing_px!r}")
    prep = prepared if prepared is not None else prepare(mesh)
    if mesh is not None and (len(prep.faces) != len(mesh.faces) or len(prep.vertices) != len(mesh.vertices)):
        raise InputError("prepared was made from another mesh (its face or vertex count differs)")
    if len(prep.faces) == 0:
        return Drawing(camera=camera, strokes=[])
    facing = _face_facing(prep, camera)
    contour_edges = None
    if "contour" in kinds:
        contour_set, contour_edges = _contours(prep, camera, facing, smooth)
    sets = []
    for kind in kinds:
        if kind == "contour":
            sets.append(contour_set)
        elif kind == "boundary":
            sets.append(_boundaries(prep, facing))
        elif kind == "crease":
            sets.append(_creases(prep, facing, crease_deg, contour_edges))
        else:
            sets.append(_suggestive(prep, camera, suggestive_threshold, suggestive_fade))
    strokes = _visible_strokes(prep, camera.fitted(*prep.bounds), sets, spacing_px)
    return Drawing(camera=camera, strokes=strokes)


# ---------------------------------------------------------------------- candidate segments
def _face_facing(prep: PreparedMesh, camera: Camera) -> np.ndarray:
    """(F,) float64 n . (eye - p) per face: > 0 where the face's front side faces the camera."""
    if camera.is_ortho:
        return prep.face_normals @ (-camera.forward)
    return prep.face_normals @ camera.position - prep.face_offsets


def _to_eye(camera: Camera, points: np.ndarray) -> np.ndarray:
    """(N, 3) float64 unit vectors from world points towards the eye (Camera.view_directions, leaner)."""
    if camera.is_ortho:
        return np.broadcast_to(-camera.forward, points.shape)
    d = camera.position - points
    return d / np.sqrt(np.einsum("ij,ij->i", d, d))[:, None]


def _edge_segments(prep, kind, edges, facing) -> _Segments:
    """Segments along mesh edges (ids ``edges``), carried by their camera-facing adjacent face."""
    ef = prep.edge_faces[edges]
    second_front = (ef[:, 1] >= 0) & (facing[prep.edge_second_face[edges]] > facing[ef[:, 0]])
    face = np.where(second_front, ef[:, 1], ef[:, 0])
    a, b = prep.edges[edges, 0], prep.edges[edges, 1]
    return _Segments(kind, prep.vertices[a], prep.vertices[b], a, b, face)


def _faceted_front(prep, facing, edges):
    """Two (K,) bool: is the first / second face of each mesh edge in ``edges`` ((K,) int64) front-facing,
    with inconsistent winding across an edge undone. Only the edges a rule needs are looked at."""
    front = facing > 0  # gathering booleans per edge is cheaper than gathering floats
    return front[prep.edge_faces[edges, 0]], front[prep.edge_second_face[edges]] ^ prep.edge_flip[edges]


def _contours(prep, camera, facing, smooth) -> tuple[_Segments, np.ndarray]:
    """Contour segments, and the (K,) int64 ascending ids of the mesh edges drawn as contours.

    Interpolated zero crossings of n.v inside smooth groups of faces (split vertex normals, see
    PreparedMesh.smooth_groups), plus the edges between a front- and a back-facing face wherever the
    normals are split (sharp or coarse, boundary-free edges). smooth=False: edges only; True: one
    normal per vertex; None: groups split at edges sharper than SMOOTH_SHARP_DEG and at coarse vertices.
    """
    manifold = prep.edge_count == 2
    if smooth is False:
        candidates = np.flatnonzero(manifold)
        f0, f1 = _faceted_front(prep, facing, candidates)
        edges = candidates[f0 != f1]
        return _edge_segments(prep, "contour", edges, facing), edges
    groups = prep.smooth_groups(None) if smooth else prep.smooth_groups(SMOOTH_SHARP_DEG, SMOOTH_MAX_DEVIATION)
    corner_group, normals, group_points, split = groups
    candidates = np.flatnonzero(manifold & split)
    f0, f1 = _faceted_front(prep, facing, candidates)
    edge_ids = candidates[f0 != f1]
    ndotv = np.einsum("ij,ij->i", normals, _to_eye(camera, group_points))
    inner = _zero_crossings(prep, ndotv, "contour", groups=corner_group, ring=True)
    edges = _edge_segments(prep, "contour", edge_ids, facing)
    offset = int(max(inner.node0.max(), inner.node1.max())) + 1 if len(inner.node0) else 0
    merged = _Segments("contour", np.concatenate([inner.p0, edges.p0]), np.concatenate([inner.p1, edges.p1]),
                       np.concatenate([inner.node0, edges.node0 + offset]),
                       np.concatenate([inner.node1, edges.node1 + offset]),
                       np.concatenate([inner.face, edges.face]),
                       ring=np.concatenate([inner.ring, np.full(len(edges.p0), -1, np.int64)]))
    return merged, edge_ids


def _boundaries(prep, facing) -> _Segments:
    return _edge_segments(prep, "boundary", np.flatnonzero(prep.edge_count == 1), facing)


def _creases(prep, facing, crease_deg, contour_edges) -> _Segments:
    mask = prep.edge_angle_deg > crease_deg  # NaN on boundaries compares False
    if contour_edges is not None:
        mask[contour_edges] = False  # drawn once, as contour
    edges = np.flatnonzero(mask)
    if prep.is_closed:
        # on a closed outward mesh an edge between two back faces is always hidden: skip its rays
        f0, f1 = _faceted_front(prep, facing, edges)
        edges = edges[f0 | f1]
    return _edge_segments(prep, "crease", edges, facing)


# per sign code (bit k: corner k positive) of a face: its first and last face edge whose ends differ
_CROSSED_EDGES = np.array([[0, 0], [0, 2], [0, 1], [1, 2], [1, 2], [0, 1], [0, 2], [0, 0]], dtype=np.int64)
_NEXT_CORNER = np.array([1, 1, -2], dtype=np.int64)  # flat offset from corner k to corner k + 1 (mod 3)


def _zero_crossings(prep, values, kind, groups=None, face_ok=None, ring=False, weight=None) -> _Segments:
    """Segments joining, across each face, the zero crossings of a scalar field given per vertex.

    values: (V,) float64 per vertex, or (G,) per smooth group when ``groups`` ((F, 3) int64 group of
    each face corner) is given. A crossing is computed once per edge and pair of end values, from the
    edge's lower vertex, so neighbouring faces share their endpoints exactly; its node id encodes the
    pair (value index at the lower end, value index at the upper end). face_ok: optional (F,) bool filter;
    weight: optional (F,) float64 per face.
    """
    corner = prep.faces if groups is None else groups  # index into ``values`` of each face corner
    positive = (values > 0).view(np.uint8)[corner]  # (F, 3) per face corner
    code = positive[:, 0] | (positive[:, 1] << 1) | (positive[:, 2] << 2)
    has = (code != 0) & (code != 7)  # corners on both sides of zero
    if face_ok is not None:
        has &= face_ok
    faces = np.flatnonzero(has)
    # the two crossed face edges (edge k runs corner k -> k + 1), as flat corner indices 3 f + k
    at = (3 * np.repeat(faces, 2)).reshape(-1, 2) + _CROSSED_EDGES[code[faces]]
    at = at.ravel()
    at1 = at + _NEXT_CORNER[at % 3]
    edge = prep.face_edges.ravel()[at]
    forward = prep.face_edge_forward.ravel()[at]  # face walks the edge from its lower vertex
    corner = corner.ravel()
    lo = np.where(forward, corner[at], corner[at1])
    hi = np.where(forward, corner[at1], corner[at])
    # the values at the two ends name their vertices, hence the edge: the pair is the crossing's id
    node = (lo * np.int64(len(values)) + hi).reshape(-1, 2)
    va, vb = values[lo], values[hi]
    t = np.clip(va / (va - vb), 0.0, 1.0)
    a, b = prep.vertices[prep.edges[edge, 0]], prep.vertices[prep.edges[edge, 1]]
    points = (a + t[:, None] * (b - a)).reshape(-1, 2, 3)
    return _Segments(kind, points[:, 0], points[:, 1], node[:, 0], node[:, 1], faces,
                     ring=faces if ring else None, weight=None if weight is None else weight[faces])


def _suggestive(prep, camera, threshold, fade) -> _Segments:
    kr = radial_curvature(prep, camera)
    ndotv = np.einsum("ij,ij->i", prep.vertex_normals, _to_eye(camera, prep.vertices))
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
        order, flipped, lengths = chain_segments(node0[mine], node1[mine])
        if len(lengths) == 0:
            continue
        # all polylines of this type at once: vertex rows (start of the first piece, then each piece's
        # far end) into ``ends``, and the piece each vertex belongs to
        order = mine[order]
        heads = np.cumsum(lengths) - lengths  # position of each chain's first piece in ``order``
        tail_rows = np.where(flipped, order, order + n)
        head_rows = np.where(flipped[heads], order[heads] + n, order[heads])
        at = np.cumsum(lengths + 1) - (lengths + 1)  # where each polyline's vertices start
        rows = np.empty(len(order) + len(lengths), dtype=np.int64)
        piece = np.empty_like(rows)
        is_head = np.zeros(len(rows), dtype=bool)
        is_head[at] = True
        rows[is_head], rows[~is_head] = head_rows, tail_rows
        piece[is_head], piece[~is_head] = order[heads], order
        xy, depth, pts = ends_xy[rows], ends_depth[rows], ends[rows]
        fs, ws = face[piece], weight[piece]
        for a, m in zip(at.tolist(), (lengths + 1).tolist()):
            strokes.append(Stroke(xy=xy[a:a + m], depth=depth[a:a + m], points=pts[a:a + m], faces=fs[a:a + m],
                                  kind=seg.kind, weight=ws[a:a + m]))
    return strokes
