"""Photo-like renders of a mesh from exactly the camera of a line drawing: materials and textures, a
sun with ray-cast soft shadows, sky light with ray-cast ambient occlusion, a ground, and a background
photo or a procedural studio.

The object covers exactly the G-buffer's mask (``render.gbuffer``), so the pair's flow, masks and
keypoints hold for the photo as for the clay shader (``render.shading``); only the silhouette's edge
pixels are blended with what lies behind (anti-aliasing, a 0.6 px Gaussian of the mask).

Scene, in the shape's unit-sphere frame with +Y up (the collections' convention, ``ingest.partmesh``):

- Surface: per face an ``Appearance`` material (the mesh files' own: base colour, texture looked up
  through the faces' UV coordinates with bilinear filtering and repeat wrapping (OBJ/MTL convention:
  v = 0 at the image's bottom row), roughness, metallic), else a random one per part
  (``random_materials``: plastic, paint, wood, metal, fabric or stone, each with its solid texture from
  ``render.textures``). Shading: Lambert diffuse plus a GGX specular lobe (Walter et al. 2007, Schlick's
  Fresnel and Smith-Schlick visibility as in Karis 2013) for the sun, a hemisphere sky term and a
  reflection of the sky/ground gradient weighted by Fresnel and roughness.
- Ground: the plane y = the mesh's lowest vertex, present when the camera is above it.
- Sun: a disc of angular radius ``sun_radius_deg``; ``shadow_rays`` rays per pixel towards points of
  the disc (stratified), ray-cast against the mesh (embree, ``render.prepared``), give soft shadows on
  the object and the ground. Sky: ``ao_rays`` cosine-weighted rays within ``ao_distance`` give ambient
  occlusion on the object and on the ground near it (the contact shadow); the ground occludes rays
  that go below it. Without embree the same rays run through trimesh (slower).
- Behind: a background photo (``background``, cropped and scaled to cover the image; the ground then
  only darkens it where it is in shadow, a "shadow catcher": unshadowed photo pixels keep their bytes)
  or a studio: a procedural floor (planks, tiles, concrete, carpet) fading into a backdrop wall.
- Camera: exposure, a highlight shoulder, gamma 2.2, Gaussian sensor noise in 8-bit levels.

Every random choice is drawn from the generator passed in, in a fixed order: same generator state,
same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from sketchgen.render.camera import pixel_centres
from sketchgen.render.gbuffer import face_barycentric
from sketchgen.render.textures import (ValueNoise, hsv_to_rgb, linear_to_srgb, random_floor, random_solid,
                                       srgb_to_linear)

log = logging.getLogger(__name__)

UP = np.array([0.0, 1.0, 0.0])
_SRGB_TO_LINEAR = srgb_to_linear(np.arange(256) / 255.0)  # byte -> linear, as srgb_to_linear
SHADOW_EPS = 2e-3  # unit-sphere frame: shadow and AO rays start this far off the surface (no self-hits)


@dataclass(frozen=True, eq=False)
class Material:
    """A surface look. colour: (3,) float64 linear RGB base colour (MTL ``Kd``); roughness, metallic in
    [0, 1]; texture: (H, W, 3) uint8 sRGB image (row 0 at the top, v = 1) multiplying ``colour`` through
    the faces' UVs, or None; solid: a ``render.textures.SolidTexture`` evaluated at surface points, or None."""

    name: str
    colour: np.ndarray
    roughness: float = 0.6
    metallic: float = 0.0
    texture: np.ndarray | None = None
    solid: object | None = None


@dataclass(frozen=True, eq=False)
class Appearance:
    """The materials of a mesh's faces. face_material: (F,) int64 index into ``materials`` (-1: none, the
    face takes its part's random material); uv: (F, 3, 2) float64 texture coordinates of each face's
    corners (NaN where the face has none), or None."""

    face_material: np.ndarray
    materials: tuple[Material, ...]
    uv: np.ndarray | None = None


