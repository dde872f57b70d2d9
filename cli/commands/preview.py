"""``sketchgen preview DATASET --out sheet.png``: a contact sheet of a triplet or pair dataset."""

from __future__ import annotations

import argparse
import sys

from sketchgen.cli.options import COUNT

HELP = "contact sheet of a dataset: triplets as whole drawings with matched points, pairs with correspondences and flow"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder (written by sketchgen triplets or pairs)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--samples", type=COUNT, default=8, help="number of samples shown (default 8)")
    parser.add_argument("--split", choices=("train", "val", "test"), default=None,
                        help="samples of this split only (default: train, val, then test)")
    parser.add_argument("--shape", default=None, help="samples whose anchor (triplets) or A (pairs) is this shape id")
    parser.add_argument("--key", default=None, help="the one sample of this key (see `sketchgen sample`)")


def run(args) -> int:
    from sketchgen.datagen.preview import preview

    path = preview(args.dataset, args.out, limit=args.samples, split=args.split, shape=args.shape, key=args.key)
    print(f"preview: {path}", file=sys.stderr)
    return 0
