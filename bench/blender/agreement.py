"""Meshes, cameras and agreement measures for checking ``sketchgen draw`` against Blender.

Nothing here imports sketchgen's renderer: the meshes are built with trimesh and numpy, the reference
visibility is re-derived by ray casting, and the line measures work on PNG pixels. That keeps the
check independent of the code it checks. Used by bench/compare_blender.py and
tests/render/test_blender_agreement.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh

LINE_DARKNESS = 0.25  # a pixel at least this dark (0 white, 1 black) is a line pixel before thinning
MATCH_PX = 2.0  # a thinned line pixel is matched when the other drawing has one this close


@dataclass(frozen=True)
class UnseenMesh:
    """A mesh sketchgen's tests never use. smooth: what the mesh stands for (a smooth surface, or a
    polyhedron whose outline is its front/back face edges); used by ``--blender-normals per-mesh``."""

    name: str
    mesh: trimesh.Trimesh
    smooth: bool


# ---------------------------------------------------------------------------------------- meshes
def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def _oriented(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()
    return mesh


def torus_knot(p: int, q: int, n_u: int, n_v: int, tube: float, rng: np.random.Generator) -> trimesh.Trimesh:
    """Closed tube of radius ``tube`` around a (p, q) torus knot: 2 * n_u * n_v triangles."""
    t = np.arange(n_u) * (2 * np.pi / n_u)
    r = 1.0 + 0.4 * np.cos(q * t)
    curve = np.stack([r * np.cos(p * t), r * np.sin(p * t), 0.4 * np.sin(q * t)], axis=1)
    tangent = np.roll(curve, -1, axis=0) - np.roll(curve, 1, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    # parallel transport of a normal along the closed curve; the twist left at the end is spread evenly
    normal = np.zeros_like(curve)
    start = np.cross(tangent[0], [0.0, 0.0, 1.0])
    normal[0] = start / np.linalg.norm(start)
    for i in range(1, n_u):
        n = normal[i - 1] - tangent[i] * (normal[i - 1] @ tangent[i])
        normal[i] = n / np.linalg.norm(n)
    closing = normal[-1] - tangent[0] * (normal[-1] @ tangent[0])
    closing /= np.linalg.norm(closing)
    twist = math.atan2(np.cross(closing, normal[0]) @ tangent[0], closing @ normal[0])
    angle = twist * np.arange(n_u) / n_u
    binormal = np.cross(tangent, normal)
    normal, binormal = (np.cos(angle)[:, None] * normal + np.sin(angle)[:, None] * binormal,
                        -np.sin(angle)[:, None] * normal + np.cos(angle)[:, None] * binormal)
    phi = np.arange(n_v) * (2 * np.pi / n_v)
    ring = np.cos(phi)[None, :, None] * normal[:, None] + np.sin(phi)[None, :, None] * binormal[:, None]
    vertices = (curve[:, None] + tube * ring).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n_u), np.arange(n_v), indexing="ij")
    a = i * n_v + j
    b = ((i + 1) % n_u) * n_v + j
    c = ((i + 1) % n_u) * n_v + (j + 1) % n_v
    d = i * n_v + (j + 1) % n_v
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return _oriented(vertices @ _random_rotation(rng).T, faces)


def box_stack(rng: np.random.Generator, count: int = 3) -> trimesh.Trimesh:
    """Boxes of random sizes stacked along +Y, each turned about Y and sunk 3% into the one below (so
    no face of one lies exactly on another's)."""
    parts, y = [], 0.0
    for k in range(count):
        ext = rng.uniform([0.5, 0.25, 0.5], [1.0, 0.5, 1.0]) * (1.0 - 0.2 * k)
        box = trimesh.creation.box(extents=ext)
        box.apply_transform(trimesh.transformations.rotation_matrix(rng.uniform(0, np.pi / 2), [0, 1, 0]))
        box.apply_translation([0.0, y + ext[1] / 2 - (0.03 * ext[1] if k else 0.0), 0.0])
        y += ext[1] * (0.97 if k else 1.0)
        parts.append(box)
    mesh = trimesh.util.concatenate(parts)
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    return mesh


def bumpy_sphere(rng: np.random.Generator, subdivisions: int = 4) -> trimesh.Trimesh:
    """Icosphere with its radius modulated by a few random low-frequency waves."""
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    dirs = sphere.vertices / np.linalg.norm(sphere.vertices, axis=1, keepdims=True)
    radius = np.ones(len(dirs))
    for _ in range(4):
        k = rng.normal(size=3)
        k *= rng.uniform(2.0, 4.0) / np.linalg.norm(k)
        radius += 0.06 * np.sin(dirs @ k + rng.uniform(0, 2 * np.pi))
    return trimesh.Trimesh(dirs * radius[:, None], sphere.faces, process=False)


def bowl(rng: np.random.Generator) -> trimesh.Trimesh:
    """An icosphere cut open below a random height: one boundary loop, inside and outside visible."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    cut = rng.uniform(0.2, 0.5)
    keep = sphere.triangles_center[:, 2] < cut
    mesh = trimesh.Trimesh(sphere.vertices, sphere.faces[keep], process=False)
    mesh.remove_unreferenced_vertices()
    mesh.apply_transform(np.vstack([np.hstack([_random_rotation(rng), np.zeros((3, 1))]), [0, 0, 0, 1]]))
    return mesh


def wavy_sheet(rng: np.random.Generator, n: int = 48) -> trimesh.Trimesh:
    """An open height field z = f(x, y) over a square, folded enough to have contours from the side."""
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    z = 0.25 * np.sin(rng.uniform(2, 4) * x + rng.uniform(0, 6)) * np.cos(rng.uniform(1, 3) * y)
    vertices = np.stack([x, y, z], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a, b, c, d = i * n + j, (i + 1) * n + j, (i + 1) * n + j + 1, i * n + j + 1
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    return trimesh.Trimesh(vertices @ _random_rotation(rng).T, faces, process=False)


def lathe(profile: np.ndarray, sections: int) -> trimesh.Trimesh:
    """Closed surface of revolution about Z of an (P, 2) float (r, z) profile whose first and last
    points lie on the axis (r = 0): fans at both poles, quads split in two between."""
    angle = np.arange(sections) * (2 * np.pi / sections)
    inner = profile[1:-1]
    ring = np.stack([inner[:, :1] * np.cos(angle), inner[:, :1] * np.sin(angle),
                     np.broadcast_to(inner[:, 1:], (len(inner), sections))], axis=-1).reshape(-1, 3)
    vertices = np.vstack([[0.0, 0.0, profile[0, 1]], ring, [0.0, 0.0, profile[-1, 1]]])
    top = len(vertices) - 1
    j = np.arange(sections)
    jn = (j + 1) % sections
    faces = [np.stack([np.zeros(sections, int), 1 + jn, 1 + j], -1)]
    for i in range(len(inner) - 1):
        a, b = 1 + i * sections + j, 1 + i * sections + jn
        c, d = b + sections, a + sections
        faces += [np.stack([a, b, c], -1), np.stack([a, c, d], -1)]
    last = 1 + (len(inner) - 1) * sections
    faces.append(np.stack([last + j, last + jn, np.full(sections, top)], -1))
    return _oriented(vertices, np.concatenate(faces))


def dome(rng: np.random.Generator) -> trimesh.Trimesh:
    """A spherical cap on a flat base: smooth almost everywhere, with one crease loop where the flat
    base meets the sphere (as on mugs, bottles, lamps). Flat faces next to a crease are where
    interpolated contours go wrong if vertex normals are averaged across the crease."""
    cut = rng.uniform(-0.6, -0.2)
    base = math.sqrt(1 - cut ** 2)
    polar = np.linspace(math.acos(cut), 0.0, 24)
    profile = np.vstack([[[0.0, cut], [base / 2, cut]], np.stack([np.sin(polar), np.cos(polar)], 1)])
    mesh = lathe(profile, 64)
    mesh.apply_transform(np.vstack([np.hstack([_random_rotation(rng), np.zeros((3, 1))]), [0, 0, 0, 1]]))
    return mesh


def coarse_ellipsoid(rng: np.random.Generator) -> trimesh.Trimesh:
    """A 320-face icosphere stretched to an ellipsoid: smooth, but coarse enough that interpolated
    contours lie up to a pixel or two inside the faceted outline, which tests the contour convention."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    vertices = sphere.vertices * rng.uniform([0.9, 0.5, 0.6], [1.1, 0.7, 0.8])
    return trimesh.Trimesh(vertices @ _random_rotation(rng).T, sphere.faces, process=False)


def unseen_meshes(rng: np.random.Generator) -> list[UnseenMesh]:
    """The meshes of the check, seeded. The torus knot has 16,384 faces (the timing mesh)."""
    capsule = trimesh.creation.capsule(height=rng.uniform(0.8, 1.4), radius=rng.uniform(0.3, 0.5),
                                       count=[32, 32])
    capsule.apply_transform(np.vstack([np.hstack([_random_rotation(rng), np.zeros((3, 1))]), [0, 0, 0, 1]]))
    hull = trimesh.convex.convex_hull(rng.normal(size=(40, 3)) * rng.uniform(0.5, 1.0, size=3))
    return [
        UnseenMesh("torus_knot", torus_knot(2, 3, 256, 32, rng.uniform(0.15, 0.25), rng), True),
        UnseenMesh("capsule", capsule, True),
        UnseenMesh("convex_hull", hull, False),
        UnseenMesh("box_stack", box_stack(rng), False),
        UnseenMesh("bumpy_sphere", bumpy_sphere(rng), True),
        UnseenMesh("bowl", bowl(rng), True),
        UnseenMesh("wavy_sheet", wavy_sheet(rng), True),
        UnseenMesh("coarse_ellipsoid", coarse_ellipsoid(rng), True),
        UnseenMesh("dome", dome(rng), True),
    ]


def write_obj(mesh: trimesh.Trimesh, path) -> None:
    """Plain OBJ (v and f records only, full float precision), read identically by both renderers."""
    lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in np.asarray(mesh.vertices, dtype=np.float64).tolist()]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(mesh.faces).tolist()]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------- cameras
