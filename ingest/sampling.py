"""Seeded, area-weighted sampling of points on a mesh surface, as (face index, barycentric weights).

A surface point is stored as a face and its barycentric weights rather than xyz, so it can be moved to
another frame (``PartMesh.to_file_coords``) or another shape (``datagen.registration``) exactly.
"""

from __future__ import annotations

import numpy as np


def sample_surface(mesh, n: int, rng: np.random.Generator, labels=None,
                   face_subset=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points uniformly by area on ``mesh`` (a PartMesh or anything with ``vertices``/``faces``).

    labels: optional iterable of part labels (needs ``mesh.face_labels``): sample only those parts.
    face_subset: optional (M,) int face indices: sample only those faces.
    Returns face: (n,) int64 face indices and bary: (n, 3) float64 barycentric weights (rows sum to 1).
    Same ``rng`` state => same samples.
    """
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    areas = face_areas(vertices, faces)
    if labels is not None:
        areas = np.where(np.isin(mesh.face_labels, list(labels)), areas, 0.0)
    if face_subset is not None:
        keep = np.zeros(len(faces), bool)
        keep[np.asarray(face_subset, np.int64)] = True
        areas = np.where(keep, areas, 0.0)
    total = areas.sum()
    if n <= 0 or total <= 0:
        return np.zeros(0, np.int64), np.zeros((0, 3))
    cdf = np.cumsum(areas) / total
    face = np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)
    face = np.minimum(face, len(faces) - 1)
    return face, uniform_barycentric(n, rng)


def uniform_barycentric(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) float64 barycentric weights uniform over a triangle (the square-root fold)."""
    r1 = np.sqrt(rng.random(n))
    r2 = rng.random(n)
    return np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) float64 areas of the (F, 3) ``faces`` over (V, 3) ``vertices``."""
    tri = vertices[faces]
    return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)


def closest_surface_points(mesh, points: np.ndarray, face_subset: np.ndarray | None = None):
    """Nearest surface points of ``mesh`` to (N, 3) ``points`` (same frame), as (face, bary, distance).

    face_subset: optional (M,) int face indices to restrict the search to (e.g. one part's faces).
    Returns face: (N,) int64 into ``mesh.faces``, bary: (N, 3) float64, distance: (N,) float64.
    Answered by libigl's AABB tree (exact point-triangle distances in float64), built once per (mesh,
    subset) and kept while the mesh lives (``_tree``); where two faces are equally near (a shared edge),
    which one is returned is the tree's choice.
    """
    import trimesh

    vertices, faces, subset, tree = _tree(mesh, face_subset)
    query = np.ascontiguousarray(np.asarray(points, np.float64).reshape(-1, 3))
    if len(query) == 0:
        return np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0)
    squared, tri, closest = tree.squared_distance(vertices, faces, query)
    bary = trimesh.triangles.points_to_barycentric(vertices[faces[tri]], closest)
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(axis=1, keepdims=True)
    return subset[tri].astype(np.int64), bary, np.sqrt(np.maximum(squared, 0.0))


_TREES: "weakref.WeakKeyDictionary" = None  # mesh -> {subset digest: (vertices, faces, subset, igl.AABB)}


def _tree(mesh, face_subset):
    """(vertices (V, 3) float64, faces (M, 3) int64 of the subset, subset (M,) int64, built igl.AABB),
    cached per mesh object (weakly: dropped with the mesh) and subset."""
    import hashlib
    import weakref

    import igl

    global _TREES
    if _TREES is None:
        _TREES = weakref.WeakKeyDictionary()
    all_faces = np.asarray(mesh.faces, np.int64)
    subset = np.arange(len(all_faces)) if face_subset is None else np.asarray(face_subset, np.int64).reshape(-1)
    key = None if face_subset is None else hashlib.sha1(subset.tobytes()).hexdigest()
    try:
        per_mesh = _TREES.setdefault(mesh, {})
    except TypeError:  # not weakly referenceable: build every time
        per_mesh = {}
    if key not in per_mesh:
        vertices = np.ascontiguousarray(np.asarray(mesh.vertices, np.float64))
        faces = np.ascontiguousarray(all_faces[subset])
        tree = igl.AABB()
        tree.init(vertices, faces)
        per_mesh[key] = (vertices, faces, subset, tree)
    return per_mesh[key]
