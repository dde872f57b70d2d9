"""``sketchgen pairs``: warp-pretraining pairs (images A and B, dense flow, masks, keypoints) as tar shards."""

from __future__ import annotations

import argparse
from dataclasses import replace

from sketchgen.cli.commands.triplets import (add_common_arguments, collection_arg, drawing_config, run_builder,
                                             shape_options, style_mix, view_config)
from sketchgen.cli.options import ANGLE, COUNT, whole

HELP = "build a warp-pretraining pair dataset with dense flow (sharded, resumable, local or Dask workers)"


def configure(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser, views=6)
    parser.add_argument("--pairs", type=COUNT, default=8, help="pairs per shape (default 8)")
    parser.add_argument("--kinds", default="views,shapes,deform",
                        help="pair kinds to draw from, comma-separated (views, shapes, deform)")
    parser.add_argument("--modalities", default="sketch-sketch,sketch-shaded",
                        help="modalities to draw from, comma-separated (sketch-sketch, sketch-shaded)")
    parser.add_argument("--size", type=whole(16), default=256, help="image size in pixels (default 256)")
    parser.add_argument("--max-angle", type=ANGLE, default=60.0,
                        help="views and shapes pairs: largest angle between the two views, degrees; a pair with "
                             "no view that near is not made, and counted (default 60)")
    parser.add_argument("--shading", choices=("photo", "gbuffer", "pyrender"), default="photo",
                        help="the shaded side: a photo-like render (materials, textures, shadows, ground, "
                             "background; default), or a clay render: numpy Blinn-Phong (gbuffer) or pyrender PBR")
    parser.add_argument("--materials", choices=("own", "random"), default="own",
                        help="photo: the mesh files' own materials and textures where they have them (default), "
                             "or random materials per part always")
    parser.add_argument("--backgrounds", metavar="DIR", default=None,
                        help="photo: a folder of background photos (default: procedural studio backgrounds)")
    parser.add_argument("--export-psc", metavar="DIR", default=None,
                        help="after building, also run `sketchgen export psc` into DIR (the PSC6k CSV layout)")


def run(args) -> int:
    from sketchgen.datagen.pairs import PairConfig
    from sketchgen.render.shading import ShadeConfig
    from sketchgen.errors import UsageError

    def items(text):
        return tuple(t.strip() for t in text.split(",") if t.strip())

    shading = ShadeConfig(renderer=args.shading, materials=args.materials)
    if args.backgrounds is not None:
        import sys

        from sketchgen.datagen.backgrounds import scan_backgrounds

        scan = scan_backgrounds(args.backgrounds)  # InputError (one line) when none is readable
        if scan.report():
            print(f"warning: {scan.report()}", file=sys.stderr)
        shading = replace(shading, backgrounds=scan.folder, background_files=scan.files,
                          backgrounds_sha256=scan.sha256)
    try:
        config = PairConfig(
            collection=collection_arg(args.collection), seed=args.seed, shapes=args.shapes, splits=args.splits, strict=args.strict,
            max_faces=args.max_faces, camera=view_config(args, size=args.size), drawing=drawing_config(args), pairs=args.pairs,
            kinds=items(args.kinds), modalities=items(args.modalities), max_angle_deg=args.max_angle,
            shading=shading, style=style_mix(args), **shape_options(args))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    code = run_builder(args, dataset="pairs", builder="sketchgen.datagen.pairs", config=config)
    if args.export_psc and args.shard_index is None:
        from sketchgen.cli.commands.export_psc import export

        code = max(code, export(args.out, args.export_psc))
    return code
