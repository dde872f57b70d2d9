"""A warp run of PSC's network (``sketchgen train warp --backbone psc-resnet18``) as the checkpoint PSC's own
code resumes and evaluates (Lu, Wang, Fan, ICML 2023; cogtoolslab/photo-sketch-correspondence).

The contract, as PSC's ``eval.py`` and ``train_psc.py --resume`` read a checkpoint: ``torch.load(path)``
gives a dict with ``"state_dict"`` (every key of ``PSCNet``, nothing else: both scripts assert no missing
and no unexpected key), ``"epoch"`` (``train_psc.py`` resumes from it), ``"optimizer"`` and ``"scaler"``
(``train_psc.py`` reads both; a ``ValueError`` from the optimiser's ``load_state_dict`` makes it print
"fail to load optimizer state_dict" and start its own optimiser and scaler afresh). ``train_psc.py`` loads
into its ``DistributedDataParallel``-wrapped model, so every key carries the ``module.`` prefix;
``eval.py`` strips it. ``PSCNet``'s keys (``psc_key_shapes`` lists them with their shapes):

- ``encoder_q.*`` and ``encoder_k.*``, and the same modules again under ``framework.encoder_q.*`` and
  ``framework.encoder_k.*`` (``PSCNet`` holds its two encoders directly and inside its MoCo framework):
  PSC's ResNet-18 with per-domain batch norm (``backbones.PSCResNet18``), written from the run's
  ``encoder.*`` (the key encoder a copy of the query encoder, as MoCo starts it);
- ``framework.fc_q.{0,2}.{weight,bias}`` and ``framework.fc_k.*`` (MoCo's projection head: 512 -> 512 ->
  ``moco_dim``), ``framework.queue`` (``moco_dim`` x ``moco_k``) and ``framework.queue_ptr`` (1,) int64:
  used by PSC's contrastive training of the encoder only, which sketchgen does not train; written as MoCo
  initialises them (``torch.nn.Linear``'s default initialisation, a queue of unit-norm Gaussian columns,
  pointer 0), from ``seed``, the key head a copy of the query head;
- ``stn.*`` (the run's estimator as it is) and ``pos_map`` (1, 2, 16, 16), the identity grid.

PSC's ``eval.py`` builds ``PSCNet(..., dim=128, K=8192, corr_layer=[2, 3])`` with 5 layers per block,
so ``moco_dim`` 128 and ``moco_k`` 8192 (also ``train_psc.py``'s defaults) are the defaults here, and only
a run with PSC's estimator (``warp_base`` identity, no ``stn_width``, 5 layers, correlation of layer 2
and 3 in PSC's layout, no refinement) and shared domain batch norm exports.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sketchgen.errors import InputError
from sketchgen.train.config import CORR_LAYERS, STN_LAYERS
from sketchgen.files import atomic_write

log = logging.getLogger(__name__)

PREFIX = "module."  # train_psc.py's DistributedDataParallel wrapper; eval.py strips it
ENCODERS = ("encoder_q", "encoder_k", "framework.encoder_q", "framework.encoder_k")
MOCO_DIM = 128
MOCO_K = 8192
PSC_SIZE = 256  # the image size PSC's eval.py scores at
# what a run must have been trained with to be PSC's network, and the flag that sets each otherwise
PSC_SETTINGS = {"backbone": ("psc-resnet18", "--backbone psc-resnet18"), "stn_width": (None, "no --stn-width"),
                "stn_layers": (STN_LAYERS, f"--stn-layers {STN_LAYERS}"), "psc_layout": (True, "--corr-layout psc"),
                "warp_base": ("identity", "--warp-base identity"), "refine": (None, "no --refine"),
                "corr_layers": (list(CORR_LAYERS), "--corr-layers " + ",".join(map(str, CORR_LAYERS))),
                "domain_bn": ("shared", "--domain-bn shared")}


def check_psc_run(cfg, run) -> None:
    """Raise InputError naming ``run`` and the first setting of its TrainConfig that PSC's model cannot hold."""
    if cfg.model != "warp":
        raise InputError(f"{run}: a {cfg.model} run; PSC's checkpoint holds a warp estimator")
    for key, (want, flag) in PSC_SETTINGS.items():
        have = getattr(cfg.network, key)
        if (list(have) if isinstance(have, (tuple, list)) else have) != want:
            why = (": PSC's model lists one batch norm under both domains and cannot hold two"
                   if key == "domain_bn" else "")
            raise InputError(f"{run}: trained with {key}={have!r}; PSC's network needs {flag}{why}")


