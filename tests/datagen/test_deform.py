import math

import numpy as np

from sketchgen.datagen.deform import Deformation, DeformConfig, ThinPlateSpline, random_deformation


def test_tps_interpolates_control_points_and_keeps_affine_exact():
    rng = np.random.default_rng(0)
    src = rng.uniform(-1, 1, size=(9, 2))
    dst = src + rng.uniform(-0.2, 0.2, size=src.shape)
    tps = ThinPlateSpline.fit(src, dst)
    np.testing.assert_allclose(tps(src), dst, atol=1e-10)
    # an affine target is reproduced everywhere with zero bending weights
    a = np.array([[1.1, 0.2], [-0.3, 0.9]])
    aff = ThinPlateSpline.fit(src, src @ a.T + [0.1, -0.2])
    pts = rng.uniform(-1, 1, size=(50, 2))
    np.testing.assert_allclose(aff(pts), pts @ a.T + [0.1, -0.2], atol=1e-9)


def test_affine_deformation_maps_known_pixels():
    # rotation by 90 degrees about the centre of a 100x100 image: (75, 50) -> (50, 75) (y down)
    d = Deformation(np.array([[0.0, -1.0], [1.0, 0.0]]), np.zeros(2), None, 100, 100)
    np.testing.assert_allclose(d.apply([[75.0, 50.0], [50.0, 50.0]]), [[50.0, 75.0], [50.0, 50.0]], atol=1e-12)
    flow = d.flow()
    assert flow.shape == (100, 100, 2)
    np.testing.assert_allclose(flow[49, 74], np.array([50.5, 74.5]) - [74.5, 49.5], atol=1e-12)


def test_jacobian_matches_finite_differences_and_inverse_round_trips():
    rng = np.random.default_rng(3)
    d = random_deformation(rng, 128, 96, DeformConfig())
    pts = rng.uniform(20, 80, size=(40, 2))
    eps = 1e-5
    num = np.stack([(d.apply(pts + [eps, 0]) - d.apply(pts - [eps, 0])) / (2 * eps),
                    (d.apply(pts + [0, eps]) - d.apply(pts - [0, eps])) / (2 * eps)], axis=2)
    np.testing.assert_allclose(d.jacobian(pts), num, atol=1e-5)
    back = d.inverse(d.apply(pts))
    ok = np.isfinite(back[:, 0])
    assert ok.mean() > 0.9
    np.testing.assert_allclose(back[ok], pts[ok], atol=1e-3)


def test_random_deformation_respects_ranges():
    rng = np.random.default_rng(5)
    cfg = DeformConfig()
    for _ in range(20):
        d = random_deformation(rng, 64, 64, cfg, tps=False)
        # |det| = scale^2 for rotation x shear x isotropic scale
        det = abs(np.linalg.det(d.matrix))
        assert 0.25 - 1e-9 <= det <= 2.25 + 1e-9
        assert np.all(np.abs(d.offset) <= 0.5)
    d = random_deformation(np.random.default_rng(7), 64, 64, cfg)
    assert np.max(np.abs(d.tps.dst - d.tps.src)) <= 0.25 and d.tps.src.shape == (16, 2)


def test_warp_image_agrees_with_apply():
    # a single bright pixel moves to where apply() sends its centre
    d = Deformation(np.eye(2) * 0.8, np.array([0.1, -0.05]), None, 64, 64)
    img = np.zeros((64, 64), np.float32)
    img[20, 30] = 1.0
    target = d.apply([[30.5, 20.5]])[0]
    out = d.warp_image(img)
    iy, ix = np.unravel_index(np.argmax(out), out.shape)
    assert math.hypot(ix + 0.5 - target[0], iy + 0.5 - target[1]) <= 0.75


def test_warp_mask_follows_the_deformation():
    d = random_deformation(np.random.default_rng(11), 96, 96, DeformConfig(scale=(0.9, 1.1), translation=0.1))
    mask = np.zeros((96, 96), bool)
    mask[30:70, 25:60] = True
    mask[45:55, 40:48] = False  # a hole
    warped = d.warp_mask(mask) > 0
    # the pixels of B whose inverse lands well inside A's mask (or well outside) are in (or out of) B's
    src = d.inverse_map(96, 96)
    ok = np.isfinite(src).all(axis=2)
    import cv2  # noqa: E402 - only this test needs it
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    ys, xs = np.nonzero(ok)
    sx = np.clip(src[ys, xs, 0].astype(int), 0, 95)
    sy = np.clip(src[ys, xs, 1].astype(int), 0, 95)
    deep_in = inside[sy, sx] > 2.5
    deep_out = outside[sy, sx] > 2.5
    assert warped[ys[deep_in], xs[deep_in]].all() and not warped[ys[deep_out], xs[deep_out]].any()
    assert deep_in.sum() > 500 and (~warped[ys[deep_out], xs[deep_out]]).sum() > 500
