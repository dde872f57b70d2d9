import json
import math

import numpy as np
import pytest

from sketchgen.render.camera import Camera, CameraError, load_cameras
from sketchgen.render.views import fibonacci, orbit, random_views, sketchzooms_factors, zoom_cameras


def test_origin_projects_to_image_centre(front_camera):
    xy, depth = front_camera.world_to_pixels(np.zeros((1, 3)))
    np.testing.assert_allclose(xy[0], [128.0, 128.0])
    assert depth[0] == pytest.approx(3.0)


def test_axes_directions_and_focal_length(front_camera):
    # +X world is right, +Y world is up (smaller row), at depth 3 with f = 128 / tan(20 deg)
    f = 128.0 / math.tan(math.radians(20.0))
    xy, _ = front_camera.world_to_pixels(np.array([[0.3, 0.0, 0.0], [0.0, 0.3, 0.0]]))
    np.testing.assert_allclose(xy[0], [128.0 + f * 0.1, 128.0], atol=1e-9)
    np.testing.assert_allclose(xy[1], [128.0, 128.0 - f * 0.1], atol=1e-9)


def test_pixel_centre_convention():
    # a 2x2 orthographic image of half-height 1: pixel (row 0, col 0) centre at (0.5, 0.5) = world (-0.5, 0.5)
    cam = Camera.looking_at((0, 0, 5), (0, 0, 0), (0, 1, 0), width=2, height=2, ortho_scale=1.0)
    xy, _ = cam.world_to_pixels(np.array([[-0.5, 0.5, 0.0], [-1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(xy, [[0.5, 0.5], [0.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize("ortho", [False, True])
def test_world_pixels_round_trip(ortho, rng):
    kwargs = {"ortho_scale": 1.3} if ortho else {"yfov_deg": 35.0}
    cam = Camera.looking_at((1.0, 2.0, 3.5), (0.1, -0.2, 0.0), (0, 1, 0), width=320, height=200, **kwargs)
    pts = rng.uniform(-1, 1, size=(500, 3))
    xy, depth = cam.world_to_pixels(pts)
    np.testing.assert_allclose(cam.pixels_to_world(xy, depth), pts, atol=1e-10)


def test_projection_matrix_matches_world_to_pixels(rng):
    for kwargs in ({"yfov_deg": 50.0}, {"ortho_scale": 0.8}):
        cam = Camera.looking_at((2.0, 1.0, 2.0), (0, 0, 0), (0, 1, 0), width=300, height=150, **kwargs)
        pts = rng.uniform(-0.5, 0.5, size=(100, 3))
        cam = cam.fitted(pts.min(axis=0), pts.max(axis=0))
        clip = (cam.projection_matrix() @ cam.world_to_camera @ np.c_[pts, np.ones(len(pts))].T).T
        ndc = clip[:, :3] / clip[:, 3:4]
        xy_gl = np.stack([(ndc[:, 0] + 1) / 2 * cam.width, (1 - ndc[:, 1]) / 2 * cam.height], axis=1)
        np.testing.assert_allclose(xy_gl, cam.world_to_pixels(pts)[0], atol=1e-9)


def test_json_round_trip_and_pose_precedence(front_camera):
    data = front_camera.to_json()
    again = Camera.from_json(json.loads(json.dumps(data)))
    np.testing.assert_allclose(again.pose, front_camera.pose)
    pose = np.eye(4)
    pose[:3, 3] = [0, 0, 7]
    cam = Camera.from_json({"position": [9, 9, 9], "look_at": [0, 0, 0], "up": [0, 1, 0],
                            "pose": pose.tolist(), "yfov_deg": 30, "width": 10, "height": 10})
    np.testing.assert_allclose(cam.position, [0, 0, 7])


@pytest.mark.parametrize("change, reason", [
    ({"width": None}, "missing key 'width'"),
    ({"height": 0}, "height must be a positive integer"),
    ({"up": [0, 0, 0]}, "up has zero length"),
    ({"up": [0, 0, 1]}, "parallel"),
    ({"look_at": [0, 0, 3]}, "look_at equals position"),
    ({"yfov_deg": None}, "missing key 'yfov_deg'"),
    ({"position": [0, float("nan"), 3]}, "finite"),
])
def test_invalid_camera_names_file_and_reason(tmp_path, change, reason):
    data = {"position": [0, 0, 3], "look_at": [0, 0, 0], "up": [0, 1, 0], "yfov_deg": 40,
            "width": 64, "height": 64}
    for k, v in change.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    path = tmp_path / "cam.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CameraError) as info:
        load_cameras(path)
    assert str(path) in str(info.value) and reason in str(info.value)
    assert "\n" not in str(info.value)


def test_view_samplers_look_at_the_target(rng):
    cams = orbit([0, 30], [0, 90, 180, 270], distance=2.0) + fibonacci(10) + random_views(5, rng)
    assert len(cams) == 23
    for cam in cams:
        xy, depth = cam.world_to_pixels(np.zeros((1, 3)))
        np.testing.assert_allclose(xy[0], [128, 128], atol=1e-9)
        assert depth[0] > 0
    dirs = np.array([c.position / np.linalg.norm(c.position) for c in fibonacci(200)])
    assert np.linalg.norm(dirs.mean(axis=0)) < 0.02  # evenly spread over the sphere


@pytest.mark.parametrize("ortho", [False, True])
def test_zoom_cameras_centre_the_point_and_scale(ortho, front_camera):
    base = (Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=256, height=256, ortho_scale=1.2)
            if ortho else front_camera)
    point = np.array([0.3, -0.2, 0.1])
    factors = sketchzooms_factors()
    cams = zoom_cameras(point, base, factors, width=224, height=224)
    assert factors == pytest.approx([180 / 256, 130 / 256, 80 / 256])
    # a small offset from the point grows in pixels in inverse proportion to the zoom factor
    offsets = []
    for cam in cams:
        xy, _ = cam.world_to_pixels(np.array([point, point + base.pose[:3, 0] * 0.01]))
        np.testing.assert_allclose(xy[0], [112, 112], atol=1e-9)
        offsets.append(np.linalg.norm(xy[1] - xy[0]))
    ratios = np.array(offsets) * np.array(factors)
    np.testing.assert_allclose(ratios / ratios[0], 1.0, rtol=0.02)


def test_clip_planes_left_out_are_fitted_to_the_mesh_at_any_scale():
    for scale in (1e-3, 1.0, 1e3):
        cam = Camera.looking_at((0.0, 0.0, 5.0 * scale), (0, 0, 0), (0, 1, 0), yfov_deg=30.0)
        assert cam.znear is None and cam.zfar is None and "znear" not in cam.to_json()
        fitted = cam.fitted(np.full(3, -scale), np.full(3, scale))
        diag = 2.0 * scale * math.sqrt(3.0)
        # box depths run 4..6 x scale; planes a margin of 1% of the diagonal beyond them
        assert fitted.znear == pytest.approx(4.0 * scale - 0.01 * diag)
        assert fitted.zfar == pytest.approx(6.0 * scale + 0.01 * diag)
        with pytest.raises(CameraError, match="clip planes"):
            cam.projection_matrix()
    given = Camera.looking_at((0.0, 0.0, 1500.0), (0, 0, 0), (0, 1, 0), yfov_deg=30.0, zfar=100.0)
    assert given.fitted(np.full(3, -150.0), np.full(3, 150.0)).zfar == 100.0  # a given plane is kept
    corners = np.array([[0.0, 0.0, 150.0], [0.0, 0.0, -150.0]])
    assert given.cuts(corners) == "zfar 100 falls short of its farthest depth 1650"
    assert cam.cuts(corners) is None
    inside = Camera.looking_at((0.0, 0.0, 0.5), (0, 0, 0), (0, 1, 0), yfov_deg=30.0)
    near = inside.fitted(np.full(3, -1.0), np.full(3, 1.0)).znear  # eye inside the box: near floor
    assert near == pytest.approx(1e-3 * 2.0 * math.sqrt(3.0))
