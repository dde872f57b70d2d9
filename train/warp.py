"""The warp estimator in PSC's design (Lu, Wang, Fan, ICML 2023), pretrained on sketchgen's pairs.

A feature encoder (``train.backbones``) maps both images to feature maps; ``layer2`` and ``layer3`` are
resized to 16x16 and correlated by raw dot product; three coarse-to-fine blocks predict a sampling grid
at 4x4, 8x8 and 16x16, each later block warping the source features by the current grid, recomputing
the correlation and adding a residual. The output is a 16x16 grid upsampled to the image.

Grid convention (PSC's, ``torch.nn.functional.grid_sample`` with ``align_corners=True``):
``estimate(source, target)`` returns ``grid`` of shape (B, H, W, 2) over the *target* frame;
``grid[b, i, j] = (x, y)`` in [-1, 1] is where target pixel (row i, col j) lies in the source, -1 and +1
being the centres of the first and last pixels, so ``grid_sample(source, grid, align_corners=True)``
aligns the source to the target. In sketchgen's pixel convention (origin at the top-left corner) a
normalised x is the pixel position ``(x + 1) / 2 * (W - 1) + 0.5``. For a pair sample, target = A and
source = B: the ground-truth grid is A's pixel centres plus ``flow.npy``.

Checkpoint layout (``sketchgen train warp`` writes ``RUN/model.pt``, a plain state dict, loadable with
``torch.load(path, weights_only=True)``):

- ``encoder.*``: the backbone (``conv1``, ``bn1``, ``layer1`` .. ``layer4`` in torchvision's ResNet-18
  names for ``--backbone resnet18``, one BN for both domains; PSC's encoder's names, ``bn1.norms.0``
  and ``bn1.norms.1`` per batch norm, for ``--backbone psc-resnet18``, ``train.backbones``).
- ``stn.net_4x.*``, ``stn.net_8x.*``, ``stn.net_16x.*``, ``stn.base_map``: the three blocks, built and
  named exactly as PSC's ``models/PSCNet.py`` ``STN(corr_layer=[2, 3], feat_size=16, stn_size=16,
  stn_layer=5)``: each an ``nn.Sequential`` of a ds x ds stride-ds conv (512 -> 512) + BN + LeakyReLU,
  five (3x3 conv without bias, BN, LeakyReLU) halving the channels 512 -> 16, a 3x3 conv to 2 with bias,
  and a bilinear upsampling to 16x16.

The estimator computes what PSC's ``STN.forward`` computes: the first block reads the correlation of
the maps resized to 16x16; the 8x8 and 16x16 blocks read the source's maps as the encoder gave them
(``layer2`` at 32x32 for a 256 px image) sampled at the current grid's 16x16 nodes, then resized (a
no-op at 16x16), not the resized maps warped.

The correlation is laid out as PSC's code lays it out (channels = target positions, spatial axes =
source positions), so the weights work in PSC's ``STN`` as they are. ``--corr-layout source`` swaps the
two (channels = source positions, spatial = target: each target node could read its grid position
linearly from its own channels); a PSC user would then call ``corr`` with its arguments swapped. PSC's
layout is the default.

With ``--stn-width W`` (a CPU-sized estimator: first convolution 512 -> W, then ``--stn-layers`` halvings)
the key names stay the same but the shapes differ from PSC's; the default (no width) is PSC's.

With ``--warp-base softargmax`` the first block adds its residual to the soft argmax of the resized
features' cosine similarity (each target node's softmax-weighted mean source node, inverse temperature
50, as SFNet's matching without its kernel) instead of the identity (``base_map``): the correlation then
places every node directly and the blocks learn corrections, not the whole argmax. It adds no
parameters and no keys; a PSC user loading such a checkpoint adds the same base in ``STN.forward``.
``--softargmax-prior G`` (``STN(prior=G)``) takes ``G x d^2`` off each cosine similarity, d the distance
in normalised units between the target node and the source node: of two equally similar matches the
nearer wins, and where the features are ambiguous the node stays near its own position (many pairs
barely move: another shape from the same camera, a nearby view). It adds no keys either.

With ``--refine N`` (``Refine``, extra keys ``refine.*``; PSC's ``stn.*`` keys are unchanged, so the
16x16 estimator still loads into PSC's ``STN``) the 16x16 grid is upsampled to N x N nodes and a
residual added there: the source's ``layer1`` features (stride 4) warped by the grid, their local
correlation (PWC-Net's, +-3 nodes) with the target's, and a four-layer head reading that cost volume,
the target's features and the current displacement. It is supervised on the exact flow at its own
nodes; ``forward`` returns its grid as a fourth, finest one, which ``estimate`` and evaluation read.
``--corr-layers 1,2`` correlates ``layer1`` and ``layer2`` instead of PSC's ``layer2`` and ``layer3``
(same shapes, finer features).

Trials of these options are in ``docs/experiments.md``.

A PSC user loads the estimator with ``psc_model.stn.load_state_dict({k[4:]: v for k, v in
state.items() if k.startswith("stn.")})``. A run of ``--backbone psc-resnet18`` (PSC's encoder: RGB,
per-domain batch norm) with PSC's estimator is PSC's whole network: ``sketchgen export psc-checkpoint``
(``train.psc_checkpoint``) writes it as the checkpoint PSC's ``eval.py`` and ``train_psc.py --resume``
load.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sketchgen.train.backbones import build_backbone
from sketchgen.train.config import CORR_LAYERS, STN_LAYERS, STN_SIZE
from sketchgen.train.config import WARP_BASES as BASES

FEAT_SIZE = 16
REFINE_LAYERS = ("layer1",)  # the refinement's features (stride 4)
REFINE_RADIUS = 3  # nodes either side of the local correlation's window
REFINE_WIDTH = 32  # channels of the refinement's head
SOFTARGMAX_BETA = 50.0  # SFNet's inverse temperature, on cosine similarities in [-1, 1]


def identity_grid(size: int, batch: int = 1, device=None) -> torch.Tensor:
    """(batch, size, size, 2) float32 identity sampling grid, ``align_corners=True`` convention."""
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device).unsqueeze(0)
    return F.affine_grid(theta, [1, 1, size, size], align_corners=True).expand(batch, -1, -1, -1)


class STN(nn.Module):
    """PSC's three-block grid estimator over the correlation of two feature dicts."""

    def __init__(self, corr_layers=CORR_LAYERS, feat_size: int = FEAT_SIZE, stn_size: int = STN_SIZE,
                 n_layers: int = STN_LAYERS, width: int | None = None, psc_layout: bool = True,
                 base: str = "identity", prior: float = 0.0):
        super().__init__()
        if base not in BASES:
            raise ValueError(f"unknown base {base!r} (choose from {', '.join(BASES)})")
        self.base = base
        self.prior = prior
        self.psc_layout = psc_layout
        # width None = PSC's (the correlation's 512 channels); smaller widths make a CPU-sized estimator
        self.width = width
        self.corr_layers = tuple(corr_layers)
        self.feat_size = feat_size
        self.stn_size = stn_size
        self.net_4x = self._block(4, n_layers)
        self.net_8x = self._block(8, n_layers)
        self.net_16x = self._block(16, n_layers)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # tiny weights: every block starts as "no residual", the whole estimator as the identity
                nn.init.normal_(m.weight, std=1e-3)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.register_buffer("base_map", identity_grid(stn_size).clone())

    def _block(self, output_size: int, n_layers: int) -> nn.Sequential:
        ds = self.feat_size // output_size
        corr_dims = self.feat_size * self.feat_size * len(self.corr_layers)
        dims = self.width or corr_dims
        layers: list[nn.Module] = [nn.Conv2d(corr_dims, dims, ds, stride=ds), nn.BatchNorm2d(dims),
                                   nn.LeakyReLU(0.1)]
        for _ in range(n_layers):
            layers += [nn.Conv2d(dims, dims // 2, 3, 1, 1, bias=False), nn.BatchNorm2d(dims // 2),
                       nn.LeakyReLU(0.1)]
            dims //= 2
        layers += [nn.Conv2d(dims, 2, 3, 1, 1, bias=True),
                   nn.Upsample(size=(self.stn_size, self.stn_size), mode="bilinear", align_corners=True)]
        return nn.Sequential(*layers)

    def resize(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size = (self.feat_size, self.feat_size)
        return {f"layer{i}": F.interpolate(feats[f"layer{i}"], size, mode="bilinear", align_corners=False)
                for i in self.corr_layers}

    def correlation(self, target: dict[str, torch.Tensor], source: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 16*16*L, 16, 16) raw dot products. ``psc_layout`` (default): channel = target position,
        spatial = source position, as PSC's code computes it; otherwise the transpose."""
        out = []
        for i in self.corr_layers:
            t, s = target[f"layer{i}"], source[f"layer{i}"]
            if self.psc_layout:
                t, s = s, t
            n, c, h, w = t.shape
            # (B, HW_s, C) @ (B, C, HW_t): rows index the channel-side map, columns the spatial-side map
            corr = torch.matmul(s.permute(0, 2, 3, 1).reshape(n, h * w, c), t.reshape(n, c, h * w))
            out.append(corr.view(n, h * w, h, w))
        return torch.cat(out, dim=1)

    def warp(self, feats: dict[str, torch.Tensor], grid: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
                for k, v in feats.items()}

    def soft_argmax(self, target: dict[str, torch.Tensor], source: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, 16, 16, 2) grid: each target node's softmax-weighted mean source node position (SFNet's soft
        argmax, Lee et al. CVPR 2019, without its kernel), over the cosine similarity of the resized
        features averaged over the correlated layers, inverse temperature ``SOFTARGMAX_BETA``, less
        ``prior`` x the squared normalised distance between the two nodes."""
        sims = 0.0
        for i in self.corr_layers:
            t = F.normalize(target[f"layer{i}"], dim=1).flatten(2)  # (B, C, T)
            s = F.normalize(source[f"layer{i}"], dim=1).flatten(2)  # (B, C, S)
            sims = sims + t.transpose(1, 2) @ s
        n = self.stn_size
        nodes = self.base_map.reshape(n * n, 2)
        if self.prior:
            # a match far from the node's own position must be that much more similar to win
            sims = sims - self.prior * len(self.corr_layers) * torch.cdist(nodes, nodes).square()
        weights = torch.softmax(SOFTARGMAX_BETA * sims / len(self.corr_layers), dim=-1)  # (B, T, S)
        return (weights @ nodes).view(-1, n, n, 2)

    def forward(self, source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Grids at the three scales, coarse to fine: [(B, 16, 16, 2)] * 3 float32 (the 4x4 and 8x8
        blocks' outputs are upsampled to 16x16 by their last layer). source, target: the encoder's feature
        dicts at their own sizes. The same computation as PSC's ``STN.forward(source, target,
        training=True)`` reversed (its ``mask_outlier`` changes nothing: its test ``flow < -1 and flow > 1``
        is never true); the 8x8 and 16x16 blocks read the source's maps warped at their own resolution."""
        raw = {f"layer{i}": source[f"layer{i}"] for i in self.corr_layers}
        source, target = self.resize(raw), self.resize(target)
        base = self.base_map if self.base == "identity" else self.soft_argmax(target, source)
        grid = self.net_4x(self.correlation(target, source)).permute(0, 2, 3, 1) + base
        grids = [grid]
        for block in (self.net_8x, self.net_16x):
            # PSC's order: the encoder's own maps (layer2 at 32x32 for a 256 px image) are sampled at the
            # grid's 16x16 nodes, then brought to 16x16 (a no-op at that size), not the resized maps warped
            warped = self.resize(self.warp(raw, grid))
            grid = grid + block(self.correlation(target, warped)).permute(0, 2, 3, 1)
            grids.append(grid)
        return grids


def local_correlation(target: torch.Tensor, source: torch.Tensor, radius: int) -> torch.Tensor:
    """Cost volume of a window (PWC-Net, Sun et al. CVPR 2018): target, source (B, C, H, W) ->
    (B, (2r+1)^2, H, W), channel ``(dy + r) * (2r+1) + (dx + r)`` = the channel mean of
    target[y, x] * source[y + dy, x + dx] (0 outside the source)."""
    return _LocalCorrelation.apply(target, source, radius)


class _LocalCorrelation(torch.autograd.Function):
    # one product per offset, and a backward that accumulates into one padded buffer: unfolding every
    # window, or autograd through 49 slices (a zero-filled padded copy each), costs several times more
    @staticmethod
    def forward(ctx, target, source, radius):
        h, w = target.shape[-2:]
        k = 2 * radius + 1
        padded = F.pad(source, (radius, radius, radius, radius))
        ctx.save_for_backward(target, padded)
        ctx.radius = radius
        return torch.stack([(target * padded[:, :, dy:dy + h, dx:dx + w]).mean(dim=1)
                            for dy in range(k) for dx in range(k)], dim=1)

    @staticmethod
    def backward(ctx, grad):
        target, padded = ctx.saved_tensors
        r = ctx.radius
        h, w = target.shape[-2:]
        k = 2 * r + 1
        grad = grad / target.shape[1]
        grad_t = torch.zeros_like(target)
        grad_p = torch.zeros_like(padded)
        for i in range(k * k):
            dy, dx = divmod(i, k)
            g = grad[:, i:i + 1]
            grad_t.addcmul_(g, padded[:, :, dy:dy + h, dx:dx + w])
            grad_p[:, :, dy:dy + h, dx:dx + w].addcmul_(g, target)
        return grad_t, grad_p[:, :, r:r + h, r:r + w], None


class Refine(nn.Module):
    """Residual flow above the 16x16 grid: the grid upsampled to ``size`` x ``size`` nodes, the source's
    finer features warped by it, a local correlation (radius ``radius`` nodes) with the target's, and
    a small convolutional head adding a residual to each node (PWC-Net's refinement step).

    Features: ``layers`` of the encoder resized to ``size`` (e.g. ``layer1``, stride 4, and ``layer2``),
    each L2-normalised per position; the head reads the cost volumes, the target's features and the
    current displacement from the identity. Its last convolution starts at zero, so an untrained
    refinement returns the upsampled 16x16 grid unchanged."""

    def __init__(self, channels: dict[str, int], size: int = 32, radius: int = REFINE_RADIUS,
                 width: int = REFINE_WIDTH, layers=REFINE_LAYERS):
        super().__init__()
        self.size, self.radius, self.layers = size, radius, tuple(layers)
        k = (2 * radius + 1) ** 2
        c_in = len(self.layers) * k + sum(channels[name] for name in self.layers) + 2
        self.head = nn.Sequential(
            nn.Conv2d(c_in, width, 3, 1, 1), nn.LeakyReLU(0.1),
            nn.Conv2d(width, width, 3, 1, 2, dilation=2), nn.LeakyReLU(0.1),
            nn.Conv2d(width, width, 3, 1, 4, dilation=4), nn.LeakyReLU(0.1),
            nn.Conv2d(width, 2, 3, 1, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("base_map", identity_grid(size).clone())

    def features(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        size = (self.size, self.size)
        return {k: F.normalize(F.interpolate(feats[k], size, mode="bilinear", align_corners=False), dim=1)
                for k in self.layers}

    def forward(self, source: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                grid: torch.Tensor) -> torch.Tensor:
        """source, target: the encoder's feature dicts; grid (B, 16, 16, 2) -> (B, size, size, 2)."""
        grid = upsample_grid(grid, (self.size, self.size))
        fs, ft = self.features(source), self.features(target)
        costs = [local_correlation(ft[k], F.grid_sample(fs[k], grid, mode="bilinear", padding_mode="zeros",
                                                        align_corners=True), self.radius) for k in self.layers]
        shift = (grid - self.base_map).permute(0, 3, 1, 2)
        x = torch.cat([*costs, *(ft[k] for k in self.layers), shift], dim=1)
        return grid + self.head(x).permute(0, 2, 3, 1)


class WarpEstimator(nn.Module):
    """Encoder + STN (+ ``Refine`` when ``refine`` is a node count). ``forward(source, target)``:
    (B, 1, H, W) float32 images (ink = 1; (B, 3, H, W) RGB in [0, 1] for an RGB encoder, with
    ``source_domain``/``target_domain`` for a per-domain one) -> list of three (B, 16, 16, 2) grids over the target frame,
    coarse to fine, then the refined (B, refine, refine, 2) grid with ``refine``; ``estimate`` upsamples
    the finest."""

    def __init__(self, backbone: str = "resnet18", *, weights=None, stn_width: int | None = None,
                 stn_layers: int = STN_LAYERS, psc_layout: bool = True, base: str = "identity",
                 refine: int | None = None, prior: float = 0.0, corr_layers=CORR_LAYERS, domain_bn: str = "shared"):
        super().__init__()
        self.backbone_name = backbone
        self.encoder = build_backbone(backbone, weights=weights, domain_bn=domain_bn)
        self.stn = STN(corr_layers, n_layers=stn_layers, width=stn_width, psc_layout=psc_layout, base=base,
                       prior=prior)
        self.refine = Refine(self.encoder.channels, size=refine) if refine else None

    def encode(self, images: torch.Tensor, domain=None) -> dict[str, torch.Tensor]:
        """The encoder's feature dict; ``domain`` (``backbones.PHOTO``/``SKETCH``, an int or a (B,) tensor)
        picks the batch norm of a per-domain encoder (None: sketch) and is ignored by the others."""
        if getattr(self.encoder, "domains", 0):
            return self.encoder.features(images, domain)
        return self.encoder.features(images)

    def grids(self, source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The grids of ``forward`` from the two images' encoder features."""
        grids = self.stn(source, target)
        if self.refine is not None:
            grids.append(self.refine(source, target, grids[-1]))
        return grids

    def forward(self, source: torch.Tensor, target: torch.Tensor, source_domain=None,
                target_domain=None) -> list[torch.Tensor]:
        return self.grids(self.encode(source, source_domain), self.encode(target, target_domain))

    def estimate(self, source: torch.Tensor, target: torch.Tensor, source_domain=None,
                 target_domain=None) -> torch.Tensor:
        """(B, H, W, 2) float32 grid over the target's pixels (``align_corners=True`` convention)."""
        grid = self.forward(source, target, source_domain, target_domain)[-1]
        return upsample_grid(grid, target.shape[-2:])


def upsample_grid(grid: torch.Tensor, size) -> torch.Tensor:
    """(B, h, w, 2) -> (B, H, W, 2) bilinear, ``align_corners=True`` (grid nodes on the corner pixels)."""
    up = F.interpolate(grid.permute(0, 3, 1, 2), size=tuple(size), mode="bilinear", align_corners=True)
    return up.permute(0, 2, 3, 1)


def grid_to_pixels(grid: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """(..., 2) normalised positions (``align_corners=True``) -> (..., 2) pixels, origin top-left corner."""
    scale = torch.tensor([(width - 1) / 2.0, (height - 1) / 2.0], dtype=grid.dtype, device=grid.device)
    return (grid + 1.0) * scale + 0.5


def pixels_to_grid(xy: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Inverse of ``grid_to_pixels``."""
    scale = torch.tensor([(width - 1) / 2.0, (height - 1) / 2.0], dtype=xy.dtype, device=xy.device)
    return (xy - 0.5) / scale - 1.0


def sample_grid_at(grid: torch.Tensor, xy: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Where points of the target land in the source: grid (B, h, w, 2) over a W x H target,
    xy (B, N, 2) target pixels -> (B, N, 2) source pixels (bilinear in the grid)."""
    where = pixels_to_grid(xy, width, height).unsqueeze(1)  # (B, 1, N, 2)
    sampled = F.grid_sample(grid.permute(0, 3, 1, 2), where, mode="bilinear", padding_mode="border",
                            align_corners=True)  # (B, 2, 1, N)
    return grid_to_pixels(sampled[:, :, 0].permute(0, 2, 1), width, height)