SIZES = ((256, 256), (320, 240), (224, 288))


def random_cameras(mesh: trimesh.Trimesh, rng: np.random.Generator, count: int,
                   sizes=SIZES) -> list[dict]:
    """``count`` sketchgen camera dicts around ``mesh``: perspective (even k) and orthographic (odd k),
    random direction, roll, field of view (25-60 degrees), framing and image size; views k = 2, 3
    (mod 4) are close-ups that cut the object at the image border; every third camera is given by its
    ``pose`` rather than position/look_at/up."""
    centre = mesh.bounds.mean(axis=0)
    radius = float(np.linalg.norm(mesh.vertices - centre, axis=1).max())
    cams = []
    for k in range(count):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        up = rng.normal(size=3)
        while np.linalg.norm(np.cross(up, direction)) < 0.3 * np.linalg.norm(up):
            up = rng.normal(size=3)
        width, height = sizes[int(rng.integers(len(sizes)))]
        target = centre + rng.normal(size=3) * 0.1 * radius
        cam = {"look_at": target.tolist(), "up": up.tolist(), "width": width, "height": height}
        close = k % 4 >= 2  # a close-up: the object runs off the image, lines are cut at its border
        if k % 2 == 0:
            fov = rng.uniform(25.0, 60.0)
            if close:  # stays outside the bounding sphere, so never inside the mesh
                distance = radius * rng.uniform(1.3, 1.8)
            else:
                distance = radius / math.sin(math.radians(fov) / 2) * rng.uniform(1.05, 1.6)
            cam["yfov_deg"] = fov
        else:
            distance = 4.0 * radius
            cam["ortho_scale"] = radius * (rng.uniform(0.4, 0.7) if close else rng.uniform(1.05, 1.4))
        cam["position"] = (target + distance * direction).tolist()
        if k % 3 == 2:  # every third camera in the "pose" form (4x4 camera-to-world) instead
            pose = camera_pose(cam)
            cam = {key: value for key, value in cam.items() if key not in ("position", "look_at", "up")}
            cam["pose"] = pose.tolist()
        cams.append(cam)
    return cams


