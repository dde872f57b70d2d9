"""Cameras, and the one place sketchgen's spatial conventions are written down.

Conventions (every module and every output file follows these):

- World: right-handed. A camera looks down its own -Z axis with +Y up and +X right (OpenGL, Blender).
  ``pose`` is the 4x4 camera-to-world matrix: its columns 0..2 are the camera's X, Y, Z axes in world
  coordinates and column 3 is the camera's position.
- Pixels: continuous coordinates (x, y), x to the right, y down, origin at the top-left *corner* of the
  image. The pixel in row i, column j covers [j, j+1) x [i, i+1) and has its centre at (j + 0.5, i + 0.5).
  An image of width W spans x in [0, W]; the optical axis meets the image at (W/2, H/2).
- Depth: distance along the viewing axis, ``-Z`` in camera coordinates (not the Euclidean distance).
- Perspective cameras have a vertical field of view ``yfov_deg`` and square pixels; orthographic cameras
  have ``ortho_scale``, half the visible height in world units.

JSON form (``Camera.from_json`` / ``Camera.to_json``)::

    {"position": [x, y, z], "look_at": [x, y, z], "up": [x, y, z],
     "yfov_deg": 40.0, "width": 256, "height": 256}

with ``"ortho_scale": s`` in place of ``yfov_deg`` for an orthographic camera, and an optional
``"pose"`` (4x4 camera-to-world, row-major nested lists) that takes precedence over
position/look_at/up. ``znear``/``zfar`` (the clip planes, as depths) are optional: a plane left out
is fitted to the mesh a camera draws (``Camera.fitted``: the depth range of the mesh's bounding box
with a margin), so a mesh in millimetres draws the same as its copy in metres. A plane given is kept,
even where it cuts the mesh (``Camera.cuts`` says so).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sketchgen.errors import InputError


# fitted clip planes: margin around the mesh, and the nearest a near plane may come to the eye, both
# as fractions of the mesh's bounding-box diagonal
CLIP_MARGIN = 0.01
NEAR_FLOOR = 1e-3


class CameraError(InputError):
    """An invalid camera description; the message names the reason (and the file, when known)."""


def pixel_centres(width: int, height: int) -> np.ndarray:
    """(H*W, 2) float64 pixel centres in this module's convention, row-major: pixel (row i, col j) ->
    (j + 0.5, i + 0.5). The one pixel-centre grid of sketchgen (reshape to (H, W, 2) for an image)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1).astype(np.float64)


def look_at_pose(position, look_at, up) -> np.ndarray:
    """(4, 4) float64 camera-to-world pose of a camera at ``position`` looking at ``look_at``.

    Raises CameraError when the view direction or ``up`` has zero length or they are parallel.
    """
    eye = _vec3(position, "position")
    target = _vec3(look_at, "look_at")
    up = _vec3(up, "up")
    forward = target - eye
    forward_len, up_len = _norm3(forward), _norm3(up)
    if forward_len < 1e-12:
        raise CameraError("look_at equals position")
    if up_len < 1e-12:
        raise CameraError("up has zero length")
    z_axis = -forward / forward_len  # the camera looks down -Z
    x_axis = _cross3(up, z_axis)
    x_len = _norm3(x_axis)
    if x_len < 1e-9 * up_len:
        raise CameraError("up is parallel to the viewing direction")
    x_axis /= x_len
    y_axis = _cross3(z_axis, x_axis)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = x_axis, y_axis, z_axis, eye
    return pose