@dataclass(frozen=True)
class PhotoConfig:
    """Ranges of a photo render's random look (each (low, high) drawn uniformly), and its ray counts."""

    sun_elevation_deg: tuple[float, float] = (25.0, 70.0)
    sun_azimuth_deg: tuple[float, float] = (-120.0, 120.0)  # about the camera's own azimuth (0: behind the camera)
    sun_radius_deg: tuple[float, float] = (1.0, 4.0)
    sun: tuple[float, float] = (1.3, 2.3)        # irradiance of the sun, relative
    sky: tuple[float, float] = (0.3, 0.6)        # irradiance of the sky hemisphere, relative
    exposure: tuple[float, float] = (0.5, 0.8)
    shadow_rays: int = 2
    ao_rays: int = 8
    ao_distance: float = 0.3                     # unit-sphere frame
    background_p: float = 0.75                   # chance of the background photo, when one is given
    background_zoom: tuple[float, float] = (1.0, 1.6)  # crop of the photo: 1 = the largest that fits
    background_flip: bool = True
    catcher: tuple[float, float] = (0.55, 0.85)  # how dark a full shadow makes the background photo
    noise: tuple[float, float] = (0.5, 2.5)      # sensor noise, standard deviation in 8-bit levels
    shared_material: float = 0.3                 # chance that every part takes one random material


# ---------------------------------------------------------------------------------------- materials
_KINDS = ("plastic", "paint", "wood", "metal", "fabric", "stone")
_KIND_P = (0.25, 0.2, 0.2, 0.15, 0.1, 0.1)


def random_material(rng: np.random.Generator, name: str = "random") -> Material:
    """A plausible material: plastic (saturated colour, smooth), paint (muted), wood (browns, rings),
    metal (greys and brass, brushed), fabric (muted, weave) or stone (light, marble veins)."""
    kind = _KINDS[int(rng.choice(len(_KINDS), p=_KIND_P))]
    u = rng.uniform(size=3)
    roughness, metallic, texture = 0.5, 0.0, "plain"
    if kind == "plastic":
        colour = hsv_to_rgb(u[0], 0.45 + 0.5 * u[1], 0.3 + 0.6 * u[2])
        roughness, texture = rng.uniform(0.25, 0.55), ("plain", "noise")[int(rng.integers(2))]
    elif kind == "paint":
        colour = hsv_to_rgb(u[0], 0.3 * u[1], 0.1 + 0.85 * u[2])
        roughness, texture = rng.uniform(0.55, 0.9), ("plain", "noise")[int(rng.integers(2))]
    elif kind == "wood":
        colour = hsv_to_rgb(0.04 + 0.06 * u[0], 0.4 + 0.3 * u[1], 0.35 + 0.5 * u[2])
        roughness, texture = rng.uniform(0.45, 0.8), "wood"
    elif kind == "metal":
        colour = hsv_to_rgb(0.1 + 0.04 * u[0], 0.45 * u[1], 0.55 + 0.4 * u[2]) if u[1] > 0.7 else \
            np.full(3, 0.55 + 0.4 * u[2])
        roughness, metallic = rng.uniform(0.15, 0.45), rng.uniform(0.85, 1.0)
        texture = ("plain", "brushed")[int(rng.integers(2))]
    elif kind == "fabric":
        colour = hsv_to_rgb(u[0], 0.2 + 0.45 * u[1], 0.2 + 0.6 * u[2])
        roughness, texture = rng.uniform(0.85, 1.0), "weave"
    else:
        colour = np.full(3, 0.75 + 0.2 * u[2]) * (1.0 - 0.05 * u)
        roughness, texture = rng.uniform(0.2, 0.5), ("marble", "noise")[int(rng.integers(2))]
    linear = srgb_to_linear(colour)
    solid = random_solid(texture, linear, rng) if texture != "plain" else None
    return Material(f"{name}:{kind}", linear, float(roughness), float(metallic), None, solid)


