import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.gbuffer import GBufferRenderer, RenderBackendError, get_renderer


def _marker_centroid(camera, point, radius):
    marker = trimesh.creation.icosphere(subdivisions=3, radius=radius)
    gbuf = get_renderer().render_triangles(marker.vertices + point, marker.faces, camera)
    rows, cols = np.nonzero(gbuf.face_id >= 0)
    assert len(rows) > 30  # a real blob, not a stray pixel
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5])  # pixel centres


@pytest.mark.parametrize("ortho", [False, True])
def test_marker_lands_on_projected_point(ortho):
    kwargs = {"ortho_scale": 1.2} if ortho else {"yfov_deg": 45.0}
    cam = Camera.looking_at((1.5, 0.8, 3.0), (0.1, 0.0, -0.2), (0, 1, 0), width=200, height=150, **kwargs)
    for point in ([0.9, 0.5, 0.1], [-0.8, -0.45, 0.3], [0.3, -0.6, -0.4]):
        point = np.array(point)
        xy, _ = cam.world_to_pixels(point[None])
        centroid = _marker_centroid(cam, point, radius=0.08)
        assert np.linalg.norm(centroid - xy[0]) < 0.5, (point, centroid, xy[0])
        # the marker is not trivially at the centre: it is well off-axis
        assert np.linalg.norm(xy[0] - [100, 75]) > 20