def camera_pose(cam: dict) -> np.ndarray:
    """(4, 4) float64 camera-to-world pose of a camera dict (-Z forward, +Y up), computed here
    rather than by sketchgen so that the reference visibility shares nothing with it."""
    if "pose" in cam:
        return np.asarray(cam["pose"], dtype=np.float64)
    eye, target, up = (np.asarray(cam[k], dtype=np.float64) for k in ("position", "look_at", "up"))
    z = (eye - target) / np.linalg.norm(eye - target)
    x = np.cross(up, z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x, np.cross(z, x), z, eye
    return pose


# ------------------------------------------------------------------------------------ visibility
def _first_hits(intersector, origins: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) float64 distance along each ray to its first hit (inf on a miss) and (N,) int64 face (-1)."""
    t = np.full(len(origins), np.inf)
    face = np.full(len(origins), -1, dtype=np.int64)
    locations, ray_index, tri_index = intersector.intersects_location(origins, dirs, multiple_hits=False)
    if len(ray_index):
        t[ray_index] = np.einsum("ij,ij->i", locations - origins[ray_index], dirs[ray_index])
        face[ray_index] = tri_index
    return t, face


def reference_visibility(mesh: trimesh.Trimesh, cam: dict, points: np.ndarray, faces: np.ndarray,
                         xy: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Visibility of surface points by ray casting, and which points are unambiguous.

    points: (N, 3) world points on ``faces`` ((N,) int); xy, depth: their (N, 2) pixels and (N,) depth
    from Blender's projection. A point is visible when it lies in the image, in front of the camera,
    and the ray from the eye meets the surface first at the point (its own face, or within 1e-4 of
    the mesh size before it). It is ambiguous when a depth discontinuity (silhouette, boundary, fold)
    lies within one pixel of its projection -- the rays through the 8 positions 1 px around it hit the
    surface at depths further than 2% of the mesh size from the central ray's, or miss -- when it lies
    within a pixel of the image border, or when an occluder lies within 2% of the mesh size of it.
    Returns (visible, unambiguous): two (N,) bool arrays.
    """
    from trimesh.ray.ray_pyembree import RayMeshIntersector

    intersector = RayMeshIntersector(mesh)
    scale = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
    pose = camera_pose(cam)
    rot, eye = pose[:3, :3], pose[:3, 3]
    forward = -rot[:, 2]
    width, height = cam["width"], cam["height"]
    ortho = "ortho_scale" in cam
    if ortho:
        focal = height / (2.0 * cam["ortho_scale"])
    else:
        focal = height / (2.0 * math.tan(math.radians(cam["yfov_deg"]) / 2.0))
    znear, zfar = cam.get("znear", 0.01), cam.get("zfar", 100.0)
    inside = ((depth > znear) & (depth < zfar) & (xy[:, 0] >= 0) & (xy[:, 0] <= width)
              & (xy[:, 1] >= 0) & (xy[:, 1] <= height))

    def rays(pix: np.ndarray):
        u = (pix[:, 0] - width / 2.0) / focal
        v = (height / 2.0 - pix[:, 1]) / focal
        if ortho:
            origins = eye + u[:, None] * rot[:, 0] + v[:, None] * rot[:, 1]
            return origins, np.broadcast_to(forward, origins.shape).copy()
        dirs = u[:, None] * rot[:, 0] + v[:, None] * rot[:, 1] + forward
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return np.broadcast_to(eye, dirs.shape).copy(), dirs

    # the central ray goes from the eye exactly through the point
    if ortho:
        t_point = (points - eye) @ forward
        origins = points - t_point[:, None] * forward
        dirs = np.broadcast_to(forward, points.shape).copy()
    else:
        offset = points - eye
        t_point = np.linalg.norm(offset, axis=1)
        origins = np.broadcast_to(eye, points.shape).copy()
        dirs = offset / t_point[:, None]
    t_hit, hit_face = _first_hits(intersector, origins, dirs)
    visible = inside & ((hit_face == faces) | (t_hit >= t_point - 1e-4 * scale))
    clear = (hit_face == faces) | (t_hit >= t_point - 1e-4 * scale) | (t_hit < t_point - 0.02 * scale)

    # depth along the view axis of the first hit through the pixel and its 8 neighbours at 1 px
    centre_o, centre_d = rays(xy)
    t_c, _ = _first_hits(intersector, centre_o, centre_d)
    z_c = t_c * (centre_d @ forward)
    smooth = np.isfinite(z_c)
    for dx, dy in ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)):
        o, d = rays(xy + np.array([dx, dy], dtype=np.float64))
        t_n, _ = _first_hits(intersector, o, d)
        z_n = t_n * (d @ forward)
        smooth &= np.isfinite(z_n) & (np.abs(z_n - z_c) <= 0.02 * scale)
    border = (xy[:, 0] < 1) | (xy[:, 0] > width - 1) | (xy[:, 1] < 1) | (xy[:, 1] > height - 1)
    unambiguous = np.where(inside, smooth & clear & ~border, True)
    unambiguous &= np.isfinite(xy).all(axis=1) | ~inside
    return visible, unambiguous


