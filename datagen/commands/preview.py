"""``sketchgen preview DATASET --out sheet.png``: a contact sheet of a triplet or pair dataset."""

from __future__ import annotations

import argparse
import sys

from sketchgen.datagen.options import COUNT

HELP = "contact sheet of a dataset: triplets with their points marked, pairs with correspondences and flow"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset folder (written by sketchgen triplets or pairs)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--samples", type=COUNT, default=8, help="number of samples shown (default 8)")


def run(args) -> int:
    from sketchgen.datagen.preview import preview

    path = preview(args.dataset, args.out, limit=args.samples)
    print(f"preview: {path}", file=sys.stderr)
    return 0
