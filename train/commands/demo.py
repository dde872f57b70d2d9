"""``sketchgen demo``: the quick look at what sketchgen makes (``make demo``).

For now it draws the gallery of procedural shapes (PNG, SVG and a contact sheet); it will run the main
job on the bundled collection once the dataset builders exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "draw a gallery of shapes (PNG, SVG, contact sheet) and print where it went"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from datagen.gallery import draw_gallery

    sheet = draw_gallery(args.out)
    print(f"demo: drawings (PNG, SVG) in {sheet.parent}/; contact sheet: {sheet}")
    return 0
