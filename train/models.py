"""The networks a TrainConfig names: built fresh (``build_model``) and what they take (``input_channels``)."""

from __future__ import annotations

import torch
from torch import nn

from sketchgen.errors import InputError
from sketchgen.train.config import TrainConfig
from sketchgen.train.descriptor import Descriptor
from sketchgen.train.warp import WarpEstimator


def build_model(cfg: TrainConfig) -> nn.Module:
    """The network a TrainConfig names, freshly initialised (or from ``cfg.network.weights``).

    The descriptor's weights are laid out channels-last (NHWC): its training step then runs 1.4-1.5x
    faster on a CPU (``bench/bench_train.py``, the demo's small CNN on 16 triplets of 8 roles: 302 against
    465 ms, medians of 3 alternated runs on 2 cores), the same arithmetic in another memory order. The
    warp estimator gains 1.05x at most and stays as it is."""
    net = cfg.network
    if cfg.model == "descriptor":
        return Descriptor(net.backbone, weights=net.weights).to(memory_format=torch.channels_last)
    if cfg.model == "warp":
        return WarpEstimator(net.backbone, weights=net.weights, stn_width=net.stn_width, stn_layers=net.stn_layers,
                             psc_layout=net.psc_layout, base=net.warp_base, refine=net.refine,
                             prior=net.softargmax_prior, corr_layers=tuple(net.corr_layers), domain_bn=net.domain_bn)
    raise InputError(f"unknown model {cfg.model!r}")


def input_channels(model: nn.Module) -> int:
    """Colour channels the model takes: its first convolution's input channels (3: an RGB encoder, fed
    pairs in colour; 1: ink)."""
    conv = next((m for m in getattr(model, "encoder", model).modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else 1

