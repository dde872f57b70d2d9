"""View sampling: orbit grids, Fibonacci spheres, seeded random views, and point-centred zooms.

All cameras look at ``target`` from ``distance`` away; ``up`` is world +Y unless a view sits on the
pole, where +Z is used instead. Elevation is measured from the XZ plane towards +Y, azimuth about +Y
from +Z towards +X, in degrees.
"""

from __future__ import annotations

import math

import numpy as np

from sketchgen.render.camera import Camera, CameraError, look_at_pose

# SketchZooms: windows of half-size 100*z px in a 512 px render, z = [1.8, 1.3, 0.8] - u, u ~ U(-0.3, 0.3)
SKETCHZOOMS_Z = (1.8, 1.3, 0.8)
SKETCHZOOMS_JITTER = 0.3
SKETCHZOOMS_RENDER_HALF = 256.0
SKETCHZOOMS_WINDOW_HALF = 100.0


def direction(elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """(3,) unit vector from the target towards the camera."""
    el, az = math.radians(elevation_deg), math.radians(azimuth_deg)
    return np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])


def camera_from_direction(dir_to_camera, *, distance: float = 2.5, target=(0.0, 0.0, 0.0),
                          width: int = 256, height: int = 256, yfov_deg: float | None = 40.0,
                          ortho_scale: float | None = None) -> Camera:
    """A camera at ``target + distance * dir`` looking at ``target``."""
    d = np.asarray(dir_to_camera, dtype=np.float64)
    d = d / np.linalg.norm(d)
    target = np.asarray(target, dtype=np.float64)
    up = (0.0, 1.0, 0.0) if abs(d[1]) < 0.999 else (0.0, 0.0, -1.0 if d[1] > 0 else 1.0)
    return Camera.looking_at(target + distance * d, target, up, width=width, height=height,
                             yfov_deg=yfov_deg, ortho_scale=ortho_scale)


def orbit(elevations_deg, azimuths_deg, **kwargs) -> list[Camera]:
    """Cameras on an elevation x azimuth grid, elevation-major order."""
    return [camera_from_direction(direction(el, az), **kwargs)
            for el in elevations_deg for az in azimuths_deg]


def fibonacci(n: int, **kwargs) -> list[Camera]:
    """``n`` cameras spread evenly over the sphere (Fibonacci lattice), deterministic."""
    golden = math.pi * (3.0 - math.sqrt(5.0))
    cams = []
    for k in range(n):
        y = 1.0 - 2.0 * (k + 0.5) / n
        r = math.sqrt(max(0.0, 1.0 - y * y))
        cams.append(camera_from_direction((r * math.sin(golden * k), y, r * math.cos(golden * k)), **kwargs))
    return cams


def random_views(n: int, rng: np.random.Generator, *, elevation_range=(-20.0, 60.0), **kwargs) -> list[Camera]:
    """``n`` cameras with azimuth uniform in [0, 360) and elevation uniform in ``elevation_range``."""
    el = rng.uniform(*elevation_range, size=n)
    az = rng.uniform(0.0, 360.0, size=n)
    return [camera_from_direction(direction(e, a), **kwargs) for e, a in zip(el, az)]


def framing_views(vertices, n: int, *, elevation_deg: float = 20.0, azimuth0_deg: float = 30.0,
                  size: int = 512, yfov_deg: float = 40.0, margin: float = 1.1) -> list[Camera]:
    """``n`` cameras around a mesh in its own coordinates, each seeing all of it: azimuths evenly spaced
    from ``azimuth0_deg`` (degrees, about +Y from +Z), at ``elevation_deg`` above the XZ plane, looking at
    the centre of the bounding box from the distance at which the bounding sphere (centre there, radius
    the farthest vertex) spans the vertical field of view ``yfov_deg`` divided by ``margin``.

    vertices: (V, 3) float in the mesh's units. Returns ``size`` x ``size`` perspective cameras."""
    v = np.asarray(vertices, dtype=np.float64)
    if n < 1 or len(v) == 0:
        raise ValueError(f"need at least one view of a non-empty mesh, got {n} views of {len(v)} vertices")
    centre = 0.5 * (v.min(axis=0) + v.max(axis=0))
    radius = float(np.linalg.norm(v - centre, axis=1).max()) or 1.0
    half = math.radians(yfov_deg) / 2.0 / margin
    distance = radius / math.sin(half)
    return [camera_from_direction(direction(elevation_deg, azimuth0_deg + 360.0 * k / n), distance=distance,
                                  target=centre, width=size, height=size, yfov_deg=yfov_deg)
            for k in range(n)]