def test_depth_at_pixel_centres_and_exact_face_ids():
    # a tilted square (two triangles) filling part of the view; depth varies across it
    verts = np.array([[-1.0, -1.0, -0.3], [1.0, -1.0, 0.4], [1.0, 1.0, 0.1], [-1.0, 1.0, -0.6]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    cam = Camera.looking_at((0.4, 0.3, 3.0), (0.0, 0.0, 0.0), (0, 1, 0), width=96, height=80, yfov_deg=50.0)
    gbuf = get_renderer().render_triangles(verts, faces, cam, normals=True)
    # analytic: intersect each pixel-centre ray with the triangles' planes (exactly, in float64)
    jj, ii = np.meshgrid(np.arange(cam.width), np.arange(cam.height))
    centres = np.stack([jj.ravel() + 0.5, ii.ravel() + 0.5], axis=1)
    origins, dirs = cam.pixel_rays(centres)
    expected_id = np.full(len(centres), -1)
    expected_depth = np.full(len(centres), np.inf)
    margin = np.full(len(centres), np.inf)  # distance (barycentric) from the nearest triangle edge
    for f, tri in enumerate(verts[faces]):
        normal = np.cross(tri[1] - tri[0], tri[2] - tri[0])
        t = ((tri[0] - origins) @ normal) / (dirs @ normal)
        hit = origins + t[:, None] * dirs
        # barycentric coordinates of the hit
        m = np.stack([tri[1] - tri[0], tri[2] - tri[0]], axis=1)
        uv = np.linalg.lstsq(m, (hit - tri[0]).T, rcond=None)[0].T
        bary = np.stack([1 - uv.sum(1), uv[:, 0], uv[:, 1]], axis=1)
        inside = bary.min(1) >= 0
        expected_id[inside] = f
        expected_depth[inside] = -cam.world_to_cam(hit[inside])[:, 2]
        margin = np.where(inside, np.minimum(margin, bary.min(1)), np.minimum(margin, -bary.min(1)))
    clear = margin > 1e-3  # pixel centres not on a triangle edge, where rounding may pick either face
    assert clear.sum() > 0.9 * len(centres)
    ids = gbuf.face_id.ravel()
    np.testing.assert_array_equal(ids[clear], expected_id[clear])
    covered = clear & (expected_id >= 0)
    assert covered.sum() > 1000
    np.testing.assert_allclose(gbuf.depth.ravel()[covered], expected_depth[covered], rtol=2e-5)
    assert np.all(np.isinf(gbuf.depth.ravel()[clear & (expected_id < 0)]))
    # normals are the world-space face normals of the face at each pixel
    mesh_normals = trimesh.Trimesh(verts, faces, process=False).face_normals
    np.testing.assert_allclose(gbuf.normal.reshape(-1, 3)[covered], mesh_normals[ids[covered]], atol=1e-6)
    assert gbuf.depth.dtype == np.float32 and gbuf.face_id.dtype == np.int32


def test_sphere_depth_and_silhouette_area(sphere):
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=128, height=128, ortho_scale=1.25)
    gbuf = get_renderer().render(sphere, cam)
    # orthographic: the disc of radius f * r, depth 3 - sqrt(r^2 - x^2 - y^2) at each pixel centre
    f = cam.focal_px
    jj, ii = np.meshgrid(np.arange(128) + 0.5, np.arange(128) + 0.5)
    x, y = (jj - 64) / f, (64 - ii) / f
    rho2 = x * x + y * y
    inner = rho2 < 0.9 ** 2
    analytic = 3.0 - np.sqrt(1.0 - rho2[inner])
    # the icosphere's facets lie inside the unit sphere (depth only larger) by a sagitta of about
    # 1e-3 along the normal, i.e. 1e-3 / cos(incidence) along the view axis
    err = gbuf.depth[inner] - analytic
    assert err.min() > -1e-5
    assert (err * np.sqrt(1.0 - rho2[inner])).max() < 1.2e-3
    assert abs(gbuf.mask.sum() - np.pi * f * f) < 0.01 * np.pi * f * f


def test_one_context_reused_across_sizes(cube):
    renderer = get_renderer()
    assert get_renderer() is renderer
    for w, h in ((64, 48), (32, 32), (64, 48)):
        cam = Camera.looking_at((2, 1.5, 2.5), (0, 0, 0), (0, 1, 0), width=w, height=h, yfov_deg=40.0)
        gbuf = renderer.render(cube, cam, normals=False)
        assert gbuf.face_id.shape == (h, w) and gbuf.normal is None
        assert set(np.unique(gbuf.face_id)) <= set(range(-1, 12))
        # three faces of the cube (six triangles) face this camera
        assert len(np.unique(gbuf.face_id[gbuf.face_id >= 0])) == 6
    # background only: a camera looking away
    away = Camera.looking_at((0, 0, 3), (0, 0, 6), (0, 1, 0), width=16, height=16, yfov_deg=40.0)
    empty = renderer.render(cube, away)
    assert np.all(empty.face_id == -1) and np.all(np.isinf(empty.depth))


def test_missing_egl_is_one_line_input_error(monkeypatch):
    from pyrender.platforms import egl

    def broken(*args, **kwargs):
        raise RuntimeError("eglInitialize failed\n(no display)")

    monkeypatch.setattr(egl, "EGLPlatform", broken)
    with pytest.raises(RenderBackendError) as info:
        GBufferRenderer()
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert "\n" not in message
    assert "libegl1 libegl-mesa0 libgl1-mesa-dri" in message and "eglInitialize failed" in message


def test_survives_pyrender_terminating_the_shared_egl_display(cube):
    import pyrender

    cam = Camera.looking_at((2, 1.5, 2.5), (0, 0, 0), (0, 1, 0), width=32, height=32, yfov_deg=40.0)
    before = get_renderer().render(cube, cam, normals=False)
    other = pyrender.OffscreenRenderer(16, 16)
    other.delete()  # eglTerminate on the display our context lives on
    after = get_renderer().render(cube, cam, normals=False)
    np.testing.assert_array_equal(after.face_id, before.face_id)
    np.testing.assert_array_equal(after.depth, before.depth)


def test_mesh_uploaded_once_and_again_when_changed():
    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=64, height=64, ortho_scale=1.0)
    renderer = get_renderer()
    first = renderer.render(mesh, cam, normals=False)
    entry = renderer._meshes[id(mesh)]
    renderer.render(mesh, cam, normals=False)
    assert renderer._meshes[id(mesh)] is entry  # reused, not uploaded again
    mesh.apply_translation([0.0, 0.0, 0.5])  # the cached buffers are now stale
    moved = renderer.render(mesh, cam, normals=False)
    assert renderer._meshes[id(mesh)] is not entry
    covered = first.face_id >= 0
    np.testing.assert_allclose(moved.depth[covered], first.depth[covered] - 0.5, atol=1e-5)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_clip_planes_left_out_render_a_scaled_copy_the_same(sphere, scale):
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=96, height=96, yfov_deg=45.0)
    cam_scaled = Camera.looking_at((0, 0, 3 * scale), (0, 0, 0), (0, 1, 0), width=96, height=96, yfov_deg=45.0)
    scaled = sphere.copy()
    scaled.apply_scale(scale)
    a = get_renderer().render(sphere, cam, normals=False)
    b = get_renderer().render(scaled, cam_scaled, normals=False)
    assert a.mask.sum() > 1000  # the 0.01-100 planes a camera once had would clip the scaled copy away
    np.testing.assert_array_equal(b.face_id, a.face_id)
    np.testing.assert_allclose(b.depth[a.mask] / scale, a.depth[a.mask], rtol=1e-5)
