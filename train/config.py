"""What one training run is: ``TrainConfig``, a record per concern, and the names its settings choose among.

A TrainConfig names the model, its data and its run folder, and holds four records:

- ``network`` (``NetworkConfig``): which network, at which input size, from which weights: what a
  checkpoint's weights must match;
- ``optim`` (``OptimConfig``): how it learns: steps, batch, learning rate and schedule, the loss and its
  settings, augmentation;
- ``run`` (``RunConfig``): where and how the run goes: device, seed, loader workers, checkpoint, log and
  validation intervals;
- ``recorded`` (``Recorded``): what training records of its data (kind, digest, zoom drawing), not set
  by a user.

Every setting's name is unique across the records, so a run's settings also read as one flat mapping
(``TrainConfig.flat``, ``TrainConfig.from_flat``): the flags of ``sketchgen train`` and the keys of its
``--config`` files are those names, and runs recorded before the records existed hold them so in their
``config.json`` (``TrainConfig.from_json`` reads both).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from sketchgen.errors import InputError

# torch is imported where a network is built or trained, never here: the CLI reads these names and the
# records' defaults when it lists its commands
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
BACKBONES = ("resnet18", "small", "psc-resnet18")  # train.backbones.build_backbone
DOMAIN_BNS = ("shared", "separate")  # psc-resnet18's photo and sketch batch norms (train.backbones)
WARP_BASES = ("identity", "softargmax")  # the grid the warp estimator's first block adds to (train.warp)
# PSC's warp estimator (train.warp): its output grid's nodes a side, 3x3 layers per block, encoder layers correlated
STN_SIZE = 16
STN_LAYERS = 5
CORR_LAYERS = (2, 3)
TRIPLET_MARGIN = 1.0  # SketchZooms' triplet margin (L2 distances)


def _choice(value, allowed, what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r} (choose from {', '.join(allowed)})")


@dataclass(frozen=True)
class NetworkConfig:
    """The network: its backbone, input size and starting weights, and the warp estimator's architecture.
    A checkpoint resumed must have been trained with the same settings (but ``weights``)."""

    backbone: str = "resnet18"
    size: int | None = None        # input px; None = the model's default (DEFAULT_SIZE)
    weights: str | None = None     # local backbone weights to start from
    warp_base: str = "identity"    # warp: the grid the first block adds to (WARP_BASES)
    stn_width: int | None = None   # warp: None = PSC's estimator; e.g. 64 for a CPU-sized one
    stn_layers: int = STN_LAYERS   # warp: 3x3 layers per block
    psc_layout: bool = True        # warp: correlation channels index target positions, as PSC's code
    refine: int | None = None      # warp: None = PSC's 16x16 output; e.g. 32 = a residual refinement at 32x32
    corr_layers: tuple = CORR_LAYERS  # warp: encoder layers correlated at 16x16
    softargmax_prior: float = 0.0  # warp: soft argmax similarity penalty per squared normalised distance
    domain_bn: str = "shared"      # psc-resnet18: photo and sketch batch norms "shared" (PSC's code) or "separate"

    def check(self, model: str) -> None:
        """Raise InputError naming the first setting ``model`` cannot be built with."""
        _choice(self.warp_base, WARP_BASES, "warp base")
        if self.refine is not None and self.refine <= STN_SIZE:
            raise InputError(f"--refine must be more than {STN_SIZE} nodes a side (the grid it refines), "
                             f"got {self.refine}")
        _choice(self.backbone, BACKBONES, "backbone")
        if self.backbone == "psc-resnet18" and model != "warp":
            raise InputError(f"--backbone {self.backbone} (PSC's encoder, RGB input) trains the warp estimator only")
        _choice(self.domain_bn, DOMAIN_BNS, "--domain-bn")
        if self.softargmax_prior < 0:
            raise InputError("--softargmax-prior and --refine-weight must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    """How the network learns: optimiser steps, batch, Adam's learning rate and its schedule, each model's
    loss and its settings, and the descriptor's augmentation."""

    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-4
    schedule: str = "constant"     # learning rate: "constant", or "cosine" from lr down to 0 at ``steps``
    loss: str = "triplet"          # descriptor: "triplet" (semi-hard), "hardest" (nearest negative), "all"
    #                                (every negative), "contrastive" or "infonce" (every point of the batch)
    margin: float = TRIPLET_MARGIN  # descriptor: the losses' margin
    temperature: float = 0.1       # descriptor: the InfoNCE loss's temperature
    augment: bool = True           # descriptor: SketchZooms' rotation +-45 degrees and flip, per role (triplets)
    negatives: int = 6             # descriptor on a pair set: negatives per point (up to 4 of them near it)
    cycle_weight: float = 0.5      # warp: weight of the forward-backward consistency term
    flow_loss: str = "nodes"       # warp: supervision on the exact flow, one of FLOW_LOSSES
    refine_weight: float = 1.0     # warp: weight of the refined grid's end-point error in the flow loss

    def check(self) -> None:
        """Raise InputError naming the first setting out of its range."""
        _choice(self.loss, DESCRIPTOR_LOSSES, "loss")
        _choice(self.flow_loss, FLOW_LOSSES, "flow loss")
        _choice(self.schedule, SCHEDULES, "schedule")
        if self.negatives < 1 or self.margin <= 0 or self.temperature <= 0:
            raise InputError("--negatives must be >= 1, --margin and --temperature > 0")
        if self.steps < 0 or self.batch_size < 1:
            raise InputError("--steps must be >= 0 and --batch-size >= 1")
        if self.refine_weight < 0:
            raise InputError("--softargmax-prior and --refine-weight must be >= 0")


