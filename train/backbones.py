"""Image backbones in plain torch: ResNet-18 (torchvision's layout and parameter names), a small CNN,
and PSC's encoder (``psc-resnet18``: ResNet-18 on RGB with per-domain batch norm).

``resnet18`` and ``small`` take (B, C, H, W) float32 images (C = 1 for sketchgen's grey drawings, ink = 1,
paper = 0); ``psc-resnet18`` takes (B, 3, H, W) float32 RGB in [0, 1] (``train.images.to_rgb``), which it
normalises with ImageNet's channel means and deviations first, as PSC's dataset does before its encoder,
and a domain per image (``PHOTO`` 0, ``SKETCH`` 1: PSC's ``cond``). All expose the same interface:

- ``features(x)`` (``features(x, domain)`` for ``psc-resnet18``) -> dict ``{"layer1": ..., "layer4": ...}`` of (B, C_k, H / s_k, W / s_k) float32 maps
  with strides s = 4, 8, 16, 32 (the warp estimator correlates ``layer2`` and ``layer3``);
- ``forward(x)`` -> (B, ``out_dim``) float32: ``layer4`` average-pooled to 1x1 (ResNet-18, as
  torchvision) or to 2x2 and flattened (small CNN);
- ``channels`` -> dict of each layer's channel count.

No weights are downloaded: ``build_backbone(name, weights=PATH)`` loads a local state dict (a
torchvision ResNet-18 checkpoint loads as is; its RGB first convolution is summed over colour channels
to take grey input; its ``fc`` head is ignored; into ``psc-resnet18`` each batch norm is copied to both
domains, as PSC's own loader of ImageNet weights does).

``psc-resnet18`` is built as PSC's ``models/resnet_cbn.py`` ``resnet18`` (Lu, Wang, Fan, ICML 2023;
cogtoolslab/photo-sketch-correspondence) builds its encoder, so its state dict has PSC's key names and
shapes: torchvision's ResNet-18 names with every batch norm (``bn1``, ``bn2``, ``downsample.1``) a
``norms`` list of two (``bn1.norms.0.weight``, ``bn1.norms.1.weight``, ...), 3x3 and 7x7 convolutions
padding by replication (``padding_mode="replicate"``), no ``fc`` (PSC replaces it by an identity).
PSC's conditional batch norm lists one ``BatchNorm2d`` twice (``[nn.BatchNorm2d(n)] * 2``), so in PSC's
code both domains share one set of weights and running statistics under two names; ``domain_bn="shared"``
(the default) does the same, so that a checkpoint computes in PSC's model what it computed here;
``domain_bn="separate"`` keeps two (the paper's description), which PSC's model cannot hold apart.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sketchgen.errors import InputError
from sketchgen.train.config import BACKBONES, DOMAIN_BNS

PHOTO, SKETCH = 0, 1  # PSC's batch-norm domains (``cond`` in its eval.py: photo 0, sketch 1)


class BasicBlock(nn.Module):
    """ResNet's two-convolution residual block (torchvision names: conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18: 7x7/2 stem, 3x3/2 max-pool, four stages of two BasicBlocks (64, 128, 256, 512 channels)."""

    def __init__(self, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        _resnet18_stages(self, lambda cin, cout, stride: BasicBlock(cin, cout, stride), lambda b: nn.Sequential(*b))
        _init(self)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return _stages(self, self.maxpool(self.relu(self.bn1(self.conv1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["layer4"].mean(dim=(2, 3))


def _stages(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"layer1": .., "layer4": ..}: the stem's output ``x`` through ``net``'s four stages, each one's output."""
    out = {}
    for k in range(1, 5):
        x = getattr(net, f"layer{k}")(x)
        out[f"layer{k}"] = x
    return out


class SmallCNN(nn.Module):
    """A CPU-sized CNN with ResNet-18's strides: a 3x3/2 stem and four stages of conv-BN-ReLU, each
    halving the resolution (strides 4, 8, 16, 32), ``width`` x (1, 2, 4, 4) channels."""

    def __init__(self, in_channels: int = 1, width: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width // 2, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.relu = nn.ReLU(inplace=True)
        widths = (width, 2 * width, 4 * width, 4 * width)
        inplanes = width // 2
        for k, planes in enumerate(widths, start=1):
            setattr(self, f"layer{k}", nn.Sequential(
                nn.Conv2d(inplanes, planes, 3, 2, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
                nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True)))
            inplanes = planes
        self.channels = {f"layer{k}": w for k, w in enumerate(widths, start=1)}
        # pooled to 2x2, not 1x1: a point descriptor needs to know on which side of the point things are
        self.out_dim = 4 * widths[-1]
        _init(self)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return _stages(self, self.relu(self.bn1(self.conv1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(self.features(x)["layer4"], 2).flatten(1)


class DomainBatchNorm2d(nn.Module):
    """Batch norm chosen by image domain (PSC's ``CondBatchNorm2d``): ``norms[d]`` normalises the images of
    domain d. ``shared`` (PSC's code): one ``BatchNorm2d`` listed under both indices, so both names hold
    the same tensors."""

    def __init__(self, num_features: int, shared: bool = True):
        super().__init__()
        first = nn.BatchNorm2d(num_features)
        self.shared = shared
        self.norms = nn.ModuleList([first, first if shared else nn.BatchNorm2d(num_features)])

    def forward(self, x: torch.Tensor, domain) -> torch.Tensor:
        """x (B, C, H, W); domain an int (every image) or a (B,) integer tensor (one per image)."""
        if self.shared:
            return self.norms[0](x)
        if not torch.is_tensor(domain):
            return self.norms[int(domain)](x)
        domain = domain.to(x.device).view(-1)
        if bool((domain == domain[0]).all()):
            return self.norms[int(domain[0])](x)
        # a batch of both domains: each normalised by its own statistics, as two separate batches would be
        out = torch.empty_like(x)
        for d in (PHOTO, SKETCH):
            idx = (domain == d).nonzero().view(-1)
            out[idx] = self.norms[d](x[idx])
        return out


class DomainBasicBlock(nn.Module):
    """``BasicBlock`` with replicate padding and ``DomainBatchNorm2d`` (PSC's, same names)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, shared: bool = True):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False, padding_mode="replicate")
        self.bn1 = DomainBatchNorm2d(planes, shared)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False, padding_mode="replicate")
        self.bn2 = DomainBatchNorm2d(planes, shared)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            # a list, not a Sequential: its batch norm needs the domain (names downsample.0, downsample.1)
            self.downsample = nn.ModuleList([nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                             DomainBatchNorm2d(planes, shared)])

    def forward(self, x: torch.Tensor, domain) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample[1](self.downsample[0](x), domain)
        out = self.relu(self.bn1(self.conv1(x), domain))
        out = self.bn2(self.conv2(out), domain)
        return self.relu(out + identity)


# ImageNet's channel means and standard deviations: PSC's dataset normalises photos and sketches with them
# (torchvision's Normalize after ToTensor) before its encoder
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)


class PSCResNet18(nn.Module):
    """PSC's encoder: ResNet-18 on (B, 3, H, W) RGB in [0, 1] (normalised by ``RGB_MEAN``/``RGB_STD`` inside,
    where PSC's dataset normalises; the state dict is PSC's encoder's, without them), per-domain batch norm,
    replicate padding; strides 4, 8, 16, 32 as ``ResNet18``. ``features(x, domain)``: domain
    ``PHOTO``/``SKETCH`` or a (B,) tensor of them; None = ``SKETCH``."""

    domains = 2  # WarpEstimator.encode passes a domain to an encoder that has them

    def __init__(self, domain_bn: str = "shared"):
        super().__init__()
        if domain_bn not in DOMAIN_BNS:
            raise InputError(f"unknown domain batch norm {domain_bn!r} (choose from {', '.join(DOMAIN_BNS)})")
        shared = domain_bn == "shared"
        self.domain_bn = domain_bn
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False, padding_mode="replicate")
        self.bn1 = DomainBatchNorm2d(64, shared)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        # a list, not a Sequential: each block needs the domain
        _resnet18_stages(self, lambda cin, cout, stride: DomainBasicBlock(cin, cout, stride, shared), nn.ModuleList)
        _init(self)
        # not persistent: the checkpoint holds PSC's encoder's keys only (PSC normalises in its dataset)
        self.register_buffer("rgb_mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("rgb_std", torch.tensor(RGB_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor, domain=None) -> dict[str, torch.Tensor]:
        domain = SKETCH if domain is None else domain
        x = (x - self.rgb_mean) / self.rgb_std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x), domain)))
        out = {}
        for k in range(1, 5):
            for block in getattr(self, f"layer{k}"):
                x = block(x, domain)
            out[f"layer{k}"] = x
        return out

    def forward(self, x: torch.Tensor, domain=None) -> torch.Tensor:
        return self.features(x, domain)["layer4"].mean(dim=(2, 3))


def _resnet18_stages(net: nn.Module, block, container) -> None:
    """Set ResNet-18's ``layer1`` .. ``layer4`` on ``net`` (two blocks each, 64/128/256/512 channels, the
    first block of stages 2-4 striding 2), ``channels`` and ``out_dim``; ``block(cin, cout, stride)`` builds
    a block, ``container(list)`` holds a stage's two."""
    widths = (64, 128, 256, 512)
    inplanes = 64
    for k, planes in enumerate(widths, start=1):
        setattr(net, f"layer{k}", container([block(inplanes, planes, 1 if k == 1 else 2), block(planes, planes, 1)]))
        inplanes = planes
    net.channels = {f"layer{k}": w for k, w in enumerate(widths, start=1)}
    net.out_dim = widths[-1]


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_backbone(name: str = "resnet18", *, in_channels: int = 1, weights: str | Path | None = None,
                   domain_bn: str = "shared") -> nn.Module:
    """A backbone by name (``BACKBONES``), optionally with local weights from ``weights``. ``in_channels``
    applies to ``resnet18`` and ``small`` (``psc-resnet18`` takes RGB), ``domain_bn`` to ``psc-resnet18``.

    Raises InputError naming the file when the weights are missing or do not fit the architecture.
    """
    if name == "resnet18":
        net = ResNet18(in_channels)
    elif name == "small":
        net = SmallCNN(in_channels)
    elif name == "psc-resnet18":
        net = PSCResNet18(domain_bn)
    else:
        raise InputError(f"unknown backbone {name!r} (choose from {', '.join(BACKBONES)})")
    if weights is not None:
        load_backbone_weights(net, weights)
    return net


def load_backbone_weights(net: nn.Module, path: str | Path) -> None:
    """Load a local state dict into ``net``; ``fc.*`` keys and a ``module.``/``backbone.`` prefix are
    ignored, and an RGB first convolution is summed over its colour channels for grey input. Into a
    per-domain network a plain batch norm's tensors (``bn1.weight``) go to both domains (``bn1.norms.0``,
    ``bn1.norms.1``). From a PSC checkpoint (``{"state_dict": ...}`` with ``module.encoder_q.*`` keys, as
    PSC's ``train_psc.py`` saves and ``sketchgen export psc-checkpoint`` writes) the query encoder is read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise InputError(f"{path}: not a torch state dict ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{path}: not a torch state dict")
    psc = [k for k in state if k.startswith(("encoder_q.", "module.encoder_q."))]
    if psc:  # PSC's whole network: its query encoder alone (the key encoder, MoCo and the STN are not a backbone)
        state = {k.split("encoder_q.", 1)[1]: state[k] for k in psc}
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith("fc."):
            continue
        cleaned[key] = value
    own = net.state_dict()
    if isinstance(net, PSCResNet18):
        cleaned = _to_domains(cleaned, own)
    stem = cleaned.get("conv1.weight")
    if stem is not None and stem.shape[1] != own["conv1.weight"].shape[1] and own["conv1.weight"].shape[1] == 1:
        cleaned["conv1.weight"] = stem.sum(dim=1, keepdim=True)
    missing = sorted(set(own) - set(cleaned))
    unexpected = sorted(set(cleaned) - set(own))
    bad = [k for k in own if k in cleaned and tuple(cleaned[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or bad:
        detail = (missing or unexpected or bad)[:3]
        raise InputError(f"{path}: weights do not fit this backbone (e.g. {', '.join(detail)})")
    net.load_state_dict(cleaned)


def _to_domains(state: dict, own: dict) -> dict:
    """A plain ResNet's batch-norm keys (``layer1.0.bn1.weight``) -> both domains' (``...bn1.norms.0.weight``,
    ``...bn1.norms.1.weight``); keys already per-domain, and the others, unchanged."""
    out = {}
    for key, value in state.items():
        head, _, leaf = key.rpartition(".")
        if key not in own and f"{head}.norms.0.{leaf}" in own:
            out[f"{head}.norms.0.{leaf}"] = value
            out[f"{head}.norms.1.{leaf}"] = value
        else:
            out[key] = value
    return out
