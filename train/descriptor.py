"""The SketchZooms multi-view point descriptor: one backbone shared over a point's zoom images, a linear
projection to 128-D per zoom, an element-wise max across zooms, and L2 normalisation.

SketchZooms' released code pools with ``.view(-1, 128, 3).max(2)`` on the concatenated [z0|z1|z2]
vector, which takes the max over three *neighbouring channels* of the concatenation rather than over
zooms. Here each descriptor channel is the max of the same channel across zooms:
``per_zoom.view(B, Z, 128).max(1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sketchgen.train.backbones import build_backbone

DESCRIPTOR_DIM = 128


class Descriptor(nn.Module):
    """Point descriptor from zoom images.

    forward: (B, Z, 1, S, S) float32 zoom images (ink = 1, paper = 0) -> (B, 128) float32, unit L2 norm.
    """

    def __init__(self, backbone: str = "resnet18", *, dim: int = DESCRIPTOR_DIM, weights=None):
        super().__init__()
        self.backbone_name = backbone
        self.backbone = build_backbone(backbone, weights=weights)
        self.dim = dim
        self.project = nn.Linear(self.backbone.out_dim, dim)

    def embed_zooms(self, images: torch.Tensor) -> torch.Tensor:
        """(B, Z, 1, S, S) -> (B * Z, dim) float32 per-zoom projections, zoom-minor order."""
        b, z = images.shape[:2]
        flat = images.reshape(b * z, *images.shape[2:])
        return self.project(self.backbone(flat))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, z = images.shape[:2]
        per_zoom = self.embed_zooms(images)
        pooled = per_zoom.view(b, z, self.dim).max(dim=1).values
        return F.normalize(pooled, dim=1)


def describe(model: Descriptor, zooms: torch.Tensor, *, batch: int = 256) -> torch.Tensor:
    """Descriptors of many points without gradients: (N, Z, 1, S, S) -> (N, 128) float32."""
    out = []
    with torch.no_grad():
        for start in range(0, len(zooms), batch):
            out.append(model(zooms[start:start + batch]))
    if not out:
        return torch.zeros((0, model.dim))
    return torch.cat(out)
