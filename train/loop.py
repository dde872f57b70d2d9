"""The training loop for both models: deterministic seeding, resume from the last checkpoint, CSV log,
validation on the val split, progress (``datagen.progress``).

A run folder holds ``config.json`` (the resolved TrainConfig), ``log.csv`` (one row per logged step, its
columns ``log_fields(model)``: the loss and the model's ``METRIC``, and at every checkpoint the same on
``val_batches`` batches of the val split; with ``tensorboard`` the same scalars as TensorBoard events in
``tb/``),
``last.pt`` (model, optimiser, step and RNG state, rewritten atomically every ``checkpoint_every`` steps
and at the end) and ``model.pt`` (the weights alone, a plain state dict). Every checkpoint is read with
``torch.load(..., weights_only=True)``. Running the same command again continues from ``last.pt``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import shutil
import time
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from sketchgen.errors import InputError
from sketchgen.files import atomic_target
from sketchgen.train.backbones import BACKBONES, DOMAIN_BNS
from sketchgen.train.descriptor import Descriptor
from sketchgen.train.losses import (SCALE_WEIGHTS, TRIPLET_MARGIN, candidate_negatives, contrastive, flow_to_grid,
                                    forward_backward_loss, grid_error_px, hardest_negative, multiscale_flow_loss,
                                    info_nce, pixel_flow_loss, triplet_all, triplet_semi_hard)
from sketchgen.datagen.progress import Progress
from sketchgen.train.pairs import pair_stream
from sketchgen.train.points import point_stream
from sketchgen.train.shards import dataset_digest, dataset_kind, require_strokes
from sketchgen.train.triplets import triplet_stream
from sketchgen.train.warp import BASES, STN_SIZE, WarpEstimator
from sketchgen.train.zooms import zoom_drawing_of

log = logging.getLogger(__name__)

MODELS = ("descriptor", "warp")
DEFAULT_SIZE = {"descriptor": 224, "warp": 256}
# the figure each model's training reports beside its loss: the fraction of anchors nearer their nearest
# negative than their positive plus the margin (descriptor); the finest grid's end-point error in px (warp)
METRIC = {"descriptor": "violating", "warp": "epe_px"}


def log_fields(model: str) -> tuple[str, ...]:
    """The columns of a run's ``log.csv``: the training loss and metric, the same on the val split
    (``val_*``, filled at validation steps only), the learning rate and the throughput."""
    return ("step", "loss", METRIC[model], "val_loss", f"val_{METRIC[model]}", "lr", "samples_per_s", "elapsed_s")
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


# --------------------------------------------------------------------------------------------- models
def build_model(cfg: "TrainConfig") -> nn.Module:
    """The network a TrainConfig names, freshly initialised (or from ``cfg.weights``).

    The descriptor's weights are laid out channels-last (NHWC): its training step then runs 1.4-1.5x
    faster on a CPU (``bench/bench_train.py``, the demo's small CNN on 16 triplets of 8 roles: 302 against
    465 ms, medians of 3 alternated runs on 2 cores), the same arithmetic in another memory order. The
    warp estimator gains 1.05x at most and stays as it is."""
    if cfg.model == "descriptor":
        return Descriptor(cfg.backbone, weights=cfg.weights).to(memory_format=torch.channels_last)
    if cfg.model == "warp":
        return WarpEstimator(cfg.backbone, weights=cfg.weights, stn_width=cfg.stn_width, stn_layers=cfg.stn_layers,
                             psc_layout=cfg.psc_layout, base=cfg.warp_base, refine=cfg.refine,
                             prior=cfg.softargmax_prior, corr_layers=tuple(cfg.corr_layers), domain_bn=cfg.domain_bn)
    raise InputError(f"unknown model {cfg.model!r}")


# settings that do not change what a run learns: its folder, what training recorded, its logging
BOOKKEEPING = ("out", "data_kind", "data_sha256", "drawing", "checkpoint_every", "log_every", "tensorboard")


def same_recipe(saved: dict, cfg: TrainConfig) -> bool:
    """Whether a run's recorded settings (its ``config.json``) train what ``cfg`` trains: every setting but
    the bookkeeping ones (output folder, checkpoint and log intervals) equal, the data folder compared as
    a resolved path; a setting the record lacks (added to sketchgen since) counts as its default."""
    want = asdict(replace(cfg.resolved(), data=str(Path(cfg.data).resolve())))
    # a setting added to sketchgen after the run was recorded counts as its default value
    default = {f.name: f.default for f in fields(TrainConfig)}
    # compared as config.json holds them (tuples as lists)
    return all(json.loads(json.dumps(saved.get(k, default.get(k)))) == json.loads(json.dumps(v))
               for k, v in want.items() if k not in BOOKKEEPING)


def retrain_other_recipe(cfg: TrainConfig) -> bool:
    """Remove the run folder ``cfg.out`` when it holds a run of another recipe than ``cfg`` (its
    ``config.json`` differs beyond ``BOOKKEEPING``: an earlier run with other options, or of another
    sketchgen's recipe) or of other data (its recorded ``data_sha256`` is not the data's digest now: the
    data folder rebuilt with other builder options), so that what trains there next starts afresh instead
    of resuming that run or reusing its model. A run of the same recipe is kept (an interrupted one resumes). For the folders the
    demo and the benches own; ``sketchgen train`` itself resumes whatever ``--out`` holds. Returns whether
    the folder was removed."""
    run = Path(cfg.out)
    recorded = []
    try:
        recorded.append(json.loads((run / "config.json").read_text()))
    except (OSError, ValueError):
        pass
    if (run / "last.pt").is_file():  # what the checkpoint was trained with (config.json is rewritten at each start)
        try:
            recorded.append(json.loads(_load(run / "last.pt")["config"]))
        except (InputError, KeyError, TypeError, ValueError):
            recorded.append({})  # unreadable: not this recipe's
    try:
        digest = dataset_digest(cfg.data)
    except InputError:
        digest = None  # unreadable data: training will say so
    # the same settings on data rebuilt since (other builder options or meshes) are another run too
    if all(same_recipe(saved, cfg) and saved.get("data_sha256") in (None, digest) for saved in recorded):
        return False
    log.warning("%s was trained with other settings or data: training it again", run)
    shutil.rmtree(run)
    return True


def load_run(run: str | Path, device: str = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained model of a run folder (``model.pt``, else ``last.pt``), in eval mode, and its config."""
    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{run}: not a training run (no config.json)")
    try:
        cfg = TrainConfig(**{k: v for k, v in json.loads(cfg_path.read_text()).items()
                             if k in {f.name for f in fields(TrainConfig)}})
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{cfg_path}: not a valid run config ({exc})") from None
    model = build_model(replace(cfg, weights=None))
    weights = run / "model.pt"
    if weights.is_file():
        state = _load(weights)
    elif (run / "last.pt").is_file():
        state = _load(run / "last.pt")["model"]
    else:
        raise InputError(f"{run}: no model.pt or last.pt")
    model.load_state_dict(state)
    return model.to(device).eval(), cfg


