"""``sketchgen export psc PAIRS --out DIR``: a pair dataset in the PSC6k / PF-Pascal CSV layout."""

from __future__ import annotations

import argparse
import sys

HELP = "a pair dataset as photo-sketch-correspondence (PSC6k) CSVs and PNGs"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="PAIRS", help="pair dataset folder (written by sketchgen pairs)")
    parser.add_argument("--out", required=True, help="folder to write the CSVs and images into")


def run(args) -> int:
    from sketchgen.datagen.export_psc import export_psc

    counts = export_psc(args.dataset, args.out)
    print(f"export psc: {counts} -> {args.out}", file=sys.stderr)
    return 0