def moco_state(moco_dim: int = MOCO_DIM, moco_k: int = MOCO_K, hidden: int = 512, seed: int = 0) -> dict:
    """MoCo's head and queue as MoCo initialises them (names below ``framework.``), drawn from ``seed``
    without touching torch's global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, moco_dim))
        queue = F.normalize(torch.randn(moco_dim, moco_k), dim=0)
    out = {}
    for name in ("fc_q", "fc_k"):  # the key head starts as a copy of the query head
        out.update({f"{name}.{k}": v.detach().clone() for k, v in head.state_dict().items()})
    out["queue"] = queue
    out["queue_ptr"] = torch.zeros(1, dtype=torch.long)
    return out


def psc_state_dict(model, *, moco_dim: int = MOCO_DIM, moco_k: int = MOCO_K, seed: int = 0) -> dict:
    """``PSCNet``'s state dict (with the ``module.`` prefix) from a ``WarpEstimator`` built with
    ``backbone="psc-resnet18"``: its ``encoder.*`` under the four encoder names, its ``stn.*``, MoCo's
    head and queue (``moco_state``) and ``pos_map``: contiguous CPU tensors in the model's dtypes (float32;
    ``num_batches_tracked`` and ``queue_ptr`` int64)."""
    from sketchgen.train.warp import identity_grid

    own = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state = {}
    for prefix in ENCODERS:
        # one tensor under the four names (torch.save stores it once; PSC's load copies it into each)
        state.update({f"{prefix}.{k[len('encoder.'):]}": v for k, v in own.items() if k.startswith("encoder.")})
    state.update({f"framework.{k}": v for k, v in moco_state(moco_dim, moco_k, seed=seed).items()})
    state.update({k: v for k, v in own.items() if k.startswith("stn.")})
    state["pos_map"] = identity_grid(model.stn.stn_size).permute(0, 3, 1, 2).contiguous()
    other = sorted(k for k in own if not k.startswith(("encoder.", "stn.")))
    if other:
        raise InputError(f"keys PSC's model has no place for: {', '.join(other[:3])}")
    return {PREFIX + k: v for k, v in state.items()}


def psc_checkpoint(run: str | Path, *, moco_dim: int = MOCO_DIM, moco_k: int = MOCO_K, seed: int = 0) -> dict:
    """The dict PSC's scripts load, from a training run folder: {"state_dict", "epoch": 0, "arch":
    "resnet18", "optimizer", "scaler"}. The optimiser state is empty (no parameter group): PSC's
    ``train_psc.py`` then reports "fail to load optimizer state_dict" and starts its own optimiser, and
    counts its epochs from 0. Raises InputError for a run PSC's network cannot hold (``check_psc_run``)."""
    from sketchgen.train.runs import load_run

    model, cfg = load_run(run)
    check_psc_run(cfg, run)
    if cfg.network.size != PSC_SIZE:
        log.warning("%s was trained at %d px; PSC's eval.py scores at %d px", run, cfg.network.size, PSC_SIZE)
    return {"state_dict": psc_state_dict(model, moco_dim=moco_dim, moco_k=moco_k, seed=seed), "epoch": 0,
            "arch": "resnet18", "optimizer": {"state": {}, "param_groups": []}, "scaler": {}}


def write_psc_checkpoint(run: str | Path, out: str | Path, **kwargs) -> Path:
    """Write ``psc_checkpoint(run, **kwargs)`` to ``out`` (atomically: a failed write leaves no file). The
    same run and settings give the same bytes under any file name (``torch.save`` names its archive after
    the file it writes, so it writes to memory first)."""
    buf = io.BytesIO()
    torch.save(psc_checkpoint(run, **kwargs), buf)
    return atomic_write(out, buf.getvalue())

