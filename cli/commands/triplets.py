"""``sketchgen triplets``: SketchZooms triplets (anchor, positive, negative at 3 zooms) as tar shards.

Also holds the options both dataset builders share (``add_common_arguments``, ``run_builder``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sketchgen.cli.options import ANGLE, COUNT, MAX_FACES, NON_NEGATIVE, POSITIVE, SEED, real, whole

HELP = "build a SketchZooms triplet dataset (sharded, resumable, local or Dask workers)"

log = logging.getLogger(__name__)


def add_common_arguments(parser: argparse.ArgumentParser, *, views: int) -> None:
    from sketchgen.datagen.plan import DATASET_WIDTH_PX

    parser.add_argument("--collection", default=None, help="collection path (default: the bundled collection)")
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--seed", type=SEED, default=0, help="global seed (default 0)")
    parser.add_argument("--shapes", type=COUNT, default=None, help="at most N shapes per category")
    parser.add_argument("--splits", type=splits_arg, default=None, metavar="FRACTIONS|FILE",
                        help="train,val,test fractions of the split by shape (default 0.8,0.1,0.1), or a file "
                             "naming shapes' splits ('id split' lines, or JSON {id: split}); others by hash")
    parser.add_argument("--views", type=whole(2), default=views, help=f"views per shape (default {views})")
    parser.add_argument("--elevation", type=real(-90, 90), nargs=2, default=(-10.0, 50.0), metavar=("LOW", "HIGH"),
                        help="camera elevation range, degrees above the shape's horizontal plane, drawn "
                             "uniformly (default -10 50; people draw most objects from near the side: e.g. -5 20)")
    parser.add_argument("--max-faces", type=MAX_FACES, default=None, metavar="N",
                        help="decimate meshes with more than N faces as they load, part by part (as collection "
                             "info --max-faces): a unit then holds at most N faces of each shape")
    parser.add_argument("--workers", type=COUNT, default=1, help="local worker processes (joblib), one GL context each")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (tcp://host:8786): run the units on that cluster")
    parser.add_argument("--shard-index", type=whole(0), default=None, help="this array job's index (0-based)")
    parser.add_argument("--num-shards", type=COUNT, default=None, help="number of array jobs")
    parser.add_argument("--lines", default="contour,boundary,crease", help="line types, comma-separated")
    parser.add_argument("--width", type=POSITIVE, default=DATASET_WIDTH_PX,
                        help=f"stroke width in pixels (default {DATASET_WIDTH_PX:g})")
    parser.add_argument("--style", default="clean",
                        help="drawing style, or a mix drawn per sample: clean, sketchy, clean:0.5,sketchy:0.5 "
                             "(default clean)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--min-confidence", type=real(0, 1), default=0.5, metavar="C",
                        help="cross-shape correspondences below this confidence (0-1) are not used (default 0.5)")
    from sketchgen.cli.commands.collection import add_collection_reading_arguments, add_strict_argument

    add_strict_argument(parser)
    add_collection_reading_arguments(parser)


def splits_arg(text: str):
    """``--splits`` as argparse reads it: fractions or an absolute file path (``plan.parse_splits``)."""
    from sketchgen.datagen.plan import parse_splits

    try:
        return parse_splits(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def collection_arg(value: str | None) -> str | None:
    """Absolute path of a collection (so Dask workers elsewhere find it), or None for the bundled one."""
    return None if value is None else str(Path(value).resolve())


def run_builder(args, *, dataset: str, builder: str, config) -> int:
    from sketchgen.datagen.execute import run_dataset
    from sketchgen.errors import UsageError

    if (args.shard_index is None) != (args.num_shards is None):
        raise UsageError("--shard-index and --num-shards go together")
    if args.num_shards is not None and not 0 <= args.shard_index < args.num_shards:
        raise UsageError(f"need 0 <= --shard-index < --num-shards, got {args.shard_index} and {args.num_shards}")
    summary = run_dataset(dataset=dataset, builder=builder, config=config, out_dir=args.out, workers=args.workers,
                          scheduler=args.scheduler, shard_index=args.shard_index, num_shards=args.num_shards,
                          progress=not args.no_progress)
    where = summary["manifest"] or f"{args.out} (array job {args.shard_index}; run without --shard-index for the manifest)"
    print(f"{dataset}: {summary['samples']} samples in {summary['units']} shards "
          f"({summary['skipped']} already complete) -> {where}", file=sys.stderr)
    print(f"{dataset}: {summary['summary']['line']}", file=sys.stderr)
    splits = summary.get("splits", {})
    if splits and args.shard_index is None:
        print(f"{dataset}: splits " + ", ".join(f"{name} {c['samples']} samples of {c['shapes']} shapes"
                                                 for name, c in splits.items()), file=sys.stderr)
        empty = [name for name, c in splits.items() if c["shapes"] == 0]
        if empty:
            print(f"{dataset}: warning: no shape in the {' and '.join(empty)} split: a small collection's hash split "
                  f"left it empty; --splits FILE (or other fractions) chooses the splits", file=sys.stderr)
    for line in summary["summary"]["declined_lines"]:
        print(f"{dataset}: {line}", file=sys.stderr)
    for err in summary["errors"]:
        print(f"  failed: {err['shape']}: {err['reason']}", file=sys.stderr)
    unread = summary.get("shape_failures", [])
    if unread:
        print(f"  {len(unread)} shape(s) of the collection could not be read and were left out "
              f"(listed in the manifest's failures):", file=sys.stderr)
        for f in unread[:5]:
            print(f"    {f['reason']}", file=sys.stderr)
        if len(unread) > 5:
            print(f"    ... and {len(unread) - 5} more", file=sys.stderr)
    return 1 if summary["errors"] and len(summary["errors"]) == summary["units"] else 0


def shape_options(args) -> dict:
    """The builder config fields of the options every dataset command shares about reading shapes and
    trusting correspondences: min_confidence, labels, up_axis, front_axis."""
    return {"min_confidence": args.min_confidence, "labels": args.labels, "up_axis": args.up_axis,
            "front_axis": args.front_axis}


def drawing_config(args):
    """The ``render.draw.DrawConfig`` of ``--lines`` and ``--width`` (a dataset's style is its mix)."""
    from sketchgen.errors import UsageError
    from sketchgen.render.draw import DrawConfig

    kinds = tuple(k.strip() for k in args.lines.split(",") if k.strip())
    from sketchgen.render.strokes import LINE_TYPES

    bad = [k for k in kinds if k not in LINE_TYPES]
    if bad or not kinds:
        raise UsageError(f"--lines must be among {', '.join(LINE_TYPES)}, got {args.lines!r}")
    return DrawConfig(lines=kinds, width=args.width)


def style_mix(args):
    from sketchgen.datagen.stylemix import parse_style_mix
    from sketchgen.errors import UsageError

    try:
        return parse_style_mix(args.style)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def configure(parser: argparse.ArgumentParser) -> None:
    from sketchgen.render.views import SKETCHZOOMS_Z

    add_common_arguments(parser, views=4)
    parser.add_argument("--points", type=COUNT, default=8, help="anchor points per view (default 8)")
    parser.add_argument("--anchors", choices=("poisson", "keypoints"), default="poisson",
                        help="anchors: Poisson-disk samples on the strokes, or the shape's keypoints")
    parser.add_argument("--other-shape", type=real(0, 1), default=0.5,
                        help="fraction of positives taken from another shape of the category (default 0.5)")
    parser.add_argument("--negatives", default="random,same-part,hard",
                        help="negative strategies to draw from, comma-separated (random, same-part, hard)")
    parser.add_argument("--extra-negatives", default="near:4,other-shape:1",
                        help="more negatives per anchor after the first, as kind:count, comma-separated, among "
                             "near, hard, same-part, random, other-shape ('' for one negative; default %(default)s)")
    parser.add_argument("--near-px", type=NON_NEGATIVE, nargs=2, default=(16.0, 96.0), metavar=("LOW", "HIGH"),
                        help="near negatives lie this many base-view pixels from the positive (default 16 96: "
                             "8-48 px of a 256 px drawing)")
    parser.add_argument("--max-angle", type=ANGLE, default=None,
                        help="positives from a view within this many degrees of the anchor's (default: any view)")
    parser.add_argument("--size", type=whole(16), default=224, help="zoom image size in pixels (default 224)")
    parser.add_argument("--positive-px", type=POSITIVE, default=None,
                        help="positives only from views where the point lies within this many base-view pixels of "
                             "a stroke (default: any view where it is visible)")
    parser.add_argument("--other-same-view", action="store_true",
                        help="other-shape positives from the anchor's own view where the point is seen there, as "
                             "a shapes pair (default: any view --max-angle allows)")
    parser.add_argument("--zoom-jitter", type=real(0, min(SKETCHZOOMS_Z), below=True), default=0.3,
                        help="each role's zoom factors z - u, u ~ U(-J, J) (SketchZooms: 0.3, the default; "
                             "0 draws every role at the evaluation's fixed zooms)")


def view_config(args, **kwargs):
    """The builders' ``ViewConfig`` from ``--views`` and ``--elevation`` (``kwargs``: other fields).
    Raises UsageError for an empty elevation range."""
    from sketchgen.datagen.sketchviews import ViewConfig
    from sketchgen.errors import UsageError

    low, high = (float(v) for v in args.elevation)
    if not low < high:
        raise UsageError(f"--elevation needs LOW < HIGH, got {low:g} {high:g}")
    return ViewConfig(views=args.views, elevation=(low, high), **kwargs)


def run(args) -> int:
    from sketchgen.datagen.negatives import parse_counts
    from sketchgen.datagen.triplets import TripletConfig
    from sketchgen.errors import UsageError

    try:
        config = TripletConfig(
            collection=collection_arg(args.collection), seed=args.seed, shapes=args.shapes, splits=args.splits, strict=args.strict,
            max_faces=args.max_faces, camera=view_config(args), drawing=drawing_config(args), points=args.points,
            anchors=args.anchors, size=args.size, other_shape=args.other_shape,
            negatives=tuple(n.strip() for n in args.negatives.split(",") if n.strip()),
            extra_negatives=parse_counts(args.extra_negatives), near_px=tuple(args.near_px),
            max_angle_deg=args.max_angle, zoom_jitter=args.zoom_jitter, positive_px=args.positive_px,
            other_same_view=args.other_same_view, style=style_mix(args), **shape_options(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return run_builder(args, dataset="triplets", builder="sketchgen.datagen.triplets", config=config)
