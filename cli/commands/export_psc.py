"""``sketchgen export psc PAIRS --out DIR``: a pair dataset in the PSC6k CSV layout."""

from __future__ import annotations

import argparse
import sys

HELP = "sketch-photo pairs as photo-sketch-correspondence (PSC6k) CSVs and PNGs"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="PAIRS", help="pair dataset folder (written by sketchgen pairs)")
    parser.add_argument("--out", required=True,
                        help="folder for the CSVs and images (PSC's --csv-path and --data-path)")


def run(args) -> int:
    return export(args.dataset, args.out)


def export(dataset, out) -> int:
    """Run the export and print its summary; 1 when some shard could not be read."""
    from sketchgen.datagen.export_psc import export_psc

    c = export_psc(dataset, out)
    print(f"export psc: {c['train'] // 2} train pairs, {c['val']} val, {c['test']} test -> {out}; skipped "
          f"{c['not_photo']} sketch-sketch pairs and {c['few_points']} with fewer than 8 correspondences; "
          f"val/test points: {c['keypoints']} keypoints ({c['keypoints_dropped']} dropped where the flow disagrees), "
          f"{c['flow_points']} from the flow", file=sys.stderr)
    for failure in c["failures"]:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if c["failures"] else 0