@dataclass(frozen=True)
class Camera:
    """A pinhole (perspective) or orthographic camera with its image size.

    pose: (4, 4) float64 camera-to-world, rotation part orthonormal.
    yfov_deg: vertical field of view in degrees (perspective), or None.
    ortho_scale: half the visible height in world units (orthographic), or None.
    width, height: image size in pixels.
    znear, zfar: clip planes as depths (world units), or None: fitted to the mesh drawn (``fitted``).
    """

    pose: np.ndarray
    width: int
    height: int
    yfov_deg: float | None = None
    ortho_scale: float | None = None
    znear: float | None = None
    zfar: float | None = None
    look_at: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self):
        pose = np.asarray(self.pose, dtype=np.float64)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise CameraError("pose must be a finite 4x4 matrix")
        rot = pose[:3, :3]
        if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0:
            raise CameraError("pose rotation must be orthonormal and right-handed")
        object.__setattr__(self, "pose", pose)
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
                raise CameraError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if (self.yfov_deg is None) == (self.ortho_scale is None):
            raise CameraError("exactly one of yfov_deg and ortho_scale must be given")
        if self.yfov_deg is not None and not (0.0 < float(self.yfov_deg) < 180.0):
            raise CameraError(f"yfov_deg must lie in (0, 180), got {self.yfov_deg!r}")
        if self.ortho_scale is not None and not (float(self.ortho_scale) > 0.0 and math.isfinite(self.ortho_scale)):
            raise CameraError(f"ortho_scale must be positive, got {self.ortho_scale!r}")
        for name in ("znear", "zfar"):
            value = getattr(self, name)
            if value is not None and not (float(value) > 0.0 and math.isfinite(value)):
                raise CameraError(f"{name} must be a positive number, got {value!r}")
        if self.znear is not None and self.zfar is not None and not self.znear < self.zfar:
            raise CameraError("need 0 < znear < zfar")

    # ------------------------------------------------------------------ construction
    @classmethod
    def _trusted(cls, pose: np.ndarray, width: int, height: int, yfov_deg: float | None,
                 ortho_scale: float | None, znear: float | None, zfar: float | None,
                 look_at: np.ndarray | None = None) -> "Camera":
        """A camera from values already known to be valid (a ``look_at_pose`` rotation, a checked
        camera's size and clip planes), without ``__post_init__``'s checks: zoom cameras are made by
        the thousand, and re-validating the rotation of each cost more than building it."""
        cam = object.__new__(cls)
        for name, value in (("pose", pose), ("width", int(width)), ("height", int(height)),
                            ("yfov_deg", yfov_deg), ("ortho_scale", ortho_scale), ("znear", znear),
                            ("zfar", zfar), ("look_at", look_at)):
            object.__setattr__(cam, name, value)
        return cam

    @classmethod
    def looking_at(cls, position, look_at, up=(0.0, 1.0, 0.0), *, width=256, height=256,
                   yfov_deg: float | None = 40.0, ortho_scale: float | None = None,
                   znear: float | None = None, zfar: float | None = None) -> "Camera":
        """A camera at ``position`` looking at ``look_at``; ``ortho_scale`` given makes it orthographic."""
        if ortho_scale is not None:
            yfov_deg = None
        return cls(look_at_pose(position, look_at, up), width, height, yfov_deg, ortho_scale,
                   znear, zfar, look_at=np.asarray(look_at, dtype=np.float64))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Camera":
        """Build from the JSON form in this module's docstring. Raises CameraError naming the problem."""
        if not isinstance(data, dict):
            raise CameraError("a camera must be a JSON object")
        for key in ("width", "height"):
            if key not in data:
                raise CameraError(f"missing key '{key}'")
        if "yfov_deg" not in data and "ortho_scale" not in data:
            raise CameraError("missing key 'yfov_deg' (or 'ortho_scale')")
        if "yfov_deg" in data and "ortho_scale" in data:
            raise CameraError("give either 'yfov_deg' or 'ortho_scale', not both")
        target = None
        if "pose" in data:
            pose = np.asarray(data["pose"], dtype=np.float64)
        else:
            for key in ("position", "look_at", "up"):
                if key not in data:
                    raise CameraError(f"missing key '{key}'")
            pose = look_at_pose(data["position"], data["look_at"], data["up"])
            target = np.asarray(data["look_at"], dtype=np.float64)
        return cls(pose, _int(data["width"], "width"), _int(data["height"], "height"),
                   _float(data.get("yfov_deg"), "yfov_deg"), _float(data.get("ortho_scale"), "ortho_scale"),
                   _float(data.get("znear"), "znear"), _float(data.get("zfar"), "zfar"),
                   look_at=target)

    def to_json(self) -> dict[str, Any]:
        """JSON form with both ``pose`` and position/look_at/up, so any reader can use either; clip
        planes only where given."""
        target = self.look_at if self.look_at is not None else self.position - self.pose[:3, 2]
        out: dict[str, Any] = {
            "position": self.position.tolist(),
            "look_at": np.asarray(target).tolist(),
            "up": self.pose[:3, 1].tolist(),
            "pose": self.pose.tolist(),
            "width": self.width,
            "height": self.height,
        }
        for name in ("znear", "zfar"):
            if getattr(self, name) is not None:
                out[name] = float(getattr(self, name))
        if self.yfov_deg is not None:
            out["yfov_deg"] = float(self.yfov_deg)
        else:
            out["ortho_scale"] = float(self.ortho_scale)
        return out

    # ------------------------------------------------------------------ properties
    @property
    def position(self) -> np.ndarray:
        """(3,) float64 camera centre in world coordinates."""
        return self.pose[:3, 3].copy()

    @property
    def forward(self) -> np.ndarray:
        """(3,) float64 unit viewing direction (the camera's -Z axis) in world coordinates."""
        return -self.pose[:3, 2].copy()

    @property
    def is_ortho(self) -> bool:
        return self.ortho_scale is not None

    @property
    def focal_px(self) -> float:
        """Pixels per unit of X_c / depth (perspective) or per world unit (orthographic)."""
        if self.is_ortho:
            return self.height / (2.0 * self.ortho_scale)
        return self.height / (2.0 * math.tan(math.radians(self.yfov_deg) / 2.0))

    @property
    def world_to_camera(self) -> np.ndarray:
        """(4, 4) float64 inverse of ``pose``."""
        inv = np.eye(4)
        rot = self.pose[:3, :3]
        inv[:3, :3] = rot.T
        inv[:3, 3] = -rot.T @ self.pose[:3, 3]
        return inv

    # ------------------------------------------------------------------ clip planes
    def depth_range(self, points: np.ndarray) -> tuple[float, float]:
        """(min, max) float depth of (N, 3) world points along the view axis."""
        depth = -self.world_to_cam(points)[:, 2]
        return float(depth.min()), float(depth.max())

    def fitted(self, lo, hi) -> "Camera":
        """This camera with the clip planes it lacks fitted to the axis-aligned box [lo, hi] ((3,) world
        corners, the mesh's bounds): the depth range of the box's corners widened by CLIP_MARGIN x its
        diagonal, the near plane kept at least NEAR_FLOOR x the diagonal in front of the eye (a camera
        inside the box clips what is nearer; the floor bounds the depth buffer's range, far / near).
        Returns ``self`` when both planes are given."""
        if self.znear is not None and self.zfar is not None:
            return self
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        corners = np.array([[(lo, hi)[i >> k & 1][k] for k in range(3)] for i in range(8)])
        size = float(np.linalg.norm(hi - lo)) or 1.0
        dmin, dmax = self.depth_range(corners)
        far = self.zfar if self.zfar is not None else max(dmax, 0.0) + CLIP_MARGIN * size
        near = self.znear if self.znear is not None else max(dmin - CLIP_MARGIN * size, NEAR_FLOOR * size)
        if not near < far:  # the box lies wholly behind the eye, or beyond a given far plane
            near, far = (min(near, far / 2.0), far) if self.znear is None else (near, near + size)
        return Camera._trusted(self.pose, self.width, self.height, self.yfov_deg, self.ortho_scale,
                               near, far, self.look_at)

    def cuts(self, points: np.ndarray) -> str | None:
        """Why this camera's given clip planes cut off some of (N, 3) world points (None if they do not,
        or if the planes are left to be fitted): e.g. "zfar 100 falls short of its farthest depth 1575"."""
        if self.znear is None and self.zfar is None:
            return None  # both fitted to the mesh: nothing to measure (a mesh's every vertex, per camera)
        dmin, dmax = self.depth_range(points)
        reasons = []
        if self.znear is not None and dmin < self.znear and dmax > 0:
            reasons.append(f"znear {self.znear:g} lies beyond its nearest depth {max(dmin, 0.0):g}")
        if self.zfar is not None and dmax > self.zfar:
            reasons.append(f"zfar {self.zfar:g} falls short of its farthest depth {dmax:g}")
        return "; ".join(reasons) or None

    def projection_matrix(self) -> np.ndarray:
        """(4, 4) float64 OpenGL projection (camera -> clip) matching ``world_to_pixels`` exactly.
        Needs both clip planes (``fitted`` gives them); raises CameraError otherwise."""
        if self.znear is None or self.zfar is None:
            raise CameraError("the camera's clip planes are not set: fit them to the mesh (Camera.fitted)")
        n, f = self.znear, self.zfar
        aspect = self.width / self.height
        proj = np.zeros((4, 4))
        if self.is_ortho:
            proj[0, 0] = 1.0 / (self.ortho_scale * aspect)
            proj[1, 1] = 1.0 / self.ortho_scale
            proj[2, 2] = -2.0 / (f - n)
            proj[2, 3] = -(f + n) / (f - n)
            proj[3, 3] = 1.0
        else:
            t = math.tan(math.radians(self.yfov_deg) / 2.0)
            proj[0, 0] = 1.0 / (t * aspect)
            proj[1, 1] = 1.0 / t
            proj[2, 2] = (f + n) / (n - f)
            proj[2, 3] = 2.0 * f * n / (n - f)
            proj[3, 2] = -1.0
        return proj

    # ------------------------------------------------------------------ mappings
    def world_to_cam(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world -> (N, 3) float64 camera coordinates."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        rot = self.pose[:3, :3]
        return (pts - self.pose[:3, 3]) @ rot

    def world_to_pixels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project world points.

        points: (N, 3) world coordinates.
        Returns (xy, depth): (N, 2) float64 pixels (origin top-left corner, y down) and (N,) float64 depth
        along the view axis. Points behind a perspective camera (depth <= 0) get NaN pixels.
        """
        uv, depth = self.world_to_image_plane(points)
        return self.image_plane_to_pixels(uv), depth

    def world_to_image_plane(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uv, depth): (N, 2) float64 image-plane coordinates of world points (camera X and Y, over the
        depth for a perspective camera; NaN behind it) and (N,) float64 depth. They depend on the pose
        alone: cameras differing only in field of view or image size (a point's zooms) share them, and
        ``image_plane_to_pixels`` finishes the projection for each."""
        cam = self.world_to_cam(points)
        depth = -cam[:, 2]
        if self.is_ortho:
            return cam[:, :2].copy(), depth
        with np.errstate(divide="ignore", invalid="ignore"):
            safe = np.where(depth > 0, depth, np.nan)
            return np.stack([cam[:, 0] / safe, cam[:, 1] / safe], axis=1), depth

    def image_plane_to_pixels(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) image-plane coordinates (``world_to_image_plane``) -> (N, 2) float64 pixels:
        x = W/2 + f u, y = H/2 - f v with f = ``focal_px``."""
        f = self.focal_px
        return np.stack([self.width / 2.0 + f * uv[:, 0], self.height / 2.0 - f * uv[:, 1]], axis=1)

    def pixels_to_world(self, xy: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Inverse of ``world_to_pixels``: (N, 2) pixels and (N,) depth -> (N, 3) float64 world points."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        depth = np.asarray(depth, dtype=np.float64).reshape(-1)
        f = self.focal_px
        u = (xy[:, 0] - self.width / 2.0) / f
        v = (self.height / 2.0 - xy[:, 1]) / f
        if not self.is_ortho:
            u, v = u * depth, v * depth
        cam = np.stack([u, v, -depth], axis=1)
        return cam @ self.pose[:3, :3].T + self.pose[:3, 3]

    def pixel_rays(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rays through pixel positions: (N, 3) origins and (N, 3) unit directions, world coordinates."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        near = self.pixels_to_world(xy, np.full(len(xy), 1.0))
        if self.is_ortho:
            origins = self.pixels_to_world(xy, np.zeros(len(xy)))
            dirs = np.broadcast_to(self.forward, origins.shape).copy()
        else:
            origins = np.broadcast_to(self.position, near.shape).copy()
            dirs = near - origins
            dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return origins, dirs

    def view_directions(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) unit vectors from each world point towards the eye (constant for orthographic)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if self.is_ortho:
            return np.broadcast_to(-self.forward, pts.shape).copy()
        d = self.position - pts
        return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)

    def with_size(self, width: int, height: int) -> "Camera":
        return Camera(self.pose, width, height, self.yfov_deg, self.ortho_scale, self.znear, self.zfar,
                      look_at=self.look_at)


def load_cameras(path: str | Path) -> list[Camera]:
    """Cameras from a JSON file holding one camera object or a list of them.

    Raises CameraError with the file name and the reason on any problem.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CameraError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CameraError(f"{path}: not valid JSON ({exc})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise CameraError(f"{path}: empty list of cameras")
    cameras = []
    for k, item in enumerate(items):
        try:
            cameras.append(Camera.from_json(item))
        except CameraError as exc:
            where = f"{path}" if len(items) == 1 and not isinstance(data, list) else f"{path} [camera {k}]"
            raise CameraError(f"{where}: {exc}") from None
    return cameras


def _cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3,) cross product of two (3,) float64 vectors: np.cross's arithmetic without its overhead."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _norm3(a: np.ndarray) -> float:
    """Euclidean length of a (3,) float64 vector, as np.linalg.norm computes it (sqrt of the dot)."""
    return math.sqrt(float(a.dot(a)))


def _vec3(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CameraError(f"{name} must be three numbers") from None
    if arr.shape != (3,) or not np.all(np.isfinite(arr)):
        raise CameraError(f"{name} must be three finite numbers")
    return arr


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value <= 0:
        raise CameraError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _float(value, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CameraError(f"{name} must be a finite number, got {value!r}")
    return float(value)
