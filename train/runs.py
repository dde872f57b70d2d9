"""A run folder: what it records and how it is read back, kept or started afresh.

A run folder holds ``config.json`` (the resolved TrainConfig, a table per record: ``TrainConfig.to_json``;
runs recorded before the records hold one flat table, read as well: ``TrainConfig.from_json``),
``log.csv`` (one row per logged step, its columns ``log_fields(model)``: the loss and the model's
``METRIC``, and at every checkpoint the same on ``run.val_batches`` batches of the val split; with
``run.tensorboard`` the same scalars as TensorBoard events in ``tb/``), ``last.pt`` (model, optimiser,
step and RNG state, rewritten atomically every ``run.checkpoint_every`` steps and at the end) and
``model.pt`` (the weights alone, a plain state dict).
Every checkpoint is read with ``torch.load(..., weights_only=True)`` (``load_checkpoint``).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import fields, replace
from pathlib import Path

import torch
from torch import nn

from sketchgen.files import atomic_target
from sketchgen.errors import InputError
from sketchgen.train.config import METRIC, Recorded, TrainConfig, flat_settings
from sketchgen.train.models import build_model
from sketchgen.train.shards import dataset_digest

log = logging.getLogger(__name__)


def log_fields(model: str) -> tuple[str, ...]:
    """The columns of a run's ``log.csv``: the training loss and metric, the same on the val split
    (``val_*``, filled at validation steps only), the learning rate and the throughput."""
    return ("step", "loss", METRIC[model], "val_loss", f"val_{METRIC[model]}", "lr", "samples_per_s", "elapsed_s")


# settings that do not change what a run learns: its folder, what training recorded, its logging
BOOKKEEPING = ("out", *(f.name for f in fields(Recorded)), "checkpoint_every", "log_every", "tensorboard")


def same_recipe(saved: dict, cfg: TrainConfig) -> bool:
    """Whether a run's recorded settings (its ``config.json``) train what ``cfg`` trains: every setting but
    the bookkeeping ones (output folder, checkpoint and log intervals) equal, the data folder compared as
    a resolved path; a setting the record lacks (added to sketchgen since) counts as its default."""
    want = replace(cfg.resolved(), data=str(Path(cfg.data).resolve())).flat()
    have = flat_settings(saved)  # in tables, or flat as runs recorded before the tables
    # a setting added to sketchgen after the run was recorded counts as its default value (none for the
    # model, data and folder: a record without them is no run's)
    default = {k: v for k, v in TrainConfig("", "", "").flat().items() if k not in ("model", "data", "out")}
    # compared as config.json holds them (tuples as lists)
    return all(json.loads(json.dumps(have.get(k, default.get(k)))) == json.loads(json.dumps(v))
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
            recorded.append(json.loads(load_checkpoint(run / "last.pt")["config"]))
        except (InputError, KeyError, TypeError, ValueError):
            recorded.append({})  # unreadable: not this recipe's
    try:
        digest = dataset_digest(cfg.data)
    except InputError:
        digest = None  # unreadable data: training will say so
    # the same settings on data rebuilt since (other builder options or meshes) are another run too
    if all(same_recipe(saved, cfg) and flat_settings(saved).get("data_sha256") in (None, digest)
           for saved in recorded):
        return False
    log.warning("%s was trained with other settings or data: training it again", run)
    shutil.rmtree(run)
    return True


def load_run(run: str | Path, device: str = "cpu") -> tuple[nn.Module, TrainConfig]:
    """The trained model of a run folder (``model.pt``, else ``last.pt``), in eval mode, and its config
    (``config.json``, in tables or flat). Raises InputError naming the folder or file that is not a run's."""
    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise InputError(f"{run}: not a training run (no config.json)")
    try:
        cfg = TrainConfig.from_json(json.loads(cfg_path.read_text()))
    except (json.JSONDecodeError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise InputError(f"{cfg_path}: not a valid run config ({exc})") from None
    model = build_model(cfg.with_settings(weights=None))
    weights = run / "model.pt"
    if weights.is_file():
        state = load_checkpoint(weights)
    elif (run / "last.pt").is_file():
        state = load_checkpoint(run / "last.pt")["model"]
    else:
        raise InputError(f"{run}: no model.pt or last.pt")
    model.load_state_dict(state)
    return model.to(device).eval(), cfg


def load_checkpoint(path: Path):
    """What ``save_checkpoint`` wrote at ``path``, on the CPU, read with ``weights_only=True``. Raises
    InputError naming the file when it is truncated or not a checkpoint."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: name it, do not trace back
        raise InputError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None


def save_checkpoint(obj, path: Path) -> None:
    """``torch.save`` of ``obj`` to ``path``, atomically: a reader sees the old file or the new one."""
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

