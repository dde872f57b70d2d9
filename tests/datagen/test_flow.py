import numpy as np

from sketchgen.datagen.flow import dense_flow, lift, pixel_centres, sample_flow
from sketchgen.render.camera import Camera


def _sphere_depth(cam: Camera, radius=1.0):
    """Analytic depth buffer of a sphere at the origin: ray-sphere intersection at pixel centres."""
    origins, dirs = cam.pixel_rays(pixel_centres(cam.width, cam.height))
    b = np.einsum("ij,ij->i", origins, dirs)
    c = np.einsum("ij,ij->i", origins, origins) - radius ** 2
    disc = b * b - c
    t = -b - np.sqrt(np.where(disc >= 0, disc, np.nan))
    points = origins + t[:, None] * dirs
    depth = -cam.world_to_cam(points)[:, 2]
    depth[~np.isfinite(depth)] = np.inf
    return depth.reshape(cam.height, cam.width).astype(np.float32)


def test_flow_between_two_views_of_a_sphere():
    cam_a = Camera.looking_at((0, 0, 3.0), (0, 0, 0), width=64, height=64, yfov_deg=50.0)
    cam_b = Camera.looking_at((3.0 * np.sin(1.2), 0.3, 3.0 * np.cos(1.2)), (0, 0, 0), width=64, height=64,
                              yfov_deg=50.0)
    da, db = _sphere_depth(cam_a), _sphere_depth(cam_b)
    flow = dense_flow(da, cam_a, db, cam_b)
    assert flow.shape == (64, 64, 2) and flow.dtype == np.float32
    points, mask = lift(da, cam_a)
    # lifted points lie on the unit sphere
    np.testing.assert_allclose(np.linalg.norm(points[mask.ravel()], axis=1), 1.0, atol=1e-5)
    # analytic visibility in B: facing B's eye
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    to_eye = cam_b.position - points
    facing = np.einsum("ij,ij->i", normals, to_eye / np.linalg.norm(to_eye, axis=1, keepdims=True))
    valid = np.isfinite(flow[..., 0]).ravel()
    assert not valid[~mask.ravel()].any()                     # background of A has no flow
    # within ~1 px of B's silhouette (|cos| < 0.3 on this 23 px sphere) a pixel buffer cannot decide
    clear = mask.ravel() & (facing > 0.3)
    hidden = mask.ravel() & (facing < -0.3)
    assert valid[clear].all() and not valid[hidden].any()
    assert hidden.sum() > 300 and clear.sum() > 300
    # where defined, A's pixel centre + flow is the projection of its surface point in B
    xy_b, _ = cam_b.world_to_pixels(points[valid])
    np.testing.assert_allclose(pixel_centres(64, 64)[valid] + flow.reshape(-1, 2)[valid], xy_b, atol=1e-3)


def test_flow_through_a_point_map_and_bilinear_sampling():
    # shape B is shape A scaled by 0.5: the map sends p to 0.5 p; the same camera sees it half as large
    cam = Camera.looking_at((0, 0, 4.0), (0, 0, 0), width=48, height=48, ortho_scale=1.2)
    da = _sphere_depth(cam, 1.0)
    db = _sphere_depth(cam, 0.5)
    faces = np.where(np.isfinite(da), 0, -1)
    flow = dense_flow(da, cam, db, cam, faces_a=faces, point_map=lambda f, p: (0.5 * p, np.ones(len(p), bool)))
    centre = 24.0
    valid = np.isfinite(flow[..., 0])
    ys, xs = np.nonzero(valid)
    # orthographic: x_b - c = 0.5 (x_a - c)  =>  flow = -0.5 (x_a - c)
    np.testing.assert_allclose(flow[ys, xs, 0], -0.5 * (xs + 0.5 - centre), atol=1e-4)
    np.testing.assert_allclose(flow[ys, xs, 1], -0.5 * (ys + 0.5 - centre), atol=1e-4)
    got = sample_flow(flow, np.array([[30.2, 20.7]]))
    np.testing.assert_allclose(got[0], [-0.5 * (30.2 - centre), -0.5 * (20.7 - centre)], atol=1e-4)


def test_restyled_flow_takes_each_drawn_pixel_of_a_to_its_drawn_position_in_b():
    from sketchgen.datagen.flow import restyle_flow, restyle_mask, undisplace
    from sketchgen.render.style import make_style

    h, w = 40, 50
    shift = np.array([3.25, -2.5])
    flow = np.broadcast_to(shift, (h, w, 2)).astype(np.float32).copy()
    mask = np.zeros((h, w), bool)
    mask[5:35, 5:45] = True
    flow[~mask] = np.nan
    sa = make_style("sketchy", np.random.default_rng(1))
    sb = make_style("sketchy", np.random.default_rng(2))
    out, drawn_mask = restyle_flow(flow, mask, sa.displace, sb.displace)
    ys, xs = np.mgrid[0:h, 0:w]
    p = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1)
    q = undisplace(sa.displace, p)
    assert np.abs(sa.displace(q) - p).max() < 1e-6
    expected = sb.displace(q + shift) - p  # the exact flow is a translation: no approximation left
    ok = np.isfinite(out.reshape(-1, 2)).all(1)
    assert ok.sum() > 0.5 * mask.sum()
    assert np.abs(out.reshape(-1, 2)[ok] - expected[ok]).max() < 1e-4
    assert np.array_equal(drawn_mask, restyle_mask(mask, sa.displace))
    assert np.abs(out.reshape(-1, 2)[ok] - shift).max() > 0.3  # the styles did move the correspondence
