"""``sketchgen export sketchzooms TRIPLETS --out DIR``: a triplet dataset in SketchZooms' layout."""

from __future__ import annotations

import argparse
import sys

from sketchgen.cli.options import POSITIVE, whole

HELP = "triplets as SketchZooms' data/ folder: csv/{train,test}.csv and 512 px RGBA views per point"


def configure(parser: argparse.ArgumentParser) -> None:
    from sketchgen.datagen.export_sketchzooms import CONFIG_ROWS

    parser.add_argument("dataset", metavar="TRIPLETS", help="triplet dataset folder (written by sketchgen triplets)")
    parser.add_argument("--out", required=True, help="SketchZooms' data/ folder (train_net.py reads data/ "
                                                      "relative to where it runs)")
    parser.add_argument("--train-rows", type=whole(0), default=CONFIG_ROWS["train"],
                        help="rows of csv/train.csv: fewer triplets repeat, more are all written shuffled "
                             f"(default {CONFIG_ROWS['train']}, train_net.py's Config; 0: each triplet once)")
    parser.add_argument("--test-rows", type=whole(0), default=CONFIG_ROWS["test"],
                        help=f"rows of csv/test.csv, from the val split (default {CONFIG_ROWS['test']}; 0: each once)")
    parser.add_argument("--width", type=POSITIVE, default=None,
                        help="line width in px of the 512 px views (default: the triplets' width at "
                             "SketchZooms' middle zoom)")


def run(args) -> int:
    from sketchgen.datagen.export_sketchzooms import export_sketchzooms

    c = export_sketchzooms(args.dataset, args.out, train_rows=args.train_rows, test_rows=args.test_rows,
                           width=args.width)
    t, r = c["triplets"], c["rows"]
    print(f"export sketchzooms: {t['train']} train, {t['val']} val, {t['test']} test triplets -> csv/train.csv "
          f"{r['train']} rows, csv/test.csv {r['test']}, csv/heldout.csv {r['heldout']}; {c['views']} views "
          f"({c['views_clipped']} drawn from a zoom's clipped strokes), lines {c['width']:.2f} px -> {args.out}",
          file=sys.stderr)
    for name, split, wanted in (("train", "train", args.train_rows), ("test", "val", args.test_rows)):
        if wanted and t[split] > wanted:
            print(f"  csv/{name}.csv has {r[name]} rows; train_net.py's Config reads the first {wanted}: "
                  f"set {'train_data_n' if name == 'train' else 'val_data_n'} = {r[name]} to read them all",
                  file=sys.stderr)
    empty = [f"csv/{name}.csv (the {split} split)" for name, split in (("train", "train"), ("test", "val"))
             if t[split] == 0]
    for what in empty:  # train_net.py cannot train or validate on no row
        print(f"  error: {what} has no triplet: rebuild the triplets with shapes in that split "
              f"(sketchgen triplets --splits FILE)", file=sys.stderr)
    for failure in c["failures"]:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if c["failures"] or empty else 0
