"""``sketchgen export psc-checkpoint RUN --out FILE.pth``: a warp run of PSC's network as the checkpoint
PSC's ``eval.py --checkpoint`` and ``train_psc.py --resume`` load (``train.psc_checkpoint``)."""

from __future__ import annotations

import argparse
import sys

from sketchgen.cli.options import COUNT, SEED

HELP = "a warp run trained with --backbone psc-resnet18 as a checkpoint PSC's eval.py and train_psc.py load"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder of `sketchgen train warp --backbone psc-resnet18`")
    parser.add_argument("--out", required=True, help="checkpoint file to write (e.g. psc.pth)")
    parser.add_argument("--moco-dim", type=COUNT, default=128,
                        help="MoCo's feature size in PSC's model (default 128: eval.py's and train_psc.py's)")
    parser.add_argument("--moco-k", type=COUNT, default=8192,
                        help="MoCo's queue length in PSC's model (default 8192: eval.py's and train_psc.py's)")
    parser.add_argument("--seed", type=SEED, default=0,
                        help="seed of the untrained MoCo head and queue written beside the network (default 0)")


def run(args) -> int:
    from sketchgen.train.psc_checkpoint import write_psc_checkpoint

    out = write_psc_checkpoint(args.run, args.out, moco_dim=args.moco_dim, moco_k=args.moco_k, seed=args.seed)
    print(f"export psc-checkpoint: {args.run} -> {out}", file=sys.stderr)
    return 0
