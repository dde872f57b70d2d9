"""Faces a drawing must not see: degenerate ones, and faces stored twice (double-sided surfaces).

Meshes from the wild (ShapeNet's above all) store thin surfaces twice, once per winding. Every edge of
such a surface then has four faces, so no edge is a manifold edge between a front- and a back-facing
face: contours vanish (a double-sided sphere draws blank) and a box's outline turns into creases
between a face and its own twin. ``clean_faces`` finds the copies (and zero-area faces) and is the one
rule both ``draw_views`` and collections (``ingest.partmesh``) apply; inconsistent winding that
remains is undone by ``PreparedMesh``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceCleanup:
    """Which faces survive cleaning. keep: (F',) int64 old indices of kept faces, ascending;
    old_to_new: (F,) int64 new index of every old face (a duplicate maps to its kept twin; -1 for a
    degenerate face); degenerate, duplicate: how many were removed."""

    keep: np.ndarray
    old_to_new: np.ndarray
    degenerate: int
    duplicate: int


def clean_faces(vertices: np.ndarray, faces: np.ndarray, area_eps: float = 1e-14) -> FaceCleanup:
    """Find degenerate faces (repeated vertex or area <= ``area_eps`` x bbox diagonal squared) and
    duplicates (same vertex set as an earlier face, any order/orientation).

    vertices: (V, 3) float64; faces: (F, 3) int64. The first of a set of duplicates is kept.
    """
    faces = np.asarray(faces, dtype=np.int64)
    vertices = np.asarray(vertices, dtype=np.float64)
    n = len(faces)
    tri = vertices[faces]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    diag = float(np.linalg.norm(np.ptp(vertices, axis=0))) or 1.0
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    degenerate = repeated | (area2 <= area_eps * diag * diag)
    key = np.sort(faces, axis=1)
    if len(vertices) < (1 << 21):  # three 21-bit indices in one int64: a 1-D unique is far faster
        key = (key[:, 0] << 42) | (key[:, 1] << 21) | key[:, 2]
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    twin = first[inverse]  # the earliest face with the same vertex set
    duplicate = (twin != np.arange(n)) & ~degenerate
    removed = degenerate | duplicate
    keep = np.flatnonzero(~removed).astype(np.int64)
    old_to_new = np.full(n, -1, dtype=np.int64)
    old_to_new[keep] = np.arange(len(keep))
    dup_idx = np.flatnonzero(duplicate)
    old_to_new[dup_idx] = old_to_new[twin[dup_idx]]
    return FaceCleanup(keep, old_to_new, int(degenerate.sum()), int(duplicate.sum()))


def without_duplicates(mesh):
    """``mesh`` (trimesh.Trimesh) less its degenerate and duplicate faces (``clean_faces``), and the
    FaceCleanup saying which faces were kept. The same object comes back when nothing is removed;
    otherwise a new Trimesh with the same vertices and the kept faces in their order."""
    import trimesh

    cleanup = clean_faces(mesh.vertices, mesh.faces)
    if len(cleanup.keep) == len(mesh.faces):
        return mesh, cleanup
    faces = np.asarray(mesh.faces, dtype=np.int64)[cleanup.keep]
    return trimesh.Trimesh(np.asarray(mesh.vertices, np.float64), faces, process=False, validate=False), cleanup
