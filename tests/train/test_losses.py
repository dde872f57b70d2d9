import torch

from sketchgen.train.losses import (candidate_negatives, contrastive, flow_points, flow_to_grid, forward_backward_loss,
                                    grid_error_px, hardest_negative, info_nce, pixel_flow_loss, triplet_all,
                                    triplet_semi_hard)
from sketchgen.train.warp import grid_to_pixels, identity_grid, pixels_to_grid


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


def test_triplet_all_averages_the_violating_terms():
    anchor, positive = _on_line(0.0), _on_line(0.5)
    negatives = torch.stack([_on_line(3.0, 0.7, 0.2)])
    # terms: 0.5 - 3.0 + 1 < 0 (not counted), 0.5 - 0.7 + 1 = 0.8, 0.5 - 0.2 + 1 = 1.3 -> mean 1.05
    assert abs(triplet_all(anchor, positive, negatives, margin=1.0).item() - 1.05) < 1e-5
    assert triplet_all(anchor, positive, torch.stack([_on_line(3.0, 2.0)]), margin=1.0).item() == 0.0


def test_candidate_negatives_put_the_own_negative_first():
    neg = torch.arange(6, dtype=torch.float32).view(6, 1)
    cand = candidate_negatives(neg, 5)
    assert cand.shape == (6, 5, 1)
    assert cand[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert cand[4, :, 0].tolist() == [4, 5, 0, 1, 2]


def test_info_nce_scores_each_anchor_against_every_positive_and_negative_of_the_batch():
    import math

    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    others = torch.tensor([[[0.0, 1.0]], [[-1.0, 0.0]]])  # one negative per anchor, shape (2, 1, 2)
    t = 0.5
    # anchor 0: similarities to the pool [p0, p1, n0, n1] = [0.6, 0, 0, -1]; anchor 1: [0.8, 1, 1, 0]
    want = []
    for sims, own in (([0.6, 0.0, 0.0, -1.0], 0), ([0.8, 1.0, 1.0, 0.0], 1)):
        want.append(-sims[own] / t + math.log(sum(math.exp(s / t) for s in sims)))
    assert abs(info_nce(anchor, positive, others, t).item() - sum(want) / 2) < 1e-5
    # another anchor's negative that equals this anchor's positive is scored as a negative: anchor 1
    # loses what a pool without it would give
    assert info_nce(anchor, positive, others, t).item() > info_nce(anchor, positive, others[:, :0], t).item()


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


def _affine_flow(size: int, m: torch.Tensor, t: torch.Tensor, invalid_cols: int = 0) -> torch.Tensor:
    """(1, size, size, 2) flow of q = m p + t in pixels (pixel centres at +0.5), NaN in the last columns."""
    ys, xs = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    p = torch.stack([xs, ys], dim=-1)
    flow = (p @ m.T + t - p).unsqueeze(0)
    if invalid_cols:
        flow[0, :, -invalid_cols:] = float("nan")
    return flow


def _pixel_affine_grid(m: torch.Tensor, t: torch.Tensor, size: int, nodes: int = 16) -> torch.Tensor:
    """(1, nodes, nodes, 2) normalised grid of the pixel map q = m p + t over a size x size frame."""
    p = grid_to_pixels(identity_grid(nodes), size, size)
    return pixels_to_grid(p @ m.T + t, size, size)


def test_pixel_flow_loss_is_zero_for_the_exact_affine_both_ways_and_the_displacement_for_the_identity():
    size = 64
    m = torch.tensor([[1.1, 0.1], [-0.05, 0.9]])
    t = torch.tensor([3.0, -4.0])
    flow = _affine_flow(size, m, t, invalid_cols=10)
    exact_ab = _pixel_affine_grid(m, t, size)
    m_inv = torch.linalg.inv(m)
    exact_ba = _pixel_affine_grid(m_inv, -t @ m_inv.T, size)
    ident = identity_grid(16)
    one = (1.0,)  # one block

    def loss(ab, ba=None):
        return pixel_flow_loss([ab], flow, size, size, None if ba is None else [ba], weights=one,
                               max_points=None).item()

    assert loss(exact_ab) < 1e-3
    assert loss(exact_ab, exact_ba) < 1e-2  # points within half a pixel of B's edge read the clamped grid
    # the identity's error is the mean displacement over the valid pixels, in each direction
    _, xy_b, valid = flow_points(flow)
    assert 0 < valid.sum() < 64 * 54  # some of A's pixels land outside B: not counted
    mean_disp = flow.view(1, -1, 2)[valid].norm(dim=-1).mean().item()
    assert abs(loss(ident) - mean_disp) < 1e-3
    assert abs(loss(exact_ab, ident) - mean_disp) < 1e-2
    # the invalid columns are not counted: a wrong grid there costs nothing
    wrong_right = exact_ab.clone()
    wrong_right[:, :, -1] += 0.5  # nodes right of the last valid pixel's cell
    assert loss(wrong_right) < 1e-3


def test_flow_points_pair_each_valid_pixel_of_a_with_its_place_in_b():
    flow = _affine_flow(8, torch.eye(2), torch.tensor([2.0, -1.0]), invalid_cols=3)
    xy_a, xy_b, valid = flow_points(flow)
    assert xy_a.shape == (1, 64, 2) and valid.sum().item() == 7 * 5  # the first row lands above B
    assert xy_a[0, 9].tolist() == [1.5, 1.5] and xy_b[0, 9].tolist() == [3.5, 0.5]
    assert valid[0, 12] and not valid[0, 15] and not valid[0, 4]


def test_flow_points_draws_only_valid_pixels_when_there_are_enough():
    torch.manual_seed(0)
    flow = _affine_flow(32, torch.eye(2), torch.tensor([1.0, 1.0]), invalid_cols=24)  # 8 x 31 valid
    xy_a, xy_b, valid = flow_points(flow, max_points=100)
    assert xy_a.shape == (1, 100, 2) and valid.all()
    assert (xy_a[0, :, 0] < 8).all() and torch.allclose(xy_b - xy_a, torch.tensor([1.0, 1.0]))
    assert len({tuple(p) for p in xy_a[0].tolist()}) == 100  # no pixel twice
    _, _, valid = flow_points(flow, max_points=300)
    assert valid.sum().item() == 8 * 31


def test_pixel_flow_loss_reads_at_most_flow_points_pixels_by_default(monkeypatch):
    import sketchgen.train.losses as losses

    seen = []
    real = losses.transfer_error_px
    monkeypatch.setattr(losses, "transfer_error_px", lambda g, a, b, v, w, h: seen.append(a.shape) or real(g, a, b, v, w, h))
    flow = torch.zeros(2, 64, 64, 2)
    losses.pixel_flow_loss([identity_grid(16).expand(2, -1, -1, -1)], flow, 64, 64, weights=(1.0,))
    assert seen == [torch.Size([2, losses.FLOW_POINTS, 2])] and losses.FLOW_POINTS < 64 * 64