# ------------------------------------------------------------------------------------------ lines
def line_pixels(gray: np.ndarray) -> np.ndarray:
    """(H, W) bool one-pixel-wide line pixels of an (H, W) uint8 drawing (255 white, 0 black):
    pixels at least LINE_DARKNESS dark, thinned with skimage's skeletonize."""
    from skimage.morphology import skeletonize

    dark = (255.0 - np.asarray(gray, dtype=np.float64)) / 255.0 >= LINE_DARKNESS
    return skeletonize(dark)


@dataclass(frozen=True)
class LineAgreement:
    """Precision: fraction of sketchgen's thinned line pixels with a Blender line pixel within
    MATCH_PX; recall: the same the other way; f1: their harmonic mean (1 when both are blank)."""

    precision: float
    recall: float
    f1: float
    ours: int
    theirs: int


def line_agreement(ours: np.ndarray, theirs: np.ndarray, tol: float = MATCH_PX) -> LineAgreement:
    """Compare two (H, W) bool thinned line images (sketchgen's, Blender's)."""
    from scipy.ndimage import distance_transform_edt

    if ours.shape != theirs.shape:
        raise ValueError(f"image sizes differ: {ours.shape} vs {theirs.shape}")
    n_ours, n_theirs = int(ours.sum()), int(theirs.sum())
    if n_ours == 0 and n_theirs == 0:
        return LineAgreement(1.0, 1.0, 1.0, 0, 0)
    if n_ours == 0 or n_theirs == 0:
        return LineAgreement(float(n_ours == 0), float(n_theirs == 0), 0.0, n_ours, n_theirs)
    to_theirs = distance_transform_edt(~theirs)
    to_ours = distance_transform_edt(~ours)
    precision = float((to_theirs[ours] <= tol).mean())
    recall = float((to_ours[theirs] <= tol).mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return LineAgreement(precision, recall, f1, n_ours, n_theirs)


def diff_image(ours: np.ndarray, theirs: np.ndarray, tol: float = MATCH_PX) -> np.ndarray:
    """(H, W, 3) uint8 BGR picture of two thinned line images: black where matched, red Blender's
    unmatched pixels, blue sketchgen's unmatched pixels."""
    from scipy.ndimage import distance_transform_edt

    out = np.full(ours.shape + (3,), 255, dtype=np.uint8)
    far_from_theirs = distance_transform_edt(~theirs) > tol if theirs.any() else np.ones_like(ours)
    far_from_ours = distance_transform_edt(~ours) > tol if ours.any() else np.ones_like(theirs)
    out[ours | theirs] = (0, 0, 0)
    out[theirs & far_from_ours] = (0, 0, 255)
    out[ours & far_from_theirs] = (255, 0, 0)
    return out
