import numpy as np
import torch

from sketchgen.train.baselines import affine_grid, shape_context, shape_context_descriptors
from sketchgen.train.warp import WarpEstimator


def test_shape_context_bins_on_a_hand_made_case():
    # r_outer 32 and the default inner radius 2: ring k covers [e_k, e_k+1) with e = 2, 3.17, 5.04, 8, 12.7, 20.2, 32
    centre = np.array([[50.0, 50.0]])
    pts = np.array([
        [51.0, 50.0],      # r 1 (inside the inner radius -> first ring), angle 0 -> sector 0
        [50.0, 40.0],      # r 10, straight up on screen (90 deg) -> ring 3, sector 3
        [35.0, 50.0],      # r 15, left (180 deg) -> ring 4, sector 6
        [50.0 + 25 * np.cos(np.radians(-100)), 50.0 - 25 * np.sin(np.radians(-100))],  # r 25, 260 deg -> ring 5, sector 8
        [50.0, 50.0],      # the centre itself: not counted
        [90.0, 50.0],      # beyond r_outer: not counted
    ])
    h = shape_context(pts, centre, 32.0)
    assert h.shape == (1, 72)
    expected = np.zeros(72)
    expected[0 * 12 + 0] = 1
    expected[3 * 12 + 3] = 1
    expected[4 * 12 + 6] = 1
    expected[5 * 12 + 8] = 1
    assert np.array_equal(h[0], expected)


def test_shape_context_descriptors_are_unit_length():
    ink = np.zeros((64, 64), np.float32)
    ink[32, 10:54] = 1.0
    d = shape_context_descriptors(ink, np.array([[32.5, 32.5], [20.5, 40.5], [5.0, 5.0]]), 20.0)
    assert np.allclose(np.linalg.norm(d, axis=1), [1.0, 1.0, 0.0])  # nothing within 20 px of the last
    # a point on a horizontal line sees it only at 0 and 180 degrees
    used = np.nonzero(d[0].reshape(6, 12).sum(0))[0]
    assert used.tolist() == [0, 6]


def test_affine_baseline_recovers_identity_for_identical_images():
    torch.manual_seed(0)
    model = WarpEstimator("small", stn_width=32, stn_layers=1).eval()
    img = torch.zeros(1, 1, 64, 64)
    img[0, 0, 10:50:6, :] = 1.0
    img[0, 0, :, 5:60:9] = 1.0
    img[0, 0, 20:30, 20:40] = 1.0
    grid = affine_grid(model, img, img)
    ident = torch.nn.functional.affine_grid(torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]), [1, 1, 16, 16],
                                            align_corners=True)
    assert torch.allclose(grid, ident, atol=0.05)
