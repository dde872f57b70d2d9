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
    """
    import trimesh

    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    subset = np.arange(len(faces)) if face_subset is None else np.asarray(face_subset, np.int64)
    sub = trimesh.Trimesh(vertices, faces[subset], process=False, validate=False)
    closest, distance, tri = trimesh.proximity.closest_point(sub, np.asarray(points, np.float64))
    bary = trimesh.triangles.points_to_barycentric(sub.triangles[tri], closest)
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(axis=1, keepdims=True)
    return subset[tri].astype(np.int64), bary, np.asarray(distance, np.float64)