def random_materials(labels, rng: np.random.Generator, shared: float = 0.3) -> dict[int, Material]:
    """{label: Material} for the (P,) part ``labels`` (ascending): one random material per part, or,
    with chance ``shared``, the same one for all (many objects are one material)."""
    labels = [int(x) for x in np.unique(np.asarray(labels, np.int64))]
    if rng.uniform() < shared:
        one = random_material(rng, "shared")
        return {label: one for label in labels}
    return {label: random_material(rng, f"part{label}") for label in labels}


def sample_texture(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N, 3) float64 linear RGB of an (H, W, 3) uint8 sRGB ``image`` at (N, 2) texture coordinates
    (u right, v up, [0, 1] spanning the image; repeated outside): bilinear between texel centres,
    texel (i, j) having its centre at u = (j + 0.5) / W, v = 1 - (i + 0.5) / H."""
    h, w = image.shape[:2]
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    x = uv[:, 0] * w - 0.5
    y = (1.0 - uv[:, 1]) * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    img = image[..., :3].astype(np.float64) / 255.0

    def at(yy, xx):
        return img[yy % h, xx % w]

    out = (at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy)
           + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy)
    return srgb_to_linear(out)


# --------------------------------------------------------------------------------------------- rays
def _frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit tangents (N, 3), (N, 3) completing the unit normals (N, 3) to orthonormal frames."""
    a = np.where(np.abs(n[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    t1 = np.cross(n, a)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    return t1, np.cross(n, t1)


def _occluded(scene, centre, origins: np.ndarray, dirs: np.ndarray, dist: np.ndarray | float) -> np.ndarray:
    """(N,) bool: the ray from each origin along its unit direction meets the mesh within ``dist``."""
    if len(origins) == 0:
        return np.zeros(0, bool)
    dists = np.full(len(origins), dist, np.float32)
    hit = scene.run((origins - centre.astype(np.float32)).astype(np.float32, copy=False),
                    dirs.astype(np.float32, copy=False), dists=dists, output=1)
    return np.asarray(hit["primID"], np.int64) >= 0


def _sun_visibility(scene, centre, points, normals, sun, radius, k, rng) -> np.ndarray:
    """(N,) float64 fraction of ``k`` rays towards the sun's disc (direction ``sun`` (3,), angular radius
    ``radius`` rad) from (N, 3) points that reach it; rays start ``SHADOW_EPS`` off the surface."""
    n = len(points)
    if n == 0 or k == 0:
        return np.ones(n)
    origins = points + SHADOW_EPS * (normals + sun[None, :])
    # only rays that pass through the unit sphere (the mesh's bounds) can be blocked: tested on the
    # disc's centre against a sphere grown by how far the disc's edge strays within the scene's size
    b = origins @ sun
    c = np.einsum("nd,nd->n", origins, origins) - (1.0 + 2.5 * radius + 1e-6) ** 2
    active = np.flatnonzero((b * b - c > 0) & ((b < 0) | (c < 0)))
    vis = np.ones(n)
    if len(active) == 0:
        return vis
    m = len(active)
    t1, t2 = _frame(sun[None, :])
    u = rng.uniform(size=(m, k, 2)).astype(np.float32)
    r = radius * np.sqrt((np.arange(k, dtype=np.float32)[None, :] + u[..., 0]) / k)  # stratified radii
    phi = np.float32(2.0 * np.pi) * u[..., 1]
    dirs = sun.astype(np.float32) + (r * np.cos(phi))[..., None] * t1.astype(np.float32) + \
        (r * np.sin(phi))[..., None] * t2.astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
    start = np.repeat(origins[active].astype(np.float32)[:, None, :], k, axis=1)
    blocked = _occluded(scene, centre, start.reshape(-1, 3), dirs.reshape(-1, 3), 4.0).reshape(m, k)
    vis[active] = 1.0 - blocked.mean(axis=1)
    return vis


def _ambient_occlusion(scene, centre, points, normals, k, distance, ground_y, rng) -> np.ndarray:
    """(N,) float64 fraction of ``k`` cosine-weighted rays about (N, 3) normals that travel ``distance``
    without meeting the mesh or going below the ground plane y = ``ground_y`` (None: no ground)."""
    n = len(points)
    if n == 0 or k == 0:
        return np.ones(n)
    t1, t2 = (a.astype(np.float32) for a in _frame(normals))
    u = rng.uniform(size=(n, k, 2)).astype(np.float32)
    a = np.float32(2.0 * np.pi) * (np.arange(k, dtype=np.float32)[None, :] + u[..., 1]) / k  # stratified azimuths
    s = np.sqrt(u[..., 0])
    dirs = (s * np.cos(a))[..., None] * t1[:, None] + (s * np.sin(a))[..., None] * t2[:, None] + \
        np.sqrt(1.0 - u[..., 0])[..., None] * normals.astype(np.float32)[:, None]
    origins = np.repeat((points + SHADOW_EPS * normals).astype(np.float32)[:, None, :], k, axis=1)
    blocked = _occluded(scene, centre, origins.reshape(-1, 3), dirs.reshape(-1, 3), distance).reshape(n, k)
    if ground_y is not None:
        below = dirs[..., 1] < 0
        reach = np.where(below, (ground_y - origins[..., 1]) / np.where(below, dirs[..., 1], -1.0), np.inf)
        blocked |= reach < distance
    return 1.0 - blocked.mean(axis=1)


def _smooth(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (H, W[, C]) ``values`` within ``mask`` only (normalised convolution)."""
    import cv2

    m = mask.astype(np.float64)
    v = values * (m[..., None] if values.ndim == 3 else m)
    num = cv2.GaussianBlur(v, (0, 0), sigma)
    den = cv2.GaussianBlur(m, (0, 0), sigma)
    den = np.maximum(den, 1e-9)
    return num / (den[..., None] if values.ndim == 3 else den)


def _subset(pixels: np.ndarray, pick: np.ndarray, h: int, w: int, sigma: float) -> np.ndarray:
    """Indices into (N,) flat ``pixels`` of the picked ones (bool (N,)) plus every pixel that a Gaussian
    of ``sigma`` px around the picked ones barely reaches (a thin sliver between them), so ``_smooth``
    over the subset gives every pixel a value."""
    import cv2

    grid = np.zeros(h * w)
    grid[pixels[pick]] = 1.0
    reach = cv2.GaussianBlur(grid.reshape(h, w), (0, 0), sigma).ravel()[pixels]
    return np.flatnonzero(pick | (reach < 0.05))


# -------------------------------------------------------------------------------------------- photo
@dataclass
class _Light:
    sun: np.ndarray        # (3,) unit direction towards the sun
    sun_rgb: np.ndarray
    sky_rgb: np.ndarray
    radius: float
    ground_rgb: np.ndarray = field(default_factory=lambda: np.full(3, 0.3))


def render_photo(shape, gbuffer, rng: np.random.Generator, config: PhotoConfig = PhotoConfig(), *,
                 appearance: Appearance | None = None, background: np.ndarray | None = None,
                 prepared=None) -> np.ndarray:
    """(H, W, 3) uint8 RGB photo-like render of ``shape`` seen by ``gbuffer.camera``.

    shape: a mesh with ``vertices`` (V, 3) float, ``faces`` (F, 3) int, ``face_labels`` (F,) int and
    ``trimesh`` (its ``trimesh.Trimesh``), in the unit-sphere frame, as ``ingest.partmesh.PartMesh``.
    gbuffer: ``render.gbuffer.GBuffer`` of ``shape.trimesh`` (depth, face_id). appearance: the faces'
    materials (faces without one, or all when None, take random materials per part). background:
    (Hb, Wb, 3) uint8 RGB photo, or None for the procedural studio. prepared: ``render.prepared``'s
    PreparedMesh of ``shape.trimesh`` (made when None), for its ray-cast scene.
    """
    import cv2

    from sketchgen.render.prepared import prepare

    cfg = config
    camera = gbuffer.camera
    h, w = gbuffer.depth.shape
    prep = prepared if prepared is not None else prepare(shape.trimesh)
    scene, centre = prep.ray_scene, prep.centre
    vertices = np.asarray(shape.vertices, np.float64)
    ground_y = float(vertices[:, 1].min())
    has_ground = camera.position[1] > ground_y + 0.02 or camera.is_ortho and camera.forward[1] < -0.05

    # ---- the scene's random draws, in a fixed order
    cam_az = np.arctan2(camera.position[0], camera.position[2])
    az = cam_az + np.radians(rng.uniform(*cfg.sun_azimuth_deg))
    el = np.radians(rng.uniform(*cfg.sun_elevation_deg))
    sun_dir = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    warmth = rng.uniform(0.0, 1.0)
    light = _Light(sun=sun_dir, sun_rgb=rng.uniform(*cfg.sun) * np.array([1.0, 0.96 - 0.06 * warmth, 0.9 - 0.15 * warmth]),
                   sky_rgb=rng.uniform(*cfg.sky) * np.array([0.85 + 0.1 * warmth, 0.92, 1.0]),
                   radius=np.radians(rng.uniform(*cfg.sun_radius_deg)))
    exposure = rng.uniform(*cfg.exposure)
    noise_sigma = rng.uniform(*cfg.noise)
    use_photo = background is not None and rng.uniform() < cfg.background_p
    floor = random_floor(rng)
    wall = srgb_to_linear(hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.3), rng.uniform(0.45, 0.95)))
    wall_noise = ValueNoise(rng)
    catcher = rng.uniform(*cfg.catcher)
    part_materials = random_materials(shape.face_labels, rng, cfg.shared_material)
    back = _background(background, w, h, rng, cfg) if use_photo else None
    if back is not None:
        # light the object as bright as the photo is (a dusk photo gets a dim object); 0.2 is the mean
        # linear luminance of a daylight photo, roughly
        mean = srgb_to_linear(back.reshape(-1, 3) / 255.0).mean(axis=0)
        k = float(np.clip((mean @ np.array([0.2126, 0.7152, 0.0722])) / 0.2, 0.3, 1.3))
        light.sun_rgb, light.sky_rgb = light.sun_rgb * k, light.sky_rgb * k
        light.ground_rgb = mean * 0.9
    else:
        light.ground_rgb = floor.colour * 0.9

    # ---- what lies behind the object: ground (or the photo it darkens) and the backdrop, every pixel
    centres = pixel_centres(w, h)
    origins, dirs = camera.pixel_rays(centres)
    behind = np.zeros((h * w, 3))
    mask = gbuffer.face_id >= 0
    # what lies behind the object is seen only at its anti-aliased edge: not lit 3 px inside it
    hidden = cv2.erode(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).ravel() > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ground_y - origins[:, 1]) / dirs[:, 1]
    on_ground = has_ground & (dirs[:, 1] < -1e-6) & (t > 0) & ~hidden
    g_idx = np.flatnonzero(on_ground)
    gp = origins[g_idx] + t[g_idx, None] * dirs[g_idx]
    # ground light is smooth: rays from every other pixel of every other row, spread to the rest by
    # a Gaussian within the ground (which also smooths the few rays' noise; not across the horizon)
    rows, cols = np.divmod(g_idx, w)
    cast = _subset(g_idx, (rows % 2 == 0) & (cols % 2 == 0), h, w, 1.0)
    cp = gp[cast]
    up = np.broadcast_to(UP, cp.shape)
    vis_c = _sun_visibility(scene, centre, cp, up, light.sun, light.radius, cfg.shadow_rays, rng)
    near = np.flatnonzero(np.linalg.norm(cp, axis=1) < 1.0 + cfg.ao_distance)
    ao_c = np.ones(len(cp))
    ao_c[near] = _ambient_occlusion(scene, centre, cp[near], up[near], cfg.ao_rays, cfg.ao_distance, None, rng)
    grid = np.zeros((h * w, 2))
    grid[g_idx[cast]] = np.stack([vis_c, ao_c], 1)
    computed = np.zeros(h * w, bool)
    computed[g_idx[cast]] = True
    smooth = _smooth(grid.reshape(h, w, 2), computed.reshape(h, w), 1.5).reshape(-1, 2)[g_idx]
    vis, ao = np.clip(smooth[:, 0], 0.0, 1.0), np.clip(smooth[:, 1], 0.0, 1.0)
    sun_term = light.sun_rgb * max(light.sun[1], 0.0)
    lit = vis[:, None] * sun_term + ao[:, None] * light.sky_rgb
    if back is not None:
        behind[:] = _SRGB_TO_LINEAR[back.reshape(-1, 3)]
        full = sun_term + light.sky_rgb
        shade = (lit / full).mean(axis=1)  # 1 where unshadowed (exactly: the photo keeps its bytes)
        behind[g_idx] *= (1.0 - catcher * (1.0 - shade))[:, None]
    else:
        # the backdrop: a wall lit from above, its blotches smooth enough to compute on a 32 x 32 grid
        g = (np.arange(32) + 0.5) / 32.0 * 3.0
        gx, gy = np.meshgrid(g, g)
        blotch = wall_noise.fbm(np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1), 3).reshape(32, 32)
        blotch = cv2.resize(blotch, (w, h), interpolation=cv2.INTER_CUBIC).ravel()
        yy = centres[:, 1] / h
        behind[:] = wall[None, :] * ((1.15 - 0.45 * yy) * (0.85 + 0.25 * blotch))[:, None] * exposure
        # a pixel's footprint on the floor (floor units): patterns finer than it fade to their mean
        footprint = t[g_idx] / (camera.focal_px * np.maximum(-dirs[g_idx, 1], 1e-3))
        floor_rgb = _tonemap(floor.albedo(gp[:, [0, 2]], footprint) * lit * exposure)
        fog = np.clip((t[g_idx] - 4.0) / 10.0, 0.0, 1.0)[:, None] ** 0.7
        behind[g_idx] = floor_rgb * (1.0 - fog) + behind[g_idx] * fog

    # ---- the object
    image = behind.copy()
    idx = np.flatnonzero(mask.ravel())
    if len(idx):
        colour = _shade_object(shape, gbuffer, idx, appearance, part_materials, light, scene, centre,
                               ground_y if has_ground else None, cfg, rng)
        obj = np.zeros((h * w, 3))
        obj[idx] = _tonemap(colour * exposure)
        obj = obj.reshape(h, w, 3)
        # anti-aliased silhouette: object colour spread just past the mask, blended by a blurred mask
        alpha = cv2.GaussianBlur(mask.astype(np.float64), (0, 0), 0.6)
        spread = _smooth(obj, mask, 0.8)
        spread[mask] = obj[mask]
        image = image.reshape(h, w, 3) * (1.0 - alpha[..., None]) + spread * alpha[..., None]
        # where the blur reaches no object pixel alpha is 0, so the photo's pixels stay as they were
        image = np.where((alpha > 1e-6)[..., None], image, behind.reshape(h, w, 3))
    # float32 is exact enough here: a photo pixel's linear value maps back to its byte within 1e-4
    image = linear_to_srgb(image.reshape(h, w, 3).astype(np.float32)) * np.float32(255.0)
    if noise_sigma > 0:
        image = image + rng.normal(0.0, noise_sigma, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _tonemap(x: np.ndarray) -> np.ndarray:
    """Linear values with a soft shoulder above 0.8 (highlights roll off below 1 instead of clipping)."""
    knee = 0.8
    return np.where(x < knee, x, knee + (1.0 - knee) * (1.0 - np.exp(-(x - knee) / (1.0 - knee))))


def _background(photo: np.ndarray, w: int, h: int, rng: np.random.Generator, cfg: PhotoConfig) -> np.ndarray:
    """(h, w, 3) uint8: a random crop of ``photo`` of the image's aspect, ``background_zoom`` times smaller
    than the largest that fits, resized (area filter) to w x h, mirrored with chance 1/2 when
    ``background_flip``; the crop that fits exactly at zoom 1 and the same size is the photo itself."""
    import cv2

    ph, pw = photo.shape[:2]
    zoom = rng.uniform(*cfg.background_zoom)
    fit = min(pw / w, ph / h)
    cw, ch = max(1, int(round(w * fit / zoom))), max(1, int(round(h * fit / zoom)))
    x0 = int(rng.integers(0, pw - cw + 1))
    y0 = int(rng.integers(0, ph - ch + 1))
    flip = cfg.background_flip and rng.uniform() < 0.5
    crop = photo[y0:y0 + ch, x0:x0 + cw, :3]
    if (cw, ch) != (w, h):
        interp = cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR
        crop = cv2.resize(np.ascontiguousarray(crop), (w, h), interpolation=interp)
    return np.ascontiguousarray(crop[:, ::-1] if flip else crop)


def surface_at_pixels(shape, gbuffer, idx: np.ndarray):
    """What the (N,) flat pixel indices ``idx`` of a G-buffer see of ``shape`` (as ``render_photo``'s):
    faces (N,) int64, points (N, 3) float64 world, barycentric weights (N, 3), shading normals (N, 3)
    (vertex normals interpolated, the face's own across a crease sharper than 35 degrees, turned to the
    camera), face normals (N, 3) as stored, and unit directions to the eye (N, 3)."""
    camera = gbuffer.camera
    h, w = gbuffer.depth.shape
    faces_px = gbuffer.face_id.ravel()[idx].astype(np.int64)
    points = camera.pixels_to_world(pixel_centres(w, h)[idx], gbuffer.depth.ravel()[idx].astype(np.float64))
    vertices, faces = np.asarray(shape.vertices, np.float64), np.asarray(shape.faces, np.int64)
    bary = face_barycentric(vertices, faces, faces_px, points)
    mesh = shape.trimesh
    vn = np.asarray(mesh.vertex_normals)[faces[faces_px]]  # (N, 3, 3)
    fn = np.asarray(mesh.face_normals)[faces_px]
    normal = np.einsum("nk,nkd->nd", bary, vn)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    # across a crease the averaged vertex normal is wrong: keep the face's own normal there
    crease = np.einsum("nkd,nd->nk", vn, fn).min(axis=1) < np.cos(np.radians(35.0))
    normal[crease] = fn[crease]
    view = camera.view_directions(points)
    normal[np.einsum("nd,nd->n", normal, view) < 0] *= -1  # two-sided: open meshes show their back
    return faces_px, points, bary, normal, fn, view


def _shade_object(shape, gbuffer, idx, appearance, part_materials, light: _Light, scene, centre,
                  ground_y, cfg: PhotoConfig, rng) -> np.ndarray:
    """(N, 3) float64 linear radiance of the object's pixels ``idx`` (flat indices into the image)."""
    faces_px, points, bary, normal, fn, view = surface_at_pixels(shape, gbuffer, idx)
    geo = fn * np.sign(np.einsum("nd,nd->n", fn, view))[:, None]

    albedo, rough, metal = _surface(shape, faces_px, bary, points, appearance, part_materials)

    ndl = np.einsum("nd,d->n", normal, light.sun)
    lit = np.flatnonzero((ndl > 0) & (geo @ light.sun > -0.2))
    vis = np.zeros(len(points))
    vis[lit] = _sun_visibility(scene, centre, points[lit], geo[lit], light.sun, light.radius, cfg.shadow_rays, rng)
    # occlusion from one pixel in four (every other of every other row), spread to the rest and smoothed
    # within the object
    h, w = gbuffer.depth.shape
    rows, cols = np.divmod(idx, w)
    cast = _subset(idx, (rows % 2 == 0) & (cols % 2 == 0), h, w, 1.5)
    grid = np.zeros(h * w)
    grid[idx[cast]] = _ambient_occlusion(scene, centre, points[cast], geo[cast], cfg.ao_rays, cfg.ao_distance,
                                         ground_y, rng)
    m = np.zeros(h * w, bool)
    m[idx[cast]] = True
    ao = np.clip(_smooth(grid.reshape(h, w), m.reshape(h, w), 1.5).ravel()[idx], 0.0, 1.0)

    ndl = np.clip(ndl, 0.0, None)
    ndv = np.clip(np.einsum("nd,nd->n", normal, view), 1e-4, 1.0)
    half = light.sun[None, :] + view
    half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-12)
    ndh = np.clip(np.einsum("nd,nd->n", normal, half), 0.0, 1.0)
    vdh = np.clip(np.einsum("nd,nd->n", view, half), 0.0, 1.0)
    a = np.maximum(rough, 0.05) ** 2
    d = a * a / (np.pi * ((ndh * ndh) * (a * a - 1.0) + 1.0) ** 2)
    kk = (rough + 1.0) ** 2 / 8.0
    g = (ndl / (ndl * (1 - kk) + kk)) * (ndv / (ndv * (1 - kk) + kk))
    f0 = 0.04 * (1.0 - metal)[:, None] + albedo * metal[:, None]
    fres = f0 + (1.0 - f0) * ((1.0 - vdh) ** 5)[:, None]
    spec = fres * (d * g / np.maximum(4.0 * ndl * ndv, 1e-4))[:, None]
    sky_n = light.sky_rgb * (0.6 + 0.4 * normal[:, 1:2]) + light.ground_rgb * light.sky_rgb.mean() * \
        (0.4 - 0.4 * normal[:, 1:2])
    diffuse = albedo * (1.0 - metal)[:, None] * (light.sun_rgb * (ndl * vis)[:, None] + sky_n * ao[:, None])
    # reflection of a sky (up) / ground (down) gradient, blurred towards the diffuse sky by roughness
    refl = 2.0 * ndv[:, None] * normal - view
    up = np.clip((refl[:, 1:2] + 0.1) / 0.5, 0.0, 1.0)
    env = light.sky_rgb * 1.2 * up + light.ground_rgb * light.sky_rgb.mean() * (1.0 - up)
    env = env * (1.0 - rough[:, None]) + sky_n * rough[:, None]
    fres_v = f0 + (np.maximum(1.0 - rough[:, None], f0) - f0) * ((1.0 - ndv) ** 5)[:, None]
    return diffuse + spec * light.sun_rgb * (ndl * vis)[:, None] + fres_v * env * ao[:, None]


def _surface(shape, faces_px, bary, points, appearance: Appearance | None, part_materials: dict):
    """Per pixel albedo (N, 3) linear, roughness (N,), metallic (N,) from the faces' materials."""
    n = len(faces_px)
    albedo, rough, metal = np.zeros((n, 3)), np.zeros(n), np.zeros(n)
    own = np.full(n, -1, np.int64) if appearance is None else appearance.face_material[faces_px]
    labels = np.asarray(shape.face_labels, np.int64)[faces_px]
    groups = [(m, appearance.materials[m], own == m) for m in np.unique(own[own >= 0])] if appearance else []
    groups += [(None, part_materials[int(l)], (own < 0) & (labels == l)) for l in np.unique(labels[own < 0])]
    for m, mat, sel in groups:
        sel = np.flatnonzero(sel)
        if mat.solid is not None:
            colour = mat.solid.albedo(points[sel], mat.colour)
        else:
            colour = np.broadcast_to(mat.colour, (len(sel), 3)).copy()
        if m is not None and mat.texture is not None and appearance.uv is not None:
            uv = np.einsum("nk,nkd->nd", bary[sel], appearance.uv[faces_px[sel]])
            ok = np.isfinite(uv).all(axis=1)
            colour[ok] *= sample_texture(mat.texture, uv[ok])
        albedo[sel], rough[sel], metal[sel] = colour, mat.roughness, mat.metallic
    return np.clip(albedo, 0.0, 1.0), np.clip(rough, 0.0, 1.0), np.clip(metal, 0.0, 1.0)
