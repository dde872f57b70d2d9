"""The "photo" side of sketch-shaded pairs: a shaded render with random lighting and material.

pyrender draws the mesh with a random metallic-roughness material, one to three directional lights
of random direction, colour and strength, a random ambient term and a random plain background, from
exactly the camera of the sketch (same pose, field of view and clipping planes, so pixel positions
agree with ``render/camera.py``). Randomness comes from the generator passed in. One pyrender
renderer per process, created on first use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

import render  # noqa: F401 - sets PYOPENGL_PLATFORM before OpenGL is imported
from render.camera import Camera
from render.errors import InputError

log = logging.getLogger(__name__)

_RENDERER = None
_MESHES: dict[int, tuple] = {}  # id(trimesh) -> (trimesh, pyrender.Mesh); the trimesh keeps the id alive


@dataclass(frozen=True)
class ShadeConfig:
    """Ranges of the random look."""

    lights: tuple[int, int] = (1, 3)
    intensity: tuple[float, float] = (1.5, 4.0)
    ambient: tuple[float, float] = (0.1, 0.4)
    metallic: tuple[float, float] = (0.0, 0.6)
    roughness: tuple[float, float] = (0.3, 0.9)


def _renderer(width: int, height: int):
    global _RENDERER
    import pyrender

    if _RENDERER is None:
        try:
            _RENDERER = pyrender.OffscreenRenderer(width, height)
        except Exception as exc:  # no usable headless GL
            raise InputError(f"shaded render: headless OpenGL (EGL) unavailable ({exc})") from None
    if (_RENDERER.viewport_width, _RENDERER.viewport_height) != (width, height):
        _RENDERER.viewport_width, _RENDERER.viewport_height = width, height
    return _RENDERER


def _pyrender_mesh(mesh):
    import pyrender

    key = id(mesh)
    if key not in _MESHES:
        if len(_MESHES) > 16:  # a unit touches a few shapes; keep the cache small
            _MESHES.clear()
        _MESHES[key] = (mesh, pyrender.Mesh.from_trimesh(mesh, smooth=False))
    return _MESHES[key][1]


def pyrender_camera(camera: Camera):
    """The pyrender camera whose projection equals ``camera.projection_matrix()``."""
    import pyrender

    if camera.is_ortho:
        return pyrender.OrthographicCamera(xmag=camera.ortho_scale * camera.width / camera.height,
                                           ymag=camera.ortho_scale, znear=camera.znear, zfar=camera.zfar)
    return pyrender.PerspectiveCamera(yfov=np.radians(camera.yfov_deg), aspectRatio=camera.width / camera.height,
                                      znear=camera.znear, zfar=camera.zfar)


def shaded_render(mesh, camera: Camera, rng: np.random.Generator,
                  config: ShadeConfig = ShadeConfig()) -> np.ndarray:
    """(H, W, 3) uint8 RGB shaded image of ``mesh`` (trimesh.Trimesh, world frame) seen by ``camera``."""
    import pyrender

    base = rng.uniform(0.25, 0.95, size=3)
    material = pyrender.MetallicRoughnessMaterial(
        baseColorFactor=[*base, 1.0], metallicFactor=float(rng.uniform(*config.metallic)),
        roughnessFactor=float(rng.uniform(*config.roughness)), doubleSided=True)
    pmesh = _pyrender_mesh(mesh)
    for prim in pmesh.primitives:
        prim.material = material
    background = rng.uniform(0.0, 1.0, size=3)
    ambient = float(rng.uniform(*config.ambient))
    scene = pyrender.Scene(bg_color=[*background, 1.0], ambient_light=[ambient] * 3)
    scene.add(pmesh)
    scene.add(pyrender_camera(camera), pose=camera.pose)
    for _ in range(int(rng.integers(config.lights[0], config.lights[1] + 1))):
        # lights come from the camera's side of the object, so the visible surface is lit
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if np.dot(d, camera.forward) > 0:
            d = -d
        colour = 1.0 - 0.3 * rng.uniform(0.0, 1.0, size=3)
        light = pyrender.DirectionalLight(color=colour, intensity=float(rng.uniform(*config.intensity)))
        scene.add(light, pose=_light_pose(-d))
    color, _ = _renderer(camera.width, camera.height).render(scene)
    return np.ascontiguousarray(color[..., :3])


def _light_pose(direction: np.ndarray) -> np.ndarray:
    """(4, 4) pose whose -Z axis points along ``direction`` (where the light shines)."""
    z = -direction / np.linalg.norm(direction)
    helper = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x, np.cross(z, x), z
    return pose
