"""``sketchgen train descriptor|warp --data DIR --out RUN [--steps N] [--device cpu|cuda]``.

Trains on the ``train`` split of a dataset folder written by ``sketchgen triplets`` or ``sketchgen pairs``
(descriptor: SketchZooms triplets, or points of the pairs' dense correspondence with negatives drawn
near the true match) or ``sketchgen pairs`` (warp). Running the same command again resumes from
``RUN/last.pt``.
"""

from __future__ import annotations

import argparse
import sys

from sketchgen.cli.options import COUNT, NON_NEGATIVE, POSITIVE, SEED, THREADS, whole

HELP = "train the SketchZooms descriptor or the PSC warp estimator on sketchgen shards (resumable)"


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``sketchgen train``: one per setting of ``train.config.TrainConfig`` (its records'
    defaults and choices), and ``--threads``."""
    from sketchgen.train.config import (BACKBONES, DESCRIPTOR_LOSSES, DOMAIN_BNS, FLOW_LOSSES, MODELS, SCHEDULES,
                                        WARP_BASES, NetworkConfig as net, OptimConfig as opt, RunConfig as run)

    parser.add_argument("model", choices=MODELS, help="which model to train")
    parser.add_argument("--data", required=True,
                        help="dataset folder: triplets or pairs for the descriptor, pairs for the warp")
    parser.add_argument("--out", required=True, help="run folder: config.json, log.csv, last.pt, model.pt")
    parser.add_argument("--steps", type=whole(0), default=opt.steps, help="total optimiser steps (default %(default)s)")
    parser.add_argument("--device", default=run.device, help="cpu or cuda (default %(default)s)")
    parser.add_argument("--batch-size", type=COUNT, default=opt.batch_size, help="samples per step (default %(default)s)")
    parser.add_argument("--lr", type=POSITIVE, default=opt.lr, help="Adam learning rate (default %(default)s)")
    parser.add_argument("--schedule", choices=SCHEDULES, default=opt.schedule,
                        help="learning rate: constant or cosine decay to 0 at --steps (default %(default)s)")
    parser.add_argument("--seed", type=SEED, default=run.seed, help="seed of weights, shuffling and augmentation")
    parser.add_argument("--backbone", choices=BACKBONES, default=net.backbone,
                        help="the encoder (default %(default)s): resnet18, a small CNN for CPUs (small), or (warp) "
                             "psc-resnet18: PSC's own encoder "
                             "(RGB input, per-domain batch norm), whose run `sketchgen export psc-checkpoint` "
                             "writes for PSC's eval.py and train_psc.py")
    parser.add_argument("--domain-bn", choices=DOMAIN_BNS, default=net.domain_bn,
                        help="psc-resnet18: photo and sketch batch norms shared (default %(default)s: what PSC's code "
                             "computes, its two norms being one module) or separate (PSC's model cannot load them)")
    parser.add_argument("--size", type=whole(16), default=net.size,
                        help="input size in px (default: 224 descriptor, 256 warp; warp sizes must divide 256)")
    parser.add_argument("--weights", default=net.weights, help="local backbone weights to start from (.pt state dict)")
    parser.add_argument("--loss", choices=DESCRIPTOR_LOSSES, default=opt.loss,
                        help="descriptor loss (default %(default)s): triplet with semi-hard mining, triplet against the "
                             "hardest negative, triplet over every negative (all), contrastive, or InfoNCE "
                             "over every point of the batch (infonce)")
    parser.add_argument("--margin", type=POSITIVE, default=opt.margin, help="descriptor: the loss's margin (default %(default)s)")
    parser.add_argument("--temperature", type=POSITIVE, default=opt.temperature,
                        help="descriptor: the InfoNCE loss's temperature (default %(default)s)")
    parser.add_argument("--negatives", type=COUNT, default=opt.negatives,
                        help="descriptor trained on a pair set: negatives per point, up to 4 of them near it "
                             "(default %(default)s, at least 2)")
    parser.add_argument("--no-augment", action="store_true",
                        help="descriptor on triplets: no rotation/flip augmentation (SketchZooms' is on by "
                             "default; a pair set's points are never augmented)")
    parser.add_argument("--cycle-weight", type=NON_NEGATIVE, default=opt.cycle_weight,
                        help="warp: weight of forward-backward consistency (default %(default)s)")
    parser.add_argument("--flow-loss", choices=FLOW_LOSSES, default=opt.flow_loss,
                        help="warp: supervision on the exact flow (default %(default)s): the 16x16 grid's nodes on "
                             "the object (nodes), every valid pixel as evaluation reads keypoints (pixels), or every "
                             "valid pixel in both directions A->B and B->A (both)")
    parser.add_argument("--warp-base", choices=WARP_BASES, default=net.warp_base,
                        help="warp: the grid the first block adds its residual to (default %(default)s): the "
                             "identity (PSC's) or the soft argmax of the features' cosine similarity (SFNet's)")
    parser.add_argument("--stn-width", type=COUNT, default=net.stn_width,
                        help="warp: channels of the estimator blocks (default: PSC's 512; e.g. 64 on a CPU)")
    parser.add_argument("--stn-layers", type=COUNT, default=net.stn_layers,
                        help="warp: 3x3 layers per block (default %(default)s, PSC's)")
    parser.add_argument("--corr-layout", choices=("psc", "source"), default="psc" if net.psc_layout else "source",
                        help="warp: correlation channels index target positions as PSC's code (psc) or source "
                             "positions (source; default %(default)s)")
    parser.add_argument("--refine", type=COUNT, default=net.refine,
                        help="warp: add a residual refinement of the 16x16 grid at this many nodes a side (e.g. "
                             "32) from the encoder's finer features and a local correlation (default: none, PSC's)")
    parser.add_argument("--corr-layers", default=",".join(map(str, net.corr_layers)),
                        help="warp: the two encoder layers correlated at 16x16 (default %(default)s: PSC's; 1,2 "
                             "reads finer features)")
    parser.add_argument("--softargmax-prior", type=NON_NEGATIVE, default=net.softargmax_prior,
                        help="warp, softargmax base: cosine similarity taken off a match per squared normalised "
                             "distance from the node's own position (default %(default)s: none)")
    parser.add_argument("--refine-weight", type=NON_NEGATIVE, default=opt.refine_weight,
                        help="warp: weight of the refined grid's error in the flow loss (default %(default)s)")
    parser.add_argument("--val-batches", type=whole(0), default=run.val_batches,
                        help="batches of the val split scored at every checkpoint, logged as val_* in log.csv "
                             "(default %(default)s; 0: no validation)")
    parser.add_argument("--workers", type=whole(0), default=run.workers,
                        help="DataLoader worker processes (default %(default)s)")
    parser.add_argument("--checkpoint-every", type=COUNT, default=run.checkpoint_every,
                        help="steps between checkpoints (default %(default)s)")
    parser.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads (default: the idle cores)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log to TensorBoard in RUN/tb (needs the optional tensorboard package)")


def config_from_args(args):
    from sketchgen.train.config import TrainConfig

    return TrainConfig.from_flat(
        args.model, str(args.data), str(args.out), steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        schedule=args.schedule, device=args.device, seed=args.seed, backbone=args.backbone, size=args.size,
        loss=args.loss, margin=args.margin, temperature=args.temperature, negatives=args.negatives,
        augment=not args.no_augment, cycle_weight=args.cycle_weight, flow_loss=args.flow_loss,
        warp_base=args.warp_base, stn_width=args.stn_width, stn_layers=args.stn_layers,
        psc_layout=args.corr_layout == "psc", refine=args.refine, refine_weight=args.refine_weight,
        softargmax_prior=args.softargmax_prior, corr_layers=corr_layers(args.corr_layers), domain_bn=args.domain_bn,
        workers=args.workers, checkpoint_every=args.checkpoint_every, val_batches=args.val_batches,
        weights=args.weights, tensorboard=args.tensorboard)


def corr_layers(text: str) -> tuple[int, int]:
    from sketchgen.errors import InputError

    try:
        layers = tuple(int(v) for v in text.split(","))
    except ValueError:
        layers = ()
    if len(layers) != 2 or not all(1 <= i <= 4 for i in layers):
        raise InputError(f"--corr-layers {text!r}: two encoder layers 1-4, e.g. 2,3")
    return layers


def run(args: argparse.Namespace) -> int:
    import torch

    from sketchgen.train.devices import default_threads
    from sketchgen.train.loop import train

    torch.set_num_threads(args.threads or default_threads())
    result = train(config_from_args(args))
    print(f"train {args.model}: step {result['step']}, last loss {result['loss']:.4f} -> {result['run']}",
          file=sys.stderr)
    return 0
