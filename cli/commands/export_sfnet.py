"""``sketchgen export sfnet PAIRS --out DIR``: a pair dataset as SFNet's training arrays and PF-Pascal CSVs."""

from __future__ import annotations

import argparse
import sys

HELP = "pairs as SFNet's .npy training arrays (images, foreground masks) and PF-Pascal 8-column CSVs"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="PAIRS", help="pair dataset folder (written by sketchgen pairs)")
    parser.add_argument("--out", required=True, help="folder to write into (SFNet's data/ folder: its defaults "
                                                      "then find every file)")


def run(args) -> int:
    from sketchgen.datagen.export_sfnet import export_sfnet

    c = export_sfnet(args.dataset, args.out)
    print(f"export sfnet: {c['images']} training images ({c['duplicates']} repeats left out), "
          f"{c['val']} val and {c['test']} test pairs -> {args.out}; {c['few_points']} pairs with fewer than "
          f"8 correspondences skipped", file=sys.stderr)
    for failure in c["failures"]:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if c["failures"] else 0