@dataclass(frozen=True)
class RunConfig:
    """Where and how the run goes: its device and seed, DataLoader workers, and how often it checkpoints,
    logs and validates."""

    device: str = "cpu"
    seed: int = 0
    workers: int = 0
    checkpoint_every: int = 100
    log_every: int = 10
    val_batches: int = 4           # batches of the val split scored at every checkpoint (0: no validation)
    tensorboard: bool = False      # also write the logged scalars as TensorBoard events under <out>/tb

    def check(self) -> None:
        """Raise InputError naming the first setting out of its range."""
        if self.val_batches < 0:
            raise InputError(f"--val-batches must be >= 0, got {self.val_batches}")


@dataclass(frozen=True)
class Recorded:
    """What training records of the data it ran on (``train.loop.train`` sets it; evaluation reads it)."""

    data_kind: str | None = None   # "triplets" or "pairs" (from the data's manifest)
    data_sha256: str | None = None  # the data's shards' digest (shards.dataset_digest)
    drawing: tuple | None = None   # descriptor: (px, stroke width px) of its zooms


# the records of a TrainConfig, by field name
SECTIONS = {"network": NetworkConfig, "optim": OptimConfig, "run": RunConfig, "recorded": Recorded}


@dataclass(frozen=True)
class TrainConfig:
    """One training run: the ``model`` ("descriptor" or "warp") trained on the dataset folder ``data``
    into the run folder ``out``, and its settings by concern (module docstring)."""

    model: str
    data: str
    out: str
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    recorded: Recorded = field(default_factory=Recorded)

    def resolved(self) -> "TrainConfig":
        """This config checked, ``network.size`` set to the model's default when None. Raises InputError
        naming the first setting out of its range or choices."""
        _choice(self.model, MODELS, "model")
        self.optim.check()
        self.run.check()
        self.network.check(self.model)
        return replace(self, network=replace(self.network, size=self.network.size or DEFAULT_SIZE[self.model]))

    def flat(self) -> dict:
        """{setting: value} of every setting, the records' fields beside model, data and out."""
        out = {"model": self.model, "data": self.data, "out": self.out}
        for name in SECTIONS:
            out.update(asdict(getattr(self, name)))
        return out

    def to_json(self) -> dict:
        """The config as its run's ``config.json`` holds it: one table per record (tuples as lists once dumped)."""
        return asdict(self)

    @classmethod
    def from_flat(cls, model: str, data: str, out: str, **settings) -> "TrainConfig":
        """The config of ``settings`` given by name, each routed to its record; the rest at their defaults.
        Raises TypeError naming a setting no record has."""
        parts: dict[str, dict] = {name: {} for name in SECTIONS}
        home = {f.name: name for name, record in SECTIONS.items() for f in fields(record)}
        for key, value in settings.items():
            if key not in home:
                raise TypeError(f"TrainConfig has no setting {key!r}")
            parts[home[key]][key] = value
        return cls(model, data, out, **{name: SECTIONS[name](**parts[name]) for name in SECTIONS})

    @classmethod
    def from_json(cls, record: dict) -> "TrainConfig":
        """The config a run's ``config.json`` (or checkpoint) recorded: tables per record, or one flat
        table (runs recorded before the records). A setting no record has any more is left out; one the
        record lacks (added to sketchgen since) takes its default. Raises TypeError when ``model``, ``data``
        or ``out`` is missing, AttributeError when ``record`` is not a table."""
        # JSON holds tuples (corr_layers, drawing) as lists
        return cls.from_flat(**{k: tuple(v) if isinstance(v, list) else v for k, v in flat_settings(record).items()})

    def with_settings(self, **settings) -> "TrainConfig":
        """This config with ``settings`` (by name, as ``from_flat`` takes them) changed."""
        return self.from_flat(**{**self.flat(), **settings})


def flat_settings(record: dict) -> dict:
    """{setting: value} of a recorded config, flat or in tables (``TrainConfig.from_json``), limited to the
    settings sketchgen knows now."""
    known = {"model", "data", "out"} | {f.name for record_type in SECTIONS.values() for f in fields(record_type)}
    flat = {}
    for key, value in record.items():
        if key in SECTIONS and isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return {k: v for k, v in flat.items() if k in known}
