"""The training loop for both models: deterministic seeding, resume from the last checkpoint, CSV log,
validation on the val split, progress (``datagen.progress``). What the run folder holds: ``train.runs``.
Running the same config again continues from its ``last.pt``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import time
from contextlib import closing, nullcontext
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch

from sketchgen.datagen.progress import Progress
from sketchgen.errors import InputError
from sketchgen.train.config import METRIC, NetworkConfig, Recorded, TrainConfig, flat_settings
from sketchgen.train.devices import resolve_device
from sketchgen.train.loader import make_loader
from sketchgen.train.losses import descriptor_loss, warp_loss
from sketchgen.train.models import build_model, input_channels
from sketchgen.train.runs import load_checkpoint, log_fields, save_checkpoint, tensorboard_writer
from sketchgen.train.shards import dataset_digest, dataset_kind, require_strokes
from sketchgen.train.zooms import zoom_drawing_of

log = logging.getLogger(__name__)


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of a run of ``cfg.optim.steps``."""
    if cfg.optim.schedule == "cosine" and cfg.optim.steps > 0:
        return 0.5 * cfg.optim.lr * (1.0 + math.cos(math.pi * min(step, cfg.optim.steps) / cfg.optim.steps))
    return cfg.optim.lr


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators with ``seed`` (weights, shuffling, augmentation)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def validate(model, cfg: TrainConfig, device) -> dict[str, float] | None:
    """{"val_loss", "val_<metric>"}: the training loss and metric averaged over the first
    ``cfg.run.val_batches`` batches of the val split, the model in eval mode, without gradients; None when
    the dataset has no val split. The global torch random state is restored, so a run's training draws
    are the same with validation or without."""
    if cfg.run.val_batches == 0 or not any((Path(cfg.data) / "val").glob("*.tar")):
        return None
    loss_fn = descriptor_loss if cfg.model == "descriptor" else warp_loss
    state = torch.get_rng_state()
    losses, metrics = [], []
    model.eval()
    try:
        with torch.no_grad():
            for i, batch in enumerate(make_loader(cfg, 0, "val", input_channels(model))):
                if i >= cfg.run.val_batches:
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
# the settings a resumed checkpoint must have been trained with: the network's (but its starting weights)
RESUME_MATCH = ("model", "data_kind", *(f.name for f in fields(NetworkConfig) if f.name != "weights"))


def train(cfg: TrainConfig) -> dict:
    """Train (or continue training) until ``cfg.optim.steps``; returns {"step", "loss", METRIC[model], "run"}
    and, when the dataset has a val split, the last validation's {"val_loss", "val_<metric>"}."""
    cfg = recorded_config(cfg)
    device = resolve_device(cfg.run.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.run.seed)
    model = build_model(cfg).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    last = out / "last.pt"
    step = resume(last, cfg, model, optim, device) if last.is_file() else 0
    (out / "config.json").write_text(json.dumps(cfg.to_json(), indent=2, sort_keys=True))
    loss_fn = descriptor_loss if cfg.model == "descriptor" else warp_loss
    metric_name = METRIC[cfg.model]
    result = {"step": step, "loss": float("nan"), metric_name: float("nan"), "run": str(out)}
    if step < cfg.optim.steps:
        board = tensorboard_writer(out) if cfg.run.tensorboard else None
        model.train()
        log_path = out / "log.csv"
        new_log = not log_path.exists()
        t0 = time.perf_counter()
        seen = 0
        # the TensorBoard writer is closed (its events flushed) however the loop ends
        with (closing(board) if board is not None else nullcontext()), open(log_path, "a", newline="") as fh, \
                Progress(cfg.optim.steps, f"train {cfg.model}", "steps", initial=step) as bar:
            writer = csv.writer(fh)
            if new_log:
                writer.writerow(log_fields(cfg.model))
            batches = iter(make_loader(cfg, step, channels=input_channels(model)))
            while step < cfg.optim.steps:
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
                checkpoint = step % cfg.run.checkpoint_every == 0 or step == cfg.optim.steps
                val = validate(model, cfg, device) if checkpoint else None
                if val:
                    result.update(val)
                bar.update(1, loss=f"{result['loss']:.4f}",
                           **({"val_loss": f"{result['val_loss']:.4f}"} if "val_loss" in result else {}))
                if step % cfg.run.log_every == 0 or step == cfg.optim.steps or val:
                    elapsed = time.perf_counter() - t0
                    rate = seen / max(elapsed, 1e-9)
                    writer.writerow([step, f"{result['loss']:.6f}", f"{metric:.6f}",
                                     *(f"{v:.6f}" for v in (val or {}).values()), *([] if val else ["", ""]),
                                     f"{lr:.6g}", f"{rate:.2f}", f"{elapsed:.2f}"])
                    fh.flush()
                    if board is not None:
                        for name, value in (("loss", result["loss"]), (metric_name, metric), ("samples_per_s", rate),
                                            *(val or {}).items()):
                            board.add_scalar(f"{cfg.model}/{name}", value, step)
                if checkpoint:
                    save_last(last, step, cfg, model, optim, device)
    save_checkpoint(model.state_dict(), out / "model.pt")
    return result


def recorded_config(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` resolved, its data folder absolute and what training records of the data set: its kind, its
    digest and (descriptor) the drawing of its zooms, so that evaluation draws its zooms the same way
    without the dataset folder where it was (a relative --data read from elsewhere would not be found)."""
    cfg = cfg.resolved()
    kind = dataset_kind(cfg.data)
    if cfg.model == "descriptor" and kind == "pairs":
        require_strokes(cfg.data)  # here, not in a DataLoader worker whose error comes as a traceback
    drawing = tuple(zoom_drawing_of(cfg.data, cfg.network.size)) if cfg.model == "descriptor" else None
    return replace(cfg, data=str(Path(cfg.data).resolve()),
                   recorded=Recorded(data_kind=kind, data_sha256=dataset_digest(cfg.data), drawing=drawing))


def resume(last: Path, cfg: TrainConfig, model, optim, device: torch.device) -> int:
    """Load the checkpoint ``last`` into ``model`` and ``optim`` and torch's generators; returns its step.
    Raises InputError naming the file when it was trained with other ``RESUME_MATCH`` settings."""
    ckpt = load_checkpoint(last)
    saved, mine = flat_settings(json.loads(ckpt["config"])), cfg.flat()
    for key in RESUME_MATCH:
        # compared as JSON holds them (a tuple comes back a list)
        if key in saved and saved[key] != json.loads(json.dumps(mine[key])):
            raise InputError(f"{last}: checkpoint has {key}={saved.get(key)!r}, this run asks for "
                             f"{mine[key]!r}; use another --out")
    model.load_state_dict(ckpt["model"])
    optim.load_state_dict(ckpt["optimizer"])
    step = int(ckpt["step"])
    torch.set_rng_state(ckpt["torch_rng"])
    if device.type == "cuda" and "cuda_rng" in ckpt:  # the GPU's own generator (pixel-flow point picks)
        torch.cuda.set_rng_state(ckpt["cuda_rng"], device)
    log.info("resumed %s at step %d", last, step)
    return step


def save_last(last: Path, step: int, cfg: TrainConfig, model, optim, device: torch.device) -> None:
    """Write the checkpoint ``resume`` reads: step, weights, optimiser, torch's generators and the config."""
    save_checkpoint({"step": step, "model": model.state_dict(), "optimizer": optim.state_dict(),
                     "torch_rng": torch.get_rng_state(), "config": json.dumps(cfg.to_json()),
                     **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {})}, last)
