import torch

from sketchgen.train.losses import (candidate_negatives, contrastive, flow_to_grid, forward_backward_loss, grid_error_px,
                          hardest_negative, triplet_semi_hard)
from sketchgen.train.warp import grid_to_pixels, identity_grid


def _on_line(*xs):
    return torch.tensor([[x, 0.0] for x in xs])


def test_semi_hard_mining_picks_the_hardest_semi_hard_negative():
    anchor = _on_line(0.0)
    positive = _on_line(0.5)                         # d_pos 0.5
    negatives = torch.stack([_on_line(3.0, 0.7, 1.2, 0.2)])  # d_neg 3.0, 0.7, 1.2, 0.2
    # semi-hard: 0.5 < d < 1.5 -> 0.7 and 1.2; the hardest is 0.7: loss 0.5 - 0.7 + 1 = 0.8
    loss = triplet_semi_hard(anchor, positive, negatives, margin=1.0)
    assert abs(loss.item() - 0.8) < 1e-5
    # none semi-hard: fall back to the triplet's own negative (index 0)
    loss = triplet_semi_hard(anchor, positive, torch.stack([_on_line(0.1, 3.0)]), margin=1.0)
    assert abs(loss.item() - 1.4) < 1e-5


def test_hardest_negative_uses_the_nearest_negative():
    anchor, positive = _on_line(0.0), _on_line(0.5)
    negatives = torch.stack([_on_line(3.0, 0.7, 0.2)])
    assert abs(hardest_negative(anchor, positive, negatives, margin=1.0).item() - 1.3) < 1e-5  # 0.5 - 0.2 + 1
    assert hardest_negative(anchor, positive, torch.stack([_on_line(3.0, 2.0)]), margin=1.0).item() == 0.0


def test_candidate_negatives_put_the_own_negative_first():
    neg = torch.arange(6, dtype=torch.float32).view(6, 1)
    cand = candidate_negatives(neg, 5)
    assert cand.shape == (6, 5, 1)
    assert cand[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert cand[4, :, 0].tolist() == [4, 5, 0, 1, 2]


def test_contrastive_value():
    a, p, n = _on_line(0.0), _on_line(0.5), _on_line(0.25)
    assert abs(contrastive(a, p, n, margin=1.0).item() - 0.5 * (0.25 + 0.5625)) < 1e-6


def test_flow_to_grid_is_exact_for_a_shift_and_marks_invalid_nodes():
    flow = torch.zeros(1, 64, 64, 2)
    flow[..., 0], flow[..., 1] = 6.0, -2.0
    flow[0, :, 60:] = float("nan")
    gt, valid = flow_to_grid(flow, 16)
    nodes_px = grid_to_pixels(identity_grid(16), 64, 64)
    got_px = grid_to_pixels(gt, 64, 64)
    assert torch.allclose((got_px - nodes_px)[0][valid[0]], torch.tensor([6.0, -2.0]), atol=1e-4)
    assert not valid[0, :, -1].any() and valid[0, :, :14].all()
    assert grid_error_px(gt, gt, valid, 64, 64).item() < 1e-5


def test_forward_backward_is_zero_for_inverse_shifts_and_not_otherwise():
    shift = torch.tensor([0.2, -0.1])
    ab = identity_grid(16) + shift
    ba = identity_grid(16) - shift
    valid = torch.ones(1, 16, 16, dtype=torch.bool)
    valid[:, :, -4:] = False  # nodes whose image leaves the frame
    valid[:, :4] = False
    assert forward_backward_loss(ab, ba, valid, 64, 64).item() < 1e-4
    assert forward_backward_loss(ab, ba + 0.1, valid, 64, 64).item() > 3.0