def _load(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: name it, do not trace back
        raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None


def _save(obj, path: Path) -> None:
    with atomic_target(path) as tmp:
        torch.save(obj, tmp)


def tensorboard_writer(out: Path):
    """A TensorBoard ``SummaryWriter`` on ``out/tb``. TensorBoard is optional (not a dependency of
    sketchgen): without it this raises InputError saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise InputError("--tensorboard needs the tensorboard package (pip install tensorboard); "
                         "log.csv is written either way") from None
    return SummaryWriter(log_dir=str(out / "tb"))


def busy_cores(window: float = 0.3) -> float:
    """Cores kept busy by other processes now: the non-idle share of all CPU time over ``window`` s
    (``/proc/stat``, while this process sleeps), times the core count. Where ``/proc/stat`` is missing,
    the 1-minute load average, which also counts work that has just ended (a dataset build's workers)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    cores = usable_cores()
    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (OSError, AttributeError):  # no load average (Windows)
            return 0.0
    total = total1 - total0
    return cores * (1.0 - (idle1 - idle0) / total) if total > 0 else 0.0


def default_threads() -> int:
    """torch CPU threads for a run: the cores not busy right now (``busy_cores``). On a shared machine
    more threads than free cores make every step several times slower (measured here: a descriptor step
    4x, a warp step 7x slower with 2 threads than with 1 on a busy 2-core machine)."""
    cores = usable_cores()
    return max(1, min(cores, int(round(cores - busy_cores()))))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of a run of ``cfg.steps``."""
    if cfg.schedule == "cosine" and cfg.steps > 0:
        return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps))
    return cfg.lr


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to torch here")
    return torch.device(device)


# --------------------------------------------------------------------------------------------- steps
def descriptor_loss(model: Descriptor, batch: dict, cfg: TrainConfig, device) -> tuple[torch.Tensor, float]:
    """Loss and the fraction of anchors still violating the margin against their nearest own negative.

    batch["zooms"]: (B, R, Z, 1, S, S), roles anchor, positive, then R - 2 negatives. What the run trains
    on (``cfg.data_kind``) decides the candidates: a point of a pair set is mined against its own
    negatives; a triplet against its own negatives and the first negatives of the next triplets of the
    batch (``candidate_negatives``: other correspondences' points, which a triplet set with a single
    negative per anchor needs to have more than one candidate). With ``cfg.loss == "infonce"`` every anchor
    is scored against every positive and every negative of the batch (``losses.info_nce``).
    """
    zooms = batch["zooms"].to(device)
    b, r = zooms.shape[:2]
    emb = model(zooms.flatten(0, 1)).view(b, r, -1)
    a, p = emb[:, 0], emb[:, 1]
    negs = emb[:, 2:]
    if cfg.data_kind != "pairs":
        negs = torch.cat([negs, candidate_negatives(emb[:, 2])[:, 1:]], dim=1)
    if cfg.loss == "contrastive":
        loss = contrastive(a, p, negs[:, 0], cfg.margin)
    elif cfg.loss == "infonce":
        loss = info_nce(a, p, emb[:, 2:], cfg.temperature)
    elif cfg.loss == "hardest":
        loss = hardest_negative(a, p, negs, cfg.margin)
    elif cfg.loss == "all":
        loss = triplet_all(a, p, negs, cfg.margin)
    else:
        loss = triplet_semi_hard(a, p, negs, cfg.margin)
    with torch.no_grad():
        nearest = (a.unsqueeze(1) - emb[:, 2:]).norm(dim=2).min(dim=1).values
        violating = ((a - p).norm(dim=1) + cfg.margin > nearest).float().mean().item()
    return loss, violating


def warp_loss(model: WarpEstimator, batch: dict, cfg: TrainConfig, device) -> tuple[torch.Tensor, float]:
    """Supervised multi-scale flow error (``cfg.flow_loss``; with ``cfg.refine`` the refined grid too, weight
    ``cfg.refine_weight``, at its own nodes) + forward-backward consistency of the finest grids; also the
    finest grid's end-point error in pixels on its nodes. batch: "a", "b" (B, 1, S, S) ink or (B, 3, S, S)
    RGB (``pairs.make_pair_decoder``), "a_domain", "b_domain" (B,) (optional), "flow" (B, S, S, 2) A -> B
    pixels, NaN invalid."""
    a, b, flow = batch["a"].to(device), batch["b"].to(device), batch["flow"].to(device)
    h, w = a.shape[-2:]
    feats_a, feats_b = model.encode(a, batch.get("a_domain")), model.encode(b, batch.get("b_domain"))
    grids_ab = model.grids(feats_b, feats_a)  # over A's frame: where A's points are in B
    gt, valid = flow_to_grid(flow, STN_SIZE)
    grids_ba = model.grids(feats_a, feats_b) if cfg.cycle_weight > 0 or cfg.flow_loss == "both" else None
    if cfg.flow_loss == "nodes":
        loss = multiscale_flow_loss(grids_ab[:len(SCALE_WEIGHTS)], gt, valid, w, h)
        if cfg.refine:
            # the refined grid against the exact flow at its own, finer nodes
            gt, valid = flow_to_grid(flow, cfg.refine)
            loss = loss + cfg.refine_weight * grid_error_px(grids_ab[-1], gt, valid, w, h)
    else:
        weights = (*SCALE_WEIGHTS, cfg.refine_weight)[:len(grids_ab)]
        loss = pixel_flow_loss(grids_ab, flow, w, h, grids_ba if cfg.flow_loss == "both" else None, weights)
        if cfg.refine:
            gt, valid = flow_to_grid(flow, cfg.refine)
    if cfg.cycle_weight > 0:
        loss = loss + cfg.cycle_weight * forward_backward_loss(grids_ab[-1], grids_ba[-1], valid, w, h)
    with torch.no_grad():
        epe = grid_error_px(grids_ab[-1], gt, valid, w, h).item()
    return loss, epe


def input_channels(model: nn.Module) -> int:
    """Colour channels the model takes: its first convolution's input channels (3: an RGB encoder, fed
    pairs in colour; 1: ink)."""
    conv = next((m for m in getattr(model, "encoder", model).modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else 1


def make_loader(cfg: TrainConfig, start_step: int, split: str = "train", channels: int = 1) -> DataLoader:
    """The DataLoader of ``split``: the training split shuffled and repeated from ``start_step``; another
    split read once in order, without augmentation (validation). channels: 3 feeds pairs in colour (an
    RGB encoder), 1 as ink."""
    if split == "train":
        # the stream's epoch counter starts at the resumed step, so a resumed run does not replay the
        # augmentation draws it has already seen
        common = dict(shuffle=True, repeat=True, seed=cfg.seed, epoch=start_step)
        augment, workers = cfg.augment, cfg.workers
    else:
        common = dict(shuffle=False, repeat=False, seed=cfg.seed, epoch=0)
        augment, workers = False, 0
    if cfg.model == "descriptor" and cfg.data_kind == "pairs":
        stream = point_stream(cfg.data, split, size=cfg.size, negatives=cfg.negatives, **common)
    elif cfg.model == "descriptor":
        stream = triplet_stream(cfg.data, split, size=cfg.size, augment=augment, **common)
    else:
        stream = pair_stream(cfg.data, split, size=cfg.size, channels=channels, **common)
    return DataLoader(stream, batch_size=cfg.batch_size, num_workers=workers, persistent_workers=workers > 0)


def validate(model, cfg: TrainConfig, device) -> dict[str, float] | None:
    """{"val_loss", "val_<metric>"}: the training loss and metric averaged over the first
    ``cfg.val_batches`` batches of the val split, the model in eval mode, without gradients; None when
    the dataset has no val split. The global torch random state is restored, so a run's training draws
    are the same with validation or without."""
    if cfg.val_batches == 0 or not any((Path(cfg.data) / "val").glob("*.tar")):
        return None
    loss_fn = descriptor_loss if cfg.model == "descriptor" else warp_loss
    state = torch.get_rng_state()
    losses, metrics = [], []
    model.eval()
    try:
        with torch.no_grad():
            for i, batch in enumerate(make_loader(cfg, 0, "val", input_channels(model))):
                if i >= cfg.val_batches:
                    break
                loss, metric = loss_fn(model, batch, cfg, device)
                losses.append(float(loss.item()))
                metrics.append(float(metric))
    finally:
        model.train()
        torch.set_rng_state(state)
    if not losses:
        return None
    return {"val_loss": sum(losses) / len(losses), f"val_{METRIC[cfg.model]}": sum(metrics) / len(metrics)}


# --------------------------------------------------------------------------------------------- loop
def train(cfg: TrainConfig) -> dict:
    """Train (or continue training) until ``cfg.steps``; returns {"step", "loss", METRIC[model], "run"} and,
    when the dataset has a val split, the last validation's {"val_loss", "val_<metric>"}."""
    cfg = cfg.resolved()
    # what the run trained on, recorded in config.json: evaluation draws its zooms the same way without
    # needing the dataset folder where it was (a relative --data read from elsewhere would not be found)
    kind = dataset_kind(cfg.data)
    if cfg.model == "descriptor" and kind == "pairs":
        require_strokes(cfg.data)  # here, not in a DataLoader worker whose error comes as a traceback
    cfg = replace(cfg, data=str(Path(cfg.data).resolve()), data_kind=kind,
                  data_sha256=dataset_digest(cfg.data),
                  drawing=tuple(zoom_drawing_of(cfg.data, cfg.size)) if cfg.model == "descriptor" else None)
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    model = build_model(cfg).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step = 0
    last = out / "last.pt"
    if last.is_file():
        ckpt = _load(last)
        saved = json.loads(ckpt["config"])
        for key in ("model", "backbone", "size", "stn_width", "stn_layers", "psc_layout", "warp_base",
                    "refine", "softargmax_prior", "corr_layers", "data_kind", "domain_bn"):
            # compared as JSON holds them (a tuple comes back a list)
            if key in saved and saved[key] != json.loads(json.dumps(getattr(cfg, key))):
                raise InputError(f"{last}: checkpoint has {key}={saved.get(key)!r}, this run asks for "
                                 f"{getattr(cfg, key)!r}; use another --out")
        model.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        torch.set_rng_state(ckpt["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in ckpt:  # the GPU's own generator (pixel-flow point picks)
            torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
        log.info("resumed %s at step %d", last, step)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2, sort_keys=True))
    loss_fn = descriptor_loss if cfg.model == "descriptor" else warp_loss
    metric_name = METRIC[cfg.model]
    result = {"step": step, "loss": float("nan"), metric_name: float("nan"), "run": str(out)}
    if step < cfg.steps:
        board = tensorboard_writer(out) if cfg.tensorboard else None
        model.train()
        log_path = out / "log.csv"
        new_log = not log_path.exists()
        t0 = time.perf_counter()
        seen = 0
        # the TensorBoard writer is closed (its events flushed) however the loop ends
        with (closing(board) if board is not None else nullcontext()), open(log_path, "a", newline="") as fh, \
                Progress(cfg.steps, f"train {cfg.model}", "steps", initial=step) as bar:
            writer = csv.writer(fh)
            if new_log:
                writer.writerow(log_fields(cfg.model))
            batches = iter(make_loader(cfg, step, channels=input_channels(model)))
            while step < cfg.steps:
                batch = next(batches)
                lr = learning_rate(cfg, step)  # the command line's --lr wins over a checkpoint's
                for group in optim.param_groups:
                    group["lr"] = lr
                loss, metric = loss_fn(model, batch, cfg, device)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()
                step += 1
                seen += len(batch["key"])
                result.update({"step": step, "loss": float(loss.item()), metric_name: float(metric)})
                checkpoint = step % cfg.checkpoint_every == 0 or step == cfg.steps
                val = validate(model, cfg, device) if checkpoint else None
                if val:
                    result.update(val)
                bar.update(1, loss=f"{result['loss']:.4f}",
                           **({"val_loss": f"{result['val_loss']:.4f}"} if "val_loss" in result else {}))
                if step % cfg.log_every == 0 or step == cfg.steps or val:
                    elapsed = time.perf_counter() - t0
                    writer.writerow([step, f"{result['loss']:.6f}", f"{metric:.6f}",
                                     *(f"{v:.6f}" for v in (val or {}).values()), *([] if val else ["", ""]),
                                     f"{lr:.6g}", f"{seen / max(elapsed, 1e-9):.2f}", f"{elapsed:.2f}"])
                    fh.flush()
                    if board is not None:
                        for name, value in (("loss", result["loss"]), (metric_name, metric),
                                            ("samples_per_s", seen / max(elapsed, 1e-9)), *(val or {}).items()):
                            board.add_scalar(f"{cfg.model}/{name}", value, step)
                if checkpoint:
                    _save({"step": step, "model": model.state_dict(), "optimizer": optim.state_dict(),
                           "torch_rng": torch.get_rng_state(), "config": json.dumps(asdict(cfg)),
                           **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {})},
                          last)
    _save(model.state_dict(), out / "model.pt")
    return result
