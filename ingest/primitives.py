"""Swept superellipse tubes on a fixed (u, v) grid: the parts the bundled collection is built from.

A tube is a sequence of ``nv`` rings along a centre curve; ring j is the superellipse
``c_j + a_j * sgn(cos u)|cos u|^e * A1_j + b_j * sgn(sin u)|sin u|^e * A2_j`` at ``nu`` angles
u_i = 2 pi i / nu, closed by a fan to the centre at each end. The grid depends only on (nu, nv), so
two tubes built with the same (nu, nv) have the same vertices and faces *by index*: the point with
the same (face, barycentric weights) on two instances is the same (part, u, v). That is the exact
dense correspondence of the bundled collection.

Faces face outward when ``A1 x A2`` points along increasing j (the direction the rings advance); a
lathe (centres on one axis) may turn back along its profile and stays consistently oriented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tube:
    """Where one tube's vertices sit in the shape: ring (j, i) is vertex ``offset + j * nu + i``;
    the start and end cap centres follow the rings."""

    offset: int
    nu: int
    nv: int

    def ring(self, j: int, i: int) -> int:
        return self.offset + (j % self.nv) * self.nu + (i % self.nu)

    @property
    def start(self) -> int:
        return self.offset + self.nv * self.nu

    @property
    def end(self) -> int:
        return self.offset + self.nv * self.nu + 1


def tube_faces(nu: int, nv: int) -> np.ndarray:
    """(2 nu (nv - 1) + 2 nu, 3) int64 faces of a tube grid (local vertex numbering)."""
    j, i = np.meshgrid(np.arange(nv - 1), np.arange(nu), indexing="ij")
    a = j * nu + i
    b = j * nu + (i + 1) % nu
    c = (j + 1) * nu + (i + 1) % nu
    d = (j + 1) * nu + i
    side = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    i = np.arange(nu)
    start, end = nv * nu, nv * nu + 1
    cap0 = np.stack([np.full(nu, start), (i + 1) % nu, i], -1)
    last = (nv - 1) * nu
    cap1 = np.stack([np.full(nu, end), last + i, last + (i + 1) % nu], -1)
    return np.concatenate([side, cap0, cap1]).astype(np.int64)


def tube_vertices(centres, axis1, axis2, a, b, e: float, nu: int) -> np.ndarray:
    """(nv * nu + 2, 3) float64 vertices of a tube.

    centres, axis1, axis2: (nv, 3) (axes may also be a single (3,) vector); a, b: (nv,) semi-axes
    along axis1 / axis2 (> 0); e: superellipse exponent (1 = ellipse, -> 0 = rectangle).
    """
    centres = np.asarray(centres, np.float64)
    nv = len(centres)
    axis1 = np.broadcast_to(np.asarray(axis1, np.float64), (nv, 3))
    axis2 = np.broadcast_to(np.asarray(axis2, np.float64), (nv, 3))
    a = np.broadcast_to(np.asarray(a, np.float64), (nv,))
    b = np.broadcast_to(np.asarray(b, np.float64), (nv,))
    u = 2.0 * np.pi * np.arange(nu) / nu
    cu, su = np.cos(u), np.sin(u)
    x = np.sign(cu) * np.abs(cu) ** e
    y = np.sign(su) * np.abs(su) ** e
    rings = (centres[:, None, :] + (a[:, None, None] * x[None, :, None]) * axis1[:, None, :]
             + (b[:, None, None] * y[None, :, None]) * axis2[:, None, :])
    return np.concatenate([rings.reshape(-1, 3), centres[:1], centres[-1:]])


def curve_frames(centres: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cross-section axes for a curve lying in the plane with (3,) ``normal``: axis2 = normal,
    axis1 = normal x tangent, so axis1 x axis2 is the tangent. Returns two (nv, 3) arrays."""
    tangent = np.gradient(np.asarray(centres, np.float64), axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    n = np.asarray(normal, np.float64) / np.linalg.norm(normal)
    axis1 = np.cross(n, tangent)
    axis1 /= np.linalg.norm(axis1, axis=1, keepdims=True)
    return axis1, np.broadcast_to(n, axis1.shape).copy()


class ShapeBuilder:
    """Accumulates tubes into one labelled mesh and names keypoints by vertex."""

    def __init__(self) -> None:
        self._vertices: list[np.ndarray] = []
        self._faces: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._count = 0
        self._keypoints: list[tuple[int, int]] = []  # (semantic id, vertex)

    def tube(self, label: int, centres, axis1, axis2, a, b, e: float, nu: int) -> Tube:
        verts = tube_vertices(centres, axis1, axis2, a, b, e, nu)
        nv = len(np.asarray(centres))
        faces = tube_faces(nu, nv) + self._count
        tube = Tube(self._count, nu, nv)
        self._vertices.append(verts)
        self._faces.append(faces)
        self._labels.append(np.full(len(faces), label, np.int64))
        self._count += len(verts)
        return tube

    def keypoint(self, semantic_id: int, vertex: int) -> None:
        self._keypoints.append((semantic_id, vertex))

    def build(self):
        """(vertices (V, 3) float64, faces (F, 3) int64, labels (F,) int64, keypoint face (K,) int64,
        keypoint bary (K, 3) float64, semantic ids (K,) int64); each keypoint sits on its vertex,
        expressed on the first face that uses it."""
        vertices = np.concatenate(self._vertices)
        faces = np.concatenate(self._faces)
        labels = np.concatenate(self._labels)
        kface, kbary, kid = [], [], []
        for sid, v in self._keypoints:
            f, corner = np.argwhere(faces == v)[0]
            w = np.zeros(3)
            w[corner] = 1.0
            kface.append(f)
            kbary.append(w)
            kid.append(sid)
        return (vertices, faces, labels, np.asarray(kface, np.int64), np.asarray(kbary, np.float64),
                np.asarray(kid, np.int64))
