"""What one training run is: ``TrainConfig``, and the names its settings choose among."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sketchgen.errors import InputError
from sketchgen.train.backbones import BACKBONES, DOMAIN_BNS
from sketchgen.train.losses import TRIPLET_MARGIN
from sketchgen.train.warp import BASES, STN_SIZE

MODELS = ("descriptor", "warp")
DEFAULT_SIZE = {"descriptor": 224, "warp": 256}
# the figure each model's training reports beside its loss: the fraction of anchors nearer their nearest
# negative than their positive plus the margin (descriptor); the finest grid's end-point error in px (warp)
METRIC = {"descriptor": "violating", "warp": "epe_px"}
DESCRIPTOR_LOSSES = ("triplet", "hardest", "all", "contrastive", "infonce")
SCHEDULES = ("constant", "cosine")
# warp supervision: "nodes" = the grid's 16x16 nodes whose neighbourhood is all on the object, A -> B;
# "pixels" = every valid pixel of the flow, read from the grid as evaluation reads keypoints, A -> B;
# "both" = "pixels" in both directions (B -> A at the positions in B the flow reaches)
FLOW_LOSSES = ("nodes", "pixels", "both")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``size`` None = the model's default input size (descriptor 224, warp 256)."""

    model: str
    data: str
    out: str
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-4
    schedule: str = "constant"     # learning rate: "constant", or "cosine" from lr down to 0 at ``steps``
    device: str = "cpu"
    seed: int = 0
    backbone: str = "resnet18"
    size: int | None = None
    loss: str = "triplet"          # descriptor: "triplet" (semi-hard), "hardest" (nearest negative), "all"
    #                                (every negative), "contrastive" or "infonce" (every point of the batch)
    margin: float = TRIPLET_MARGIN  # descriptor: the losses' margin
    temperature: float = 0.1       # descriptor: the InfoNCE loss's temperature
    augment: bool = True           # descriptor: SketchZooms' rotation +-45 degrees and flip, per role (triplets)
    negatives: int = 6             # descriptor on a pair set: negatives per point (up to 4 of them near it)
    data_kind: str | None = None   # recorded at training: "triplets" or "pairs" (from the data's manifest)
    data_sha256: str | None = None  # recorded at training: the data's shards' digest (shards.dataset_digest)
    drawing: tuple | None = None   # descriptor, recorded at training: (px, stroke width px) of its zooms
    cycle_weight: float = 0.5      # warp: weight of the forward-backward consistency term
    flow_loss: str = "nodes"       # warp: supervision on the exact flow, one of FLOW_LOSSES
    warp_base: str = "identity"    # warp: the grid the first block adds to (warp.BASES)
    stn_width: int | None = None   # warp: None = PSC's estimator; e.g. 64 for a CPU-sized one
    stn_layers: int = 5            # warp: 3x3 layers per block (PSC: 5)
    psc_layout: bool = True        # warp: correlation channels index target positions, as PSC's code
    refine: int | None = None      # warp: None = PSC's 16x16 output; e.g. 32 = a residual refinement at 32x32
    corr_layers: tuple = (2, 3)    # warp: encoder layers correlated at 16x16 (PSC: layer2 and layer3)
    softargmax_prior: float = 0.0  # warp: soft argmax similarity penalty per squared normalised distance
    refine_weight: float = 1.0     # warp: weight of the refined grid's end-point error in the flow loss
    domain_bn: str = "shared"      # psc-resnet18: photo and sketch batch norms "shared" (PSC's code) or "separate"
    workers: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    val_batches: int = 4           # batches of the val split scored at every checkpoint (0: no validation)
    weights: str | None = None     # local backbone weights to start from
    tensorboard: bool = False      # also write the logged scalars as TensorBoard events under <out>/tb

    def resolved(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise InputError(f"unknown model {self.model!r} (choose from {', '.join(MODELS)})")
        if self.loss not in DESCRIPTOR_LOSSES:
            raise InputError(f"unknown loss {self.loss!r} (choose from {', '.join(DESCRIPTOR_LOSSES)})")
        if self.warp_base not in BASES:
            raise InputError(f"unknown warp base {self.warp_base!r} (choose from {', '.join(BASES)})")
        if self.flow_loss not in FLOW_LOSSES:
            raise InputError(f"unknown flow loss {self.flow_loss!r} (choose from {', '.join(FLOW_LOSSES)})")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r} (choose from {', '.join(SCHEDULES)})")
        if self.negatives < 1 or self.margin <= 0 or self.temperature <= 0:
            raise InputError("--negatives must be >= 1, --margin and --temperature > 0")
        if self.val_batches < 0:
            raise InputError(f"--val-batches must be >= 0, got {self.val_batches}")
        if self.steps < 0 or self.batch_size < 1:
            raise InputError("--steps must be >= 0 and --batch-size >= 1")
        if self.refine is not None and self.refine <= STN_SIZE:
            raise InputError(f"--refine must be more than {STN_SIZE} nodes a side (the grid it refines), "
                             f"got {self.refine}")
        if self.backbone not in BACKBONES:
            raise InputError(f"unknown backbone {self.backbone!r} (choose from {', '.join(BACKBONES)})")
        if self.backbone == "psc-resnet18" and self.model != "warp":
            raise InputError(f"--backbone {self.backbone} (PSC's encoder, RGB input) trains the warp estimator only")
        if self.domain_bn not in DOMAIN_BNS:
            raise InputError(f"unknown --domain-bn {self.domain_bn!r} (choose from {', '.join(DOMAIN_BNS)})")
        if self.softargmax_prior < 0 or self.refine_weight < 0:
            raise InputError("--softargmax-prior and --refine-weight must be >= 0")
        return replace(self, size=self.size or DEFAULT_SIZE[self.model])

