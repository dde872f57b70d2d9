"""Training losses: triplet with semi-hard or hardest-negative mining and contrastive (descriptor);
supervised multi-scale grid error and forward-backward consistency (warp estimator); and the loss of one
batch for each model as a TrainConfig chooses them (``descriptor_loss``, ``warp_loss``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from sketchgen.train.config import TRIPLET_MARGIN, TrainConfig
from sketchgen.train.warp import STN_SIZE, grid_to_pixels, identity_grid, pixels_to_grid, sample_grid_at

if TYPE_CHECKING:
    from sketchgen.train.descriptor import Descriptor
    from sketchgen.train.warp import WarpEstimator

MAX_NEGATIVES = 5
SCALE_WEIGHTS = (0.25, 0.5, 1.0)  # 4x4, 8x8, 16x16 blocks: the finest grid is what is evaluated
FLOW_POINTS = 1024  # valid pixels per pair read by the pixel flow loss (a 128 px drawing has ~1,600)


def _dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # the epsilon keeps the gradient finite when two descriptors coincide
    return torch.sqrt(((a - b) ** 2).sum(dim=-1) + 1e-12)


def candidate_negatives(negatives: torch.Tensor, k: int = MAX_NEGATIVES) -> torch.Tensor:
    """(B, D) negatives of a batch -> (B, min(k, B), D): each triplet's own negative first, then the
    negatives of the next triplets of the batch (cyclically), all points of other correspondences."""
    k = max(1, min(k, len(negatives)))
    return torch.stack([torch.roll(negatives, -s, dims=0) for s in range(k)], dim=1)


def triplet_semi_hard(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                      margin: float = TRIPLET_MARGIN) -> torch.Tensor:
    """Triplet margin loss (L2 distances) with semi-hard mining.

    anchor, positive: (B, D); negatives: (B, K, D) with the triplet's own negative at index 0. For each
    anchor the hardest semi-hard candidate (d_pos < d_neg < d_pos + margin) is used; if there is none,
    its own negative. Returns the mean of max(0, d_pos - d_neg + margin), a scalar.
    """
    if negatives.dim() == 2:
        negatives = negatives.unsqueeze(1)
    d_pos = _dist(anchor, positive)
    d_neg = _dist(anchor.unsqueeze(1), negatives)
    semi = (d_neg > d_pos.unsqueeze(1)) & (d_neg < d_pos.unsqueeze(1) + margin)
    hardest_semi = torch.where(semi, d_neg, torch.full_like(d_neg, float("inf"))).min(dim=1).values
    chosen = torch.where(semi.any(dim=1), hardest_semi, d_neg[:, 0])
    return F.relu(d_pos - chosen + margin).mean()


def hardest_negative(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                     margin: float = TRIPLET_MARGIN) -> torch.Tensor:
    """Triplet margin loss against each anchor's hardest negative (the nearest of its K candidates).

    anchor, positive: (B, D); negatives: (B, K, D). Returns the mean of max(0, d_pos - min_k d_neg + margin).
    """
    if negatives.dim() == 2:
        negatives = negatives.unsqueeze(1)
    d_pos = _dist(anchor, positive)
    d_neg = _dist(anchor.unsqueeze(1), negatives).min(dim=1).values
    return F.relu(d_pos - d_neg + margin).mean()


def triplet_all(anchor: torch.Tensor, positive: torch.Tensor, negatives: torch.Tensor,
                margin: float = TRIPLET_MARGIN) -> torch.Tensor:
    """Triplet margin loss over every negative ("batch all", Hermans, Beyer, Leibe, "In Defense of the
    Triplet Loss for Person Re-Identification", 2017): the mean of max(0, d_pos - d_neg + margin) over the
    (anchor, negative) terms that are not zero, so that easy negatives do not dilute the hard ones.

    anchor, positive: (B, D); negatives: (B, K, D). Returns a scalar (0 when every term is zero).
    """
    if negatives.dim() == 2:
        negatives = negatives.unsqueeze(1)
    d_pos = _dist(anchor, positive)
    terms = F.relu(d_pos.unsqueeze(1) - _dist(anchor.unsqueeze(1), negatives) + margin)
    return terms.sum() / (terms > 0).sum().clamp(min=1)


def info_nce(anchor: torch.Tensor, positive: torch.Tensor, others: torch.Tensor,
             temperature: float = 0.1) -> torch.Tensor:
    """InfoNCE over the whole batch (van den Oord, Li, Vinyals, "Representation Learning with Contrastive
    Predictive Coding", 2018; as local descriptors use it, e.g. CAPS, Wang et al. 2020): each anchor is
    scored against its positive and against every other point of the batch (the other anchors' positives
    and every stored negative of every anchor), by cosine similarity over ``temperature``, and the loss is
    the cross-entropy of picking its positive.

    anchor, positive: (B, D) unit-norm; others: (B, K, D) unit-norm negatives (each anchor's own first).
    Returns a scalar.
    """
    b = len(anchor)
    flat = others.reshape(-1, others.shape[-1])
    target = torch.arange(b, device=anchor.device)
    return F.cross_entropy(anchor @ torch.cat([positive, flat], dim=0).T / temperature, target)


def contrastive(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor,
                margin: float = TRIPLET_MARGIN) -> torch.Tensor:
    """Contrastive loss: mean of d_pos^2 and max(0, margin - d_neg)^2 over the batch, a scalar."""
    d_pos = _dist(anchor, positive)
    d_neg = _dist(anchor, negative)
    return 0.5 * (d_pos ** 2 + F.relu(margin - d_neg) ** 2).mean()


def flow_to_grid(flow: torch.Tensor, size: int = 16, *, min_valid: float = 0.99):
    """Ground-truth sampling grid from a dense flow.

    flow: (B, H, W, 2) float32 pixels, A's pixel centre -> its displacement into B, NaN where invalid.
    Returns (grid, valid): (B, size, size, 2) float32 positions in B, normalised (``align_corners=True``)
    at the grid's nodes over A, and (B, size, size) bool, true where the bilinear neighbourhood of the node
    is all valid.
    """
    b, h, w, _ = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device) + 0.5,
                            torch.arange(w, dtype=flow.dtype, device=flow.device) + 0.5,
                            indexing="ij")
    target = flow + torch.stack([xs, ys], dim=-1)
    ok = torch.isfinite(target).all(dim=-1, keepdim=True).to(flow.dtype)
    target = torch.nan_to_num(target, nan=0.0, posinf=0.0, neginf=0.0) * ok
    nodes = identity_grid(size, b, device=flow.device)
    num = F.grid_sample(target.permute(0, 3, 1, 2), nodes, mode="bilinear", align_corners=True)
    den = F.grid_sample(ok.permute(0, 3, 1, 2), nodes, mode="bilinear", align_corners=True)
    valid = den[:, 0] >= min_valid
    pos = (num / den.clamp_min(1e-6)).permute(0, 2, 3, 1)
    return pixels_to_grid(pos, w, h), valid


def grid_error_px(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Mean end-point error in pixels over valid nodes; pred, gt (B, s, s, 2) normalised, valid (B, s, s)."""
    err = _dist(grid_to_pixels(pred, width, height), grid_to_pixels(gt, width, height))
    n = valid.sum()
    return (err * valid).sum() / n.clamp_min(1)


def multiscale_flow_loss(grids: list[torch.Tensor], gt: torch.Tensor, valid: torch.Tensor, width: int,
                         height: int, weights=SCALE_WEIGHTS) -> torch.Tensor:
    """Weighted sum of the three blocks' end-point errors (pixels) on the valid nodes."""
    return sum(wk * grid_error_px(g, gt, valid, width, height) for wk, g in zip(weights, grids))


def forward_backward_loss(grid_ab: torch.Tensor, grid_ba: torch.Tensor, valid: torch.Tensor, width: int,
                          height: int) -> torch.Tensor:
    """Cycle error in pixels: following A->B then B->A should return each valid node of A to itself.

    grid_ab: (B, s, s, 2) over A's frame, positions in B; grid_ba: (B, s, s, 2) over B's frame, positions
    in A; valid: (B, s, s) bool, nodes of A visible in B.
    """
    back = F.grid_sample(grid_ba.permute(0, 3, 1, 2), grid_ab, mode="bilinear", padding_mode="border",
                         align_corners=True).permute(0, 2, 3, 1)
    home = identity_grid(grid_ab.shape[1], grid_ab.shape[0], device=grid_ab.device)
    return grid_error_px(back, home, valid, width, height)


def flow_points(flow: torch.Tensor, max_points: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixels of A with their exact positions in B.

    flow: (B, H, W, 2) float32 pixels, NaN where invalid. Returns (xy_a, xy_b, valid): (B, N, 2), (B, N, 2)
    float32 pixels (origin at the top-left corner, so pixel centres at +0.5; invalid entries 0) and (B, N)
    bool, false where the flow is NaN or leaves B's frame (B's grid has no node there). N = H*W in raster
    order, or with ``max_points`` N = min(max_points, H*W): a uniform draw (torch's generator) among each
    sample's valid pixels, padded with invalid ones where it has fewer: a drawing's object covers a
    tenth of the frame, so reading the grid at every pixel costs ten times the work for no more signal.
    """
    b, h, w, _ = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=flow.dtype, device=flow.device) + 0.5,
                            torch.arange(w, dtype=flow.dtype, device=flow.device) + 0.5, indexing="ij")
    xy_a = torch.stack([xs, ys], dim=-1).reshape(1, h * w, 2).expand(b, -1, -1)
    xy_b = xy_a + flow.reshape(b, h * w, 2)
    valid = torch.isfinite(xy_b).all(dim=-1)
    valid &= (xy_b[..., 0] >= 0) & (xy_b[..., 0] <= w) & (xy_b[..., 1] >= 0) & (xy_b[..., 1] <= h)
    xy_b = torch.nan_to_num(xy_b, nan=0.0, posinf=0.0, neginf=0.0)
    if max_points is not None and max_points < h * w:
        # valid pixels score above every invalid one, in random order among themselves
        pick = (torch.rand(b, h * w, device=flow.device) + valid).topk(max_points, dim=1).indices
        xy_a = torch.gather(xy_a, 1, pick.unsqueeze(-1).expand(-1, -1, 2))
        xy_b = torch.gather(xy_b, 1, pick.unsqueeze(-1).expand(-1, -1, 2))
        valid = torch.gather(valid, 1, pick)
    return xy_a, xy_b, valid


def transfer_error_px(grid: torch.Tensor, src_xy: torch.Tensor, dst_xy: torch.Tensor, valid: torch.Tensor,
                      width: int, height: int) -> torch.Tensor:
    """Mean end-point error in pixels of carrying points by a grid, as evaluation carries keypoints.

    grid: (B, s, s, 2) over a W x H target frame, positions in the source (normalised); src_xy (B, N, 2)
    target pixels, dst_xy (B, N, 2) their true source pixels, valid (B, N) bool. The grid is read
    bilinearly at each point (``warp.sample_grid_at``), so a point between nodes is supervised as it is
    then evaluated (PCK), and thin parts whose nodes are not all on the object are supervised too.
    """
    err = _dist(sample_grid_at(grid, src_xy, width, height), dst_xy)
    return (err * valid).sum() / valid.sum().clamp_min(1)


def pixel_flow_loss(grids_ab: list[torch.Tensor], flow: torch.Tensor, width: int, height: int,
                    grids_ba: list[torch.Tensor] | None = None, weights=SCALE_WEIGHTS,
                    max_points: int | None = FLOW_POINTS) -> torch.Tensor:
    """Weighted sum over the blocks of the end-point error (pixels) on every valid pixel of the exact flow.

    grids_ab: grids over A's frame (positions in B), coarse to fine; flow (B, H, W, 2) A -> B pixels, NaN
    invalid. With ``grids_ba`` (over B's frame, positions in A) the same correspondences also supervise
    the B -> A direction at the B positions the flow reaches: each pixel of A visible in B is a point of
    B whose position in A is known, so both directions that evaluation averages are trained on exact flow.
    """
    xy_a, xy_b, valid = flow_points(flow, max_points)
    loss = sum(wk * transfer_error_px(g, xy_a, xy_b, valid, width, height) for wk, g in zip(weights, grids_ab))
    if grids_ba is not None:
        loss = loss + sum(wk * transfer_error_px(g, xy_b, xy_a, valid, width, height)
                          for wk, g in zip(weights, grids_ba))
    return loss


# ---------------------------------------------------------------------------------- a batch's loss
def descriptor_loss(model: Descriptor, batch: dict, cfg: TrainConfig, device) -> tuple[torch.Tensor, float]:
    """Loss and the fraction of anchors still violating the margin against their nearest own negative.

    batch["zooms"]: (B, R, Z, 1, S, S), roles anchor, positive, then R - 2 negatives. What the run trains
    on (``cfg.recorded.data_kind``) decides the candidates: a point of a pair set is mined against its own
    negatives; a triplet against its own negatives and the first negatives of the next triplets of the
    batch (``candidate_negatives``: other correspondences' points, which a triplet set with a single
    negative per anchor needs to have more than one candidate). With ``cfg.optim.loss == "infonce"`` every anchor
    is scored against every positive and every negative of the batch (``losses.info_nce``).
    """
    zooms = batch["zooms"].to(device)
    b, r = zooms.shape[:2]
    emb = model(zooms.flatten(0, 1)).view(b, r, -1)
    a, p = emb[:, 0], emb[:, 1]
    negs = emb[:, 2:]
    if cfg.recorded.data_kind != "pairs":
        negs = torch.cat([negs, candidate_negatives(emb[:, 2])[:, 1:]], dim=1)
    if cfg.optim.loss == "contrastive":
        loss = contrastive(a, p, negs[:, 0], cfg.optim.margin)
    elif cfg.optim.loss == "infonce":
        loss = info_nce(a, p, emb[:, 2:], cfg.optim.temperature)
    elif cfg.optim.loss == "hardest":
        loss = hardest_negative(a, p, negs, cfg.optim.margin)
    elif cfg.optim.loss == "all":
        loss = triplet_all(a, p, negs, cfg.optim.margin)
    else:
        loss = triplet_semi_hard(a, p, negs, cfg.optim.margin)
    with torch.no_grad():
        nearest = (a.unsqueeze(1) - emb[:, 2:]).norm(dim=2).min(dim=1).values
        violating = ((a - p).norm(dim=1) + cfg.optim.margin > nearest).float().mean().item()
    return loss, violating


def warp_loss(model: WarpEstimator, batch: dict, cfg: TrainConfig, device) -> tuple[torch.Tensor, float]:
    """Supervised multi-scale flow error (``cfg.optim.flow_loss``; with ``cfg.network.refine`` the refined
    grid too, weight ``cfg.optim.refine_weight``, at its own nodes) + forward-backward consistency of the
    finest grids; also the
    finest grid's end-point error in pixels on its nodes. batch: "a", "b" (B, 1, S, S) ink or (B, 3, S, S)
    RGB (``pairs.make_pair_decoder``), "a_domain", "b_domain" (B,) (optional), "flow" (B, S, S, 2) A -> B
    pixels, NaN invalid."""
    a, b, flow = batch["a"].to(device), batch["b"].to(device), batch["flow"].to(device)
    h, w = a.shape[-2:]
    feats_a, feats_b = model.encode(a, batch.get("a_domain")), model.encode(b, batch.get("b_domain"))
    grids_ab = model.grids(feats_b, feats_a)  # over A's frame: where A's points are in B
    gt, valid = flow_to_grid(flow, STN_SIZE)
    grids_ba = model.grids(feats_a, feats_b) if cfg.optim.cycle_weight > 0 or cfg.optim.flow_loss == "both" else None
    if cfg.optim.flow_loss == "nodes":
        loss = multiscale_flow_loss(grids_ab[:len(SCALE_WEIGHTS)], gt, valid, w, h)
        if cfg.network.refine:
            # the refined grid against the exact flow at its own, finer nodes
            gt, valid = flow_to_grid(flow, cfg.network.refine)
            loss = loss + cfg.optim.refine_weight * grid_error_px(grids_ab[-1], gt, valid, w, h)
    else:
        weights = (*SCALE_WEIGHTS, cfg.optim.refine_weight)[:len(grids_ab)]
        loss = pixel_flow_loss(grids_ab, flow, w, h, grids_ba if cfg.optim.flow_loss == "both" else None, weights)
        if cfg.network.refine:
            gt, valid = flow_to_grid(flow, cfg.network.refine)
    if cfg.optim.cycle_weight > 0:
        loss = loss + cfg.optim.cycle_weight * forward_backward_loss(grids_ab[-1], grids_ba[-1], valid, w, h)
    with torch.no_grad():
        epe = grid_error_px(grids_ab[-1], gt, valid, w, h).item()
    return loss, epe

