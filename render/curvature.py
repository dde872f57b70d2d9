"""Radial curvature and the suggestive-contour test (DeCarlo, Finkelstein, Rusinkiewicz, Santella 2003).

Suggestive contours are the zero crossings of the radial curvature kr (the normal curvature in the
direction w, the view vector projected onto the tangent plane) where its derivative along w is
positive. The strength of that derivative decides which crossings are kept and how strongly drawn.
Strength is made scale-free by multiplying D_w kr (units 1/length^2) by the square of the mesh's
bounding-box diagonal, so one threshold suits meshes of any size.
"""

from __future__ import annotations

import numpy as np

from sketchgen.render.camera import Camera
from sketchgen.render.prepared import PreparedMesh


def radial_curvature(prep: PreparedMesh, camera: Camera) -> np.ndarray:
    """(V,) float64 radial curvature kr at each vertex (1/length; positive where convex towards the eye).

    Where the view direction is along the normal (w = 0) kr is the mean of k1 and k2.
    """
    d1, d2, k1, k2 = prep.curvature
    view = camera.view_directions(prep.vertices)
    a = np.einsum("ij,ij->i", view, d1)
    b = np.einsum("ij,ij->i", view, d2)
    w2 = a * a + b * b
    safe = w2 > 1e-24
    kr = 0.5 * (k1 + k2)
    kr[safe] = (k1[safe] * a[safe] ** 2 + k2[safe] * b[safe] ** 2) / w2[safe]
    return kr


def suggestive_strength(prep: PreparedMesh, camera: Camera, kr: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(len(faces),) float64 scale-free D_w kr on each given face: the gradient of the face's linear
    interpolation of ``kr`` along the projection w of the unit view vector (towards the eye) onto the
    face, times the squared mesh diagonal."""
    tri = prep.vertices[prep.faces[faces]]
    normal = prep.face_normals[faces]
    twice_area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    values = kr[prep.faces[faces]]
    grad = np.zeros((len(faces), 3))
    for i in range(3):
        opposite = tri[:, (i + 2) % 3] - tri[:, (i + 1) % 3]
        grad += values[:, i, None] * np.cross(normal, opposite)
    grad /= np.where(twice_area > 0, twice_area, np.inf)[:, None]
    view = camera.view_directions(tri.mean(axis=1))
    # w is not normalised (|w| = sin of the angle between view and normal, as in DeCarlo et al.):
    # where the view is nearly along the normal, w's direction is ill-defined and the test weakens
    w = view - np.einsum("ij,ij->i", view, normal)[:, None] * normal
    return np.einsum("ij,ij->i", grad, w) * prep.scale ** 2
