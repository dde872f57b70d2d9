"""The photo renderer: shadows where the geometry puts them, the background photo's own pixels elsewhere,
random materials on every part, and the same bytes from the same seed."""

from types import SimpleNamespace

import numpy as np
import pytest
import trimesh

from sketchgen.render.camera import Camera, pixel_centres
from sketchgen.render.photo import PhotoConfig, random_materials, render_photo, sample_texture

HALF = 0.3  # the box's half side: it stands on the ground plane y = -HALF
SUN = np.array([np.cos(np.radians(45.0)), np.sin(np.radians(45.0)), 0.0])  # elevation 45, azimuth +90 from the camera's
GREY = 150


def _shape(mesh):
    return SimpleNamespace(vertices=np.asarray(mesh.vertices), faces=np.asarray(mesh.faces),
                           face_labels=np.zeros(len(mesh.faces), np.int64), trimesh=mesh)


@pytest.fixture(scope="module")
def box_scene():
    from sketchgen.render.gbuffer import get_renderer

    mesh = trimesh.creation.box(extents=(2 * HALF,) * 3)
    camera = Camera.looking_at((0.0, 2.0, 3.0), (0.0, 0.0, 0.0), width=96, height=96)
    return _shape(mesh), get_renderer().render(mesh, camera, normals=False)


def _config(**kw):
    # hard sun at a fixed direction, no sky occlusion or noise: the ground pixels are exact
    base = dict(sun_elevation_deg=(45.0, 45.0), sun_azimuth_deg=(90.0, 90.0), sun_radius_deg=(0.0, 0.0),
                shadow_rays=1, ao_rays=0, noise=(0.0, 0.0), background_p=1.0, background_zoom=(1.0, 1.0),
                background_flip=False, catcher=(0.8, 0.8))
    base.update(kw)
    return PhotoConfig(**base)


def _ground_shadow(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool where the camera ray meets the ground, (H, W) bool where that ground point is hidden
    from the sun by the box (slab test of the ray towards the sun against the box)."""
    o, d = camera.pixel_rays(pixel_centres(camera.width, camera.height))
    t = (-HALF - o[:, 1]) / d[:, 1]
    ground = (d[:, 1] < 0) & (t > 0)
    g = o + t[:, None] * d
    with np.errstate(divide="ignore"):
        t0 = (-HALF - g) / SUN
        t1 = (HALF - g) / SUN
    lo = np.nanmax(np.minimum(t0, t1), axis=1)
    hi = np.nanmin(np.maximum(t0, t1), axis=1)
    shadow = ground & (hi > np.maximum(lo, 1e-9))
    return ground.reshape(camera.height, camera.width), shadow.reshape(camera.height, camera.width)


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * px + 1, 2 * px + 1), np.uint8)) > 0


def test_shadow_falls_where_the_box_hides_the_ground_from_the_sun(box_scene):
    shape, gb = box_scene
    background = np.full((96, 96, 3), GREY, np.uint8)
    image = render_photo(shape, gb, np.random.default_rng(0), _config(), background=background)
    ground, shadow = _ground_shadow(gb.camera)
    near_object = _grow(gb.mask, 3)
    inside = shadow & ~_grow(~shadow, 4) & ~near_object          # well inside the shadow
    lit = ground & ~_grow(shadow, 4) & ~near_object               # well away from it
    assert inside.sum() > 50 and lit.sum() > 1000
    grey = image.mean(axis=2)
    # a full shadow darkens the photo by the catcher's 0.8 of the sun's share of the light
    assert grey[inside].max() < 0.9 * GREY
    assert np.all(image[lit] == GREY)


def test_background_pixels_are_the_photos_own(box_scene):
    shape, gb = box_scene
    background = np.random.default_rng(3).integers(0, 256, size=(96, 96, 3), dtype=np.uint8)
    image = render_photo(shape, gb, np.random.default_rng(1), _config(), background=background)
    ground, shadow = _ground_shadow(gb.camera)
    away = ~_grow(gb.mask, 3) & ~_grow(shadow, 4)
    assert away.sum() > 0.5 * away.size
    assert np.array_equal(image[away], background[away])
    # a photo twice the size and zoom 1 is the same picture resampled to the render's size
    big = np.repeat(np.repeat(background, 2, axis=0), 2, axis=1)
    image2 = render_photo(shape, gb, np.random.default_rng(1), _config(), background=big)
    assert np.abs(image2[away].astype(int) - background[away]).max() <= 1


def test_the_studio_floor_is_darker_in_the_shadow(box_scene):
    shape, gb = box_scene
    ground, shadow = _ground_shadow(gb.camera)
    near_object = _grow(gb.mask, 3)
    inside = shadow & ~_grow(~shadow, 4) & ~near_object
    lit = ground & ~_grow(shadow, 4) & ~near_object
    for seed in range(3):  # procedural floors of several kinds, no background photo
        image = render_photo(shape, gb, np.random.default_rng(seed), _config()).astype(float).mean(axis=2)
        assert image[inside].mean() < 0.8 * image[lit].mean()


def test_same_seed_same_bytes(box_scene):
    shape, gb = box_scene
    background = np.random.default_rng(4).integers(0, 256, size=(120, 150, 3), dtype=np.uint8)
    cfg = PhotoConfig()
    a = render_photo(shape, gb, np.random.default_rng(7), cfg, background=background)
    b = render_photo(shape, gb, np.random.default_rng(7), cfg, background=background)
    c = render_photo(shape, gb, np.random.default_rng(8), cfg, background=background)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_random_materials_cover_every_part_and_repeat_with_the_seed():
    labels = np.array([3, 0, 3, 7])
    a = random_materials(labels, np.random.default_rng(5), shared=0.0)
    b = random_materials(labels, np.random.default_rng(5), shared=0.0)
    assert sorted(a) == [0, 3, 7]
    for k in a:
        assert np.array_equal(a[k].colour, b[k].colour) and a[k].roughness == b[k].roughness
        assert np.all((a[k].colour >= 0) & (a[k].colour <= 1)) and 0 <= a[k].metallic <= 1
    one = random_materials(labels, np.random.default_rng(5), shared=1.0)
    assert len({id(m) for m in one.values()}) == 1


def test_sample_texture_reads_texel_centres_and_wraps():
    image = np.zeros((2, 4, 3), np.uint8)
    image[0, 1] = (255, 0, 0)   # top row: v near 1
    image[1, 3] = (0, 0, 255)
    # texel (i, j) has its centre at u = (j + 0.5) / W, v = 1 - (i + 0.5) / H
    uv = np.array([[1.5 / 4, 0.75], [3.5 / 4, 0.25], [3.5 / 4 + 1.0, 0.25 - 2.0]])
    out = sample_texture(image, uv)
    assert np.allclose(out[0], [1.0, 0.0, 0.0]) and np.allclose(out[1], [0.0, 0.0, 1.0])
    assert np.allclose(out[2], out[1])
