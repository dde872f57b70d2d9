"""Image backbones in plain torch: ResNet-18 (torchvision's layout and parameter names) and a small CNN.

Both take (B, C, H, W) float32 images (C = 1 for sketchgen's grey drawings, ink = 1, paper = 0) and expose
the same interface:

- ``features(x)`` -> dict ``{"layer1": ..., "layer4": ...}`` of (B, C_k, H / s_k, W / s_k) float32 maps
  with strides s = 4, 8, 16, 32 (the warp estimator correlates ``layer2`` and ``layer3``);
- ``forward(x)`` -> (B, ``out_dim``) float32: ``layer4`` average-pooled to 1x1 (ResNet-18, as
  torchvision) or to 2x2 and flattened (small CNN);
- ``channels`` -> dict of each layer's channel count.

No weights are downloaded: ``build_backbone(name, weights=PATH)`` loads a local state dict (a
torchvision ResNet-18 checkpoint loads as is; its RGB first convolution is summed over colour channels
to take grey input; its ``fc`` head is ignored).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sketchgen.render.errors import InputError

BACKBONES = ("resnet18", "small")


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
        widths = (64, 128, 256, 512)
        inplanes = 64
        for k, planes in enumerate(widths, start=1):
            stride = 1 if k == 1 else 2
            setattr(self, f"layer{k}", nn.Sequential(BasicBlock(inplanes, planes, stride),
                                                     BasicBlock(planes, planes)))
            inplanes = planes
        self.channels = {f"layer{k}": w for k, w in enumerate(widths, start=1)}
        self.out_dim = 512
        _init(self)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        out = {}
        for k in range(1, 5):
            x = getattr(self, f"layer{k}")(x)
            out[f"layer{k}"] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)["layer4"].mean(dim=(2, 3))


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
        x = self.relu(self.bn1(self.conv1(x)))
        out = {}
        for k in range(1, 5):
            x = getattr(self, f"layer{k}")(x)
            out[f"layer{k}"] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(self.features(x)["layer4"], 2).flatten(1)


def _init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_backbone(name: str = "resnet18", *, in_channels: int = 1, weights: str | Path | None = None) -> nn.Module:
    """A backbone by name (``"resnet18"`` or ``"small"``), optionally with local weights from ``weights``.

    Raises InputError naming the file when the weights are missing or do not fit the architecture.
    """
    if name == "resnet18":
        net = ResNet18(in_channels)
    elif name == "small":
        net = SmallCNN(in_channels)
    else:
        raise InputError(f"unknown backbone {name!r} (choose from {', '.join(BACKBONES)})")
    if weights is not None:
        load_backbone_weights(net, weights)
    return net


def load_backbone_weights(net: nn.Module, path: str | Path) -> None:
    """Load a local state dict into ``net``; ``fc.*`` keys and a ``module.``/``backbone.`` prefix are
    ignored, and an RGB first convolution is summed over its colour channels for grey input."""
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
    cleaned = {}
    for key, value in state.items():
        for prefix in ("module.", "backbone.", "encoder."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        if key.startswith("fc."):
            continue
        cleaned[key] = value
    own = net.state_dict()
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
