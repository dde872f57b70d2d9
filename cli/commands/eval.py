"""``sketchgen eval descriptor|warp --run RUN --data DIR --out OUT``: metrics on held-out shapes.

descriptor: matching accuracy acc@d px on the sketch-sketch pairs of ``--split`` (default test) of a
pair dataset, against Shape Context, HOG and the untrained network. warp: PCK@0.05/0.10 (image size and
keypoint bounding box) against the identity warp and the best global affine; ``--psc6k PATH`` adds the
real PSC6k benchmark from a local copy. Writes OUT/metrics.json ({"descriptor": {method: metrics}} or
{"warp": ...}), OUT/details.json (curves, counts, per-kind figures) and a PNG plot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sketchgen.cli.options import COUNT, THREADS

HELP = "evaluate a trained descriptor or warp estimator against the baselines (JSON + PNG plot)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=("descriptor", "warp"), help="which kind of run to evaluate")
    parser.add_argument("--run", required=True, help="training run folder (from sketchgen train)")
    parser.add_argument("--data", default=None, help="pair dataset folder (its --split is evaluated)")
    parser.add_argument("--out", required=True, help="output folder for metrics.json, details.json, plots")
    parser.add_argument("--split", default="test",
                        help="split to evaluate (default test: held-out shapes; SPG's valid or test with --spg)")
    parser.add_argument("--spg", default=None,
                        help="descriptor: SPG's folder (sketches drawn by people, part-labelled): part-label "
                             "transfer on its --split (valid or test)")
    parser.add_argument("--categories", nargs="+", default=None,
                        help="descriptor, with --spg: SPG categories (default: those the run's collection covers)")
    parser.add_argument("--pairs", type=COUNT, default=40, help="at most this many pairs (default 40)")
    parser.add_argument("--triplets", default=None,
                        help="descriptor: triplet set for triplet accuracy (default: the run's training data, "
                             "when that is a triplet set)")
    parser.add_argument("--psc6k", default=None, help="warp: PSC6k test CSV (or folder with test_pairs_ps.csv)")
    parser.add_argument("--psc6k-images", default=None, help="PSC6k image root (default: the CSV's folder)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--threads", type=THREADS, default=None, help="torch CPU threads (default: the idle cores)")


def format_table(metrics: dict, keys: dict[str, list[str]] | None = None) -> str:
    """Plain-text table: one row per (model, method), the given metric columns."""
    keys = keys or {"descriptor": ["acc@3px", "acc@5px", "acc@10px", "acc@20px"],
                    "warp": ["pck@0.05", "pck@0.10", "pck_bbox@0.05", "pck_bbox@0.10"]}
    keys.setdefault("warp_psc6k", keys.get("warp"))
    lines = []
    for part, methods in metrics.items():
        cols = keys.get(part) or sorted({k for m in methods.values() for k in m})
        lines.append(f"{part:<12}{'method':<15}" + "".join(f"{c:>15}" for c in cols))
        for name, vals in methods.items():
            lines.append(f"{'':<12}{name:<15}" + "".join(f"{vals.get(c, float('nan')):>15.3f}" for c in cols))
    return "\n".join(lines)


def describe_triplets(trip: dict, split: str) -> str:
    return (f"triplet accuracy on the {split} triplets (anchor nearer its positive than every negative; "
            f"{trip['triplets']} triplets): model {trip['model']:.3f}, untrained {trip['untrained']:.3f}")


def describe_spg(spg: dict) -> str:
    """One line on the part-label transfer: which sketches, and the model's lead over the best hand-made
    descriptor on the mean and in each category."""
    methods = spg["methods"]
    cats = [c for c in methods["model"] if c != "mean"]
    lead = {c: methods["model"][c] - max(methods["shape_context"][c], methods["hog"][c]) for c in [*cats, "mean"]}
    anchors = sum(v["anchors"] for v in spg["categories"].values())
    return (f"part-label transfer on SPG {spg['split']} ({', '.join(cats)}; {anchors} points): model "
            f"{lead['mean']:+.3f} over the best hand-made descriptor on the mean ("
            + ", ".join(f"{c} {lead[c]:+.3f}" for c in cats) + ")")


def warn(message: str) -> None:
    """The warnings of an evaluation, one line on stderr."""
    print(f"eval: warning: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import torch

    from sketchgen.errors import InputError
    from sketchgen.train.evaluate import evaluate_run, write_json
    from sketchgen.train.devices import default_threads

    torch.set_num_threads(args.threads or default_threads())

    out = Path(args.out)
    if args.model != "descriptor" and (args.spg or args.categories):
        raise InputError("--spg and --categories evaluate a descriptor, not a warp estimator")
    # one --split names both sets: SPG calls its validation split "valid", the pair sets "val"
    split = {"valid": "val"}.get(args.split, args.split) if args.data else args.split
    res = evaluate_run(args.model, args.run, args.data, out, split=split, pairs=args.pairs,
                       psc6k=args.psc6k, psc6k_images=args.psc6k_images, triplets=args.triplets,
                       device=args.device, spg=args.spg, spg_split=args.split, spg_categories=args.categories,
                       warn=warn)
    write_json(res["metrics"], out / "metrics.json")
    write_json(res["details"], out / "details.json")
    print(format_table(res["metrics"]))
    spg = res["details"].get("descriptor_spg")
    if spg:
        print(describe_spg(spg))
    trip = res["details"].get("descriptor", {}).get("triplet_accuracy")
    if trip:
        print(describe_triplets(trip, args.split))
    trip = res["details"].get("descriptor", {}).get("triplet_accuracy_train")
    if trip:
        print(describe_triplets(trip, "train"))
    print(f"metrics: {out / 'metrics.json'}; plots in {out}/")
    return 0
