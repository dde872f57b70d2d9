"""Shading over the G-buffer: a shaded "photo" of a mesh from exactly the camera of a line drawing, with
random lighting and material.

Three shaders; ``ShadeConfig.renderer`` names one. ``photo`` (the default, ``render.photo``): materials
and textures, ray-cast soft shadows and ambient occlusion, a ground, a background photo or a studio.
The two below are clay renders (one random colour, no shadow, no ground).

They use the camera of the drawing (same pose, field of view and clipping planes, so pixel
positions agree with ``render/camera.py``) and draw their look from the generator passed in, within the
ranges of a ``ShadeConfig``:

- ``shade_gbuffer``: Blinn-Phong shading computed in numpy from the view's G-buffer (``render.gbuffer``):
  smooth normals interpolated across faces (face normals across creases), a random base colour,
  specular strength and shininess, one to three directional lights of random direction, colour and
  strength from the camera's side, a sky/ground ambient term, a random background gradient, gamma and a
  slight blur. The object covers exactly the G-buffer's mask.
- ``shaded_render``: pyrender's metallic-roughness (PBR) shading with random directional lights,
  4x multisampled; about 70 ms per 256 px image on a CPU (llvmpipe), several times the first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.photo import PhotoConfig, surface_at_pixels

log = logging.getLogger(__name__)

RENDERERS = ("photo", "gbuffer", "pyrender")  # ShadeConfig.renderer: render.photo, shade_gbuffer, shaded_render
MATERIALS = ("own", "random")  # ShadeConfig.materials

_RENDERER = None
_MESHES: dict[int, tuple] = {}  # id(trimesh) -> (trimesh, pyrender.Mesh); the trimesh keeps the id alive


@dataclass(frozen=True)
class ShadeConfig:
    """Which shader and the ranges of its random look. renderer: "photo" (``render.photo``, default),
    "gbuffer" (numpy clay) or "pyrender" (PBR clay). The clay shaders read ``lights`` ... ``roughness``;
    the photo reads ``photo`` and: materials, "own" (the mesh files' materials and textures where they
    have them, random per part elsewhere) or "random" (always random per part); backgrounds, a folder of
    photos (None: procedural studio backgrounds), background_files their readable names (sorted) and
    backgrounds_sha256 a digest of them (``datagen.backgrounds.scan_backgrounds``)."""

    renderer: str = "photo"
    lights: tuple[int, int] = (1, 3)
    intensity: tuple[float, float] = (1.5, 4.0)
    ambient: tuple[float, float] = (0.1, 0.4)
    metallic: tuple[float, float] = (0.0, 0.6)
    roughness: tuple[float, float] = (0.3, 0.9)
    materials: str = "own"
    backgrounds: str | None = None
    background_files: tuple[str, ...] = ()
    backgrounds_sha256: str | None = None
    photo: PhotoConfig = field(default_factory=PhotoConfig)


def _renderer(width: int, height: int):
    global _RENDERER
    import pyrender

    if _RENDERER is None:
        from sketchgen.render.devices import egl_device_index

        egl_device_index()  # sets EGL_DEVICE_ID, which pyrender reads, to this worker's device
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
    """The pyrender camera whose projection equals ``camera.projection_matrix()`` (clip planes set:
    ``Camera.fitted``)."""
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
    scene.add(pyrender_camera(camera.fitted(*mesh.bounds)), pose=camera.pose)
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


def shade_gbuffer(shape, gbuffer, rng: np.random.Generator, config: ShadeConfig = ShadeConfig()) -> np.ndarray:
    """(H, W, 3) uint8 RGB Blinn-Phong image of ``shape`` from its G-buffer.

    shape: a mesh with ``vertices`` (V, 3) float, ``faces`` (F, 3) int and ``trimesh`` (its
    ``trimesh.Trimesh``, for vertex and face normals), as ``ingest.partmesh.PartMesh``.
    gbuffer: ``render.gbuffer.GBuffer`` of ``shape.trimesh`` (depth (H, W) float32, face_id (H, W) int32).
    """
    import cv2

    camera = gbuffer.camera
    h, w = gbuffer.depth.shape
    base = rng.uniform(0.2, 0.9, size=3)
    specular = float(rng.uniform(0.05, 0.6))
    shininess = float(np.exp(rng.uniform(np.log(8.0), np.log(128.0))))
    ambient = float(rng.uniform(*config.ambient))
    n_lights = int(rng.integers(config.lights[0], config.lights[1] + 1))
    lights = []
    for _ in range(n_lights):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        if np.dot(d, camera.forward) > 0:  # d points to the light, which is on the camera's side
            d = -d
        colour = 1.0 - 0.3 * rng.uniform(0.0, 1.0, size=3)
        lights.append((d, colour * rng.uniform(*config.intensity) / config.intensity[1]))
    top, bottom = rng.uniform(0.0, 1.0, size=3), rng.uniform(0.0, 1.0, size=3)
    t = (np.arange(h) + 0.5)[:, None, None] / h
    image = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()

    idx = np.flatnonzero(gbuffer.face_id.ravel() >= 0)
    if len(idx):
        _, points, _, normal, _, view = surface_at_pixels(shape, gbuffer, idx)
        up = camera.pose[:3, 1]
        sky = 0.6 + 0.4 * (normal @ up)[:, None]
        colour = base * ambient * sky
        for d, light in lights:
            lam = np.clip(normal @ d, 0.0, None)[:, None]
            half = d + view
            half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-12)
            spec = np.clip(np.einsum("nd,nd->n", normal, half), 0.0, None)[:, None] ** shininess
            colour = colour + light * (base * lam + specular * spec * (lam > 0))
        image.reshape(-1, 3)[idx] = colour
    image = np.clip(image, 0.0, 1.0) ** (1.0 / 2.2)
    image = cv2.GaussianBlur((image * 255.0).astype(np.float32), (3, 3), 0.5)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
