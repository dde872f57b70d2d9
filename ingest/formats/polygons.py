"""Polygon faces (OBJ ``f`` lines, OFF faces) of any size, convex or not, split into triangles.

A fan (v0, vi, vi+1) is right only for a convex polygon: on a U-shaped cap it lays triangles across
the notch. Each polygon of four or more corners is projected onto its plane (normal by Newell's
method, which suits slightly non-planar polygons: Sutherland, Sproull & Schumacker 1974) and tested
for convexity there; convex ones keep the fan (cheap, vectorised, and the triangles older sketchgen
versions produced), the others are triangulated by ear clipping with mapbox_earcut (the library
trimesh uses for its own polygons). Every triangle keeps its polygon's winding, and the triangles of
a polygon stay together in file order.
"""

from __future__ import annotations

import numpy as np

# a turn smaller than this (x the polygon's summed squared edge lengths) counts as straight, not as a reflex corner
_STRAIGHT = 1e-9


def triangulate_polygons(vertices: np.ndarray, indices: np.ndarray, counts: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of polygons given as one flat index list.

    vertices: (V, 3) float64; indices: (sum(counts),) int64 0-based corners of every polygon, polygon
    after polygon, each already checked to lie in [0, V); counts: (P,) int64 corners per polygon, >= 3.
    Returns faces (T, 3) int64 and polygon (T,) int64, the polygon each triangle came from
    (non-decreasing). A convex polygon of n corners gives its n - 2 fan triangles; a non-convex one
    the n - 2 triangles of its ear clipping (fewer only if it has zero-area parts).
    """
    indices = np.asarray(indices, np.int64)
    counts = np.asarray(counts, np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    parts_faces, parts_polygon = [], []
    for n in np.unique(counts):
        which = np.flatnonzero(counts == n)
        corners = indices[starts[which, None] + np.arange(n)]  # (P_n, n)
        if n == 3:
            parts_faces.append(corners)
            parts_polygon.append(which)
            continue
        xy = _plane_coordinates(vertices[corners])
        convex = _is_convex(xy)
        k = np.arange(1, n - 1)
        fan = np.stack([np.repeat(corners[convex, :1], n - 2, axis=1), corners[convex][:, k],
                        corners[convex][:, k + 1]], axis=2).reshape(-1, 3)
        parts_faces.append(fan)
        parts_polygon.append(np.repeat(which[convex], n - 2))
        for p in np.flatnonzero(~convex):
            local = _ear_clip(xy[p])
            parts_faces.append(corners[p][local])
            parts_polygon.append(np.full(len(local), which[p], np.int64))
    if not parts_faces:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    faces = np.concatenate(parts_faces).astype(np.int64).reshape(-1, 3)
    polygon = np.concatenate(parts_polygon).astype(np.int64)
    order = np.argsort(polygon, kind="stable")  # back to file order, each polygon's triangles together
    return faces[order], polygon[order]


def _plane_coordinates(points: np.ndarray) -> np.ndarray:
    """(P, n, 2) float64 coordinates of (P, n, 3) polygon corners in their best-fit planes, oriented so
    that a polygon wound counter-clockwise about its normal has positive area (degenerate polygons:
    any plane)."""
    centred = points - points.mean(axis=1, keepdims=True)
    nxt = np.roll(centred, -1, axis=1)
    normal = _cross(centred, nxt).sum(axis=1)  # Newell: twice the vector area
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = np.where(length > 0, normal / np.where(length > 0, length, 1.0), [0.0, 0.0, 1.0])
    # u: the world axis least aligned with the normal, made perpendicular; w = normal x u
    axis = np.eye(3)[np.argmin(np.abs(normal), axis=1)]
    u = axis - np.einsum("ij,ij->i", axis, normal)[:, None] * normal
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = _cross(normal, u)
    return np.stack([np.einsum("pnk,pk->pn", centred, u), np.einsum("pnk,pk->pn", centred, w)], axis=2)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross's arithmetic, without its axis juggling)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _is_convex(xy: np.ndarray) -> np.ndarray:
    """(P,) bool: each (n, 2) polygon of (P, n, 2) turns left (or goes straight) at every corner and
    goes round once, so its fan from corner 0 covers it exactly."""
    edge = np.roll(xy, -1, axis=1) - xy
    nxt = np.roll(edge, -1, axis=1)
    turn = edge[..., 0] * nxt[..., 1] - edge[..., 1] * nxt[..., 0]
    size = np.einsum("pnk,pnk->p", edge, edge)[:, None]
    left = (turn >= -_STRAIGHT * size).all(axis=1)
    # a pentagram turns left everywhere but goes round twice: its turning angles sum to 4 pi
    angle = np.arctan2(turn, np.einsum("pnk,pnk->pn", edge, nxt)).sum(axis=1)
    return left & (angle < 3.0 * np.pi)


def _ear_clip(xy: np.ndarray) -> np.ndarray:
    """(T, 3) int64 corner numbers of the ear-clipping triangles of one (n, 2) polygon, each wound as
    the polygon is (counter-clockwise); a fan where ear clipping finds nothing (zero area)."""
    import mapbox_earcut

    n = len(xy)
    tri = np.asarray(mapbox_earcut.triangulate_float64(np.ascontiguousarray(xy, np.float64),
                                                       np.array([n], np.uint32)), np.int64).reshape(-1, 3)
    if len(tri) == 0:
        k = np.arange(1, n - 1)
        return np.stack([np.zeros(n - 2, np.int64), k, k + 1], axis=1)
    a, b, c = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    tri[area < 0] = tri[area < 0][:, [0, 2, 1]]
    return tri