def sketchzooms_factors(rng: np.random.Generator | None = None, jitter: float = SKETCHZOOMS_JITTER) -> list[float]:
    """SketchZooms' three zoom factors as fractions of the base view's half-height.

    The paper renders 512x512 centred on the point and crops windows of half-size 100*z px with
    z = [1.8, 1.3, 0.8] - u, u ~ U(-jitter, jitter) shared (the paper's jitter: 0.3); a window of
    half-size 100*z of a 256 px half-height render shows the fraction 100*z/256 of it. Without ``rng``, or
    with ``jitter`` 0, u = 0 (and ``rng`` is not drawn from).
    """
    u = 0.0 if rng is None or jitter == 0 else float(rng.uniform(-jitter, jitter))
    return [SKETCHZOOMS_WINDOW_HALF * (z - u) / SKETCHZOOMS_RENDER_HALF for z in SKETCHZOOMS_Z]


def zoom_cameras(point, base: Camera, factors, *, width: int | None = None,
                 height: int | None = None) -> list[Camera]:
    """Cameras that put ``point`` at the image centre, one per zoom factor.

    Each keeps the base camera's position (so the point's visibility is unchanged) and turns to look at
    the point, with the visible half-height equal to ``factor`` times the base camera's at the point's
    depth (perspective: tan(yfov/2) scaled; orthographic: ortho_scale scaled). Every zoom is rendered at
    its own resolution, so strokes keep the same width in pixels at every zoom.

    point: (3,) world. factors: zoom factors in (0, inf), smaller = closer. Returns len(factors) cameras
    of size (width, height), defaulting to the base camera's.
    """
    p = np.asarray(point, dtype=np.float64).reshape(3)
    width = base.width if width is None else width
    height = base.height if height is None else height
    factors = [float(f) for f in factors]
    for f in factors:
        if not f > 0:
            raise ValueError(f"zoom factor must be positive, got {f}")
    for name, value in (("width", width), ("height", height)):  # Camera's own check, made once
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
            raise CameraError(f"{name} must be a positive integer, got {value!r}")
    # every zoom shares one pose (same position, same target, same up): build it once, and build the
    # cameras without re-checking a rotation look_at_pose has just made (the base camera was checked)
    if base.is_ortho:
        # orthographic: slide the camera in its image plane so the point sits on the optical axis
        shift = base.world_to_cam(p[None])[0]
        pose = base.pose.copy()
        pose[:3, 3] = base.position + base.pose[:3, :3] @ np.array([shift[0], shift[1], 0.0])
        return [Camera._trusted(pose.copy(), width, height, None, base.ortho_scale * f, base.znear, base.zfar,
                                look_at=p) for f in factors]
    if np.linalg.norm(p - base.position) < 1e-12:
        raise ValueError("zoom point coincides with the camera position")
    dir_ = p - base.position
    dir_ /= np.linalg.norm(dir_)
    up = base.pose[:3, 1]
    up_ = up if abs(np.dot(up, dir_)) < 0.999 else base.pose[:3, 2]
    pose = look_at_pose(base.position, p, up_)
    half = math.tan(math.radians(base.yfov_deg) / 2.0)
    return [Camera._trusted(pose.copy(), width, height, math.degrees(2.0 * math.atan(half * f)), None, base.znear,
                            base.zfar, look_at=p.copy()) for f in factors]
