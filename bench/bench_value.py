"""Learning curve: the demo's descriptor and warp estimator at 1x, 4x and 16x the demo's training steps,
each against every baseline, on the demo's held-out synthetic shapes and on the PSB meshes; the descriptor
also by part-label transfer on SPG's sketches drawn by people (``train.spg``; the categories the bundled
collection covers, their mean; ``--spg-split``, default test), when SPG is at ``--spg`` or beside the
checkout.

Data: the demo's triplet and pair sets (``--demo DIR`` reuses a demo folder's ``data/``; without it they
are built in ``--out`` by the demo's own builder calls), and a pair set of views and deform pairs of the
PSB fixture meshes (``../shared/fixtures/realworld/psb``, or ``--psb``), built by the demo's pair builder;
no run trains on PSB, so every split of that set is evaluated and the splits are pooled (weighted by
points for the descriptor, by pairs for the warp). Runs and evaluations are the demo's own
(``cli.commands.demo.demo_configs``, ``train.evaluate.evaluate_run``), so the bench always measures
what the demo trains.

Budgets: one run per model and budget, each with the demo's settings and its cosine schedule spread over
that budget's steps (learning rate from 1e-3 down to 0 at its last step). The 1x row is then the demo's
own run (taken from ``--demo DIR/runs`` when its settings match, not trained again), and every row is a
finished run of the demo's recipe, only longer. Snapshots of one 16x run would cost 16 budgets instead of
21, but their 1x and 4x models stop mid-schedule at a learning rate near 1e-3, a model no run of the
recipe ends with, so a gain at 16x would mix longer training with the schedule's final decay. Runs resume
(``--out`` keeps them): a second command trains only what is missing.

Prints one table per model and evaluation set (rows budget x method, columns the metrics), the seconds each
part took and the seconds per step of each run; writes everything to ``OUT/value.json`` (per budget: the
pooled figures, each split's counts, per-kind figures, the descriptor's triplet accuracy). Shape Context,
HOG, the untrained network and the identity warp do not depend on the budget (the same rows at every
budget tell that the evaluation drew the same points); the global affine is fitted to the trained
estimator's features, so it moves with it.

    python bench/bench_value.py [--demo out/demo] [--out out/value] [--budgets 1,4,16] [--steps-scale 1]
                                [--threads N] [--device cuda --full-size] [--train-workers N]
                                [--only descriptor|warp]

On a 2-core CPU the default took 4,088 s (68 minutes) with the demo's runs and an earlier command's 4x
runs reused (the 16x runs 1,965 s and 1,869 s): about 85 minutes in all with the 4x runs, measured with
the demo's former 500 descriptor steps; at today's 1,000 the descriptor's budgets double (about two hours).
``--steps-scale 0.02 --budgets 1,2`` is a check of the whole path in a few minutes. ``--full-size`` trains
the SketchZooms descriptor (ResNet-18, 224 px) and PSC's estimator (ResNet-18, 256 px, PSC's blocks)
instead of the demo's small CNNs: for a GPU (``--device cuda``); built here (no ``--demo``), the triplets'
zooms are then drawn at the ResNet-18's 224 px. ``--train-workers`` sets each run's data loader processes
(the demo's 1 starves a GPU; 6 fed an H200, ``bench/gpu.sh``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from sketchgen.cli.commands import demo  # noqa: E402
from sketchgen.cli.commands.eval import warn  # noqa: E402
from sketchgen.errors import InputError, UsageError  # noqa: E402
from sketchgen.files import atomic_write  # noqa: E402
from sketchgen.train.evaluate import evaluate_run  # noqa: E402
from sketchgen.train.config import TrainConfig  # noqa: E402
from sketchgen.train.devices import default_threads  # noqa: E402
from sketchgen.train.loop import train  # noqa: E402
from sketchgen.train.runs import retrain_other_recipe, same_recipe  # noqa: E402
from sketchgen.train.shards import SPLITS  # noqa: E402
from sketchgen.train.spg import DEFAULT_ROOT as SPG_ROOT  # noqa: E402

PSB = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "realworld" / "psb"
COLUMNS = {"descriptor": ["acc@5px", "acc@10px", "acc@20px"], "warp": ["pck@0.05", "pck@0.10", "pck_bbox@0.10"]}
# what a pooled figure is weighted by: the points matched (descriptor), the pairs (warp: two directions each)
WEIGHT = {"descriptor": "anchors", "warp": "pairs"}
FULL_DESCRIPTOR_SIZE = 224  # px: SketchZooms' ResNet-18 input


def parse_budgets(text: str) -> list[float]:
    """'1,4,16' -> [1.0, 4.0, 16.0]: positive multiples of the demo's steps, ascending, no repeats.
    Raises ValueError naming the bad item."""
    out = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"budget {item.strip()!r} is not a number") from None
        if not value > 0:
            raise ValueError(f"budget {item.strip()!r} is not positive")
        out.append(value)
    return sorted(set(out))


def budget_steps(demo_steps: int, budget: float, scale: float = 1.0) -> int:
    """Optimiser steps of a run at ``budget`` times the demo's ``demo_steps``, scaled by ``scale`` (at least 1)."""
    return max(1, round(demo_steps * budget * scale))


def budget_name(budget: float) -> str:
    return f"{budget:g}x"


def pool_splits(parts: list[tuple[dict, float]]) -> dict:
    """Weighted mean of per-split figures: ``parts`` = [({method: {metric: value}}, weight)], e.g. the
    metrics of each split with its points or pairs; returns {method: {metric: value}} over the methods and
    metrics every part has, the methods in the first part's order. A split's acc@d is a fraction of its
    points and its PCK a mean over its pairs, so weighting by those counts gives the figure of all splits
    evaluated as one."""
    total = sum(w for _, w in parts)
    if not parts or total <= 0:
        raise ValueError("nothing to pool: no split with a positive weight")
    methods = [name for name in parts[0][0] if all(name in m for m, _ in parts)]
    return {name: {key: sum(m[name][key] * w for m, w in parts) / total
                   for key in sorted(set.intersection(*(set(m[name]) for m, _ in parts)))}
            for name in methods}


def steps_done(run: Path) -> int:
    """Steps of a run folder's ``last.pt`` (0 when it has none). Raises InputError naming an unreadable one."""
    last = run / "last.pt"
    if not last.is_file():
        return 0
    try:
        return int(torch.load(last, map_location="cpu", weights_only=True)["step"])
    except Exception as exc:  # a truncated or foreign file: one line naming it, not a traceback
        raise InputError(f"{last}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None


def finished_demo_run(run: Path, cfg: TrainConfig) -> bool:
    """Whether the demo's run folder ``run`` is ``cfg`` trained to its last step."""
    try:
        saved = json.loads((run / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return same_recipe(saved, cfg) and (run / "model.pt").is_file() and steps_done(run) == cfg.optim.steps


def full_size(cfg: TrainConfig) -> TrainConfig:
    """The demo's run with the published networks: SketchZooms' ResNet-18 at 224 px, PSC's estimator
    (ResNet-18 at 256 px, full-width blocks of 5 layers; ``size=None``: the estimator's default)."""
    if cfg.model == "descriptor":
        return cfg.with_settings(backbone="resnet18", size=FULL_DESCRIPTOR_SIZE)
    return cfg.with_settings(backbone="resnet18", size=None, stn_width=None, stn_layers=5)


def splits_present(root: Path) -> list[str]:
    """The splits of a dataset that hold shards."""
    return [s for s in SPLITS if any((root / s).glob("*.tar"))]


def format_curve(title: str, model: str, rows: dict[str, dict], steps: dict[str, int],
                 cols: list[str] | None = None) -> str:
    """One table: a row per budget and method, the model's columns (or ``cols``)."""
    cols = cols or COLUMNS[model]
    lines = [title, f"{'budget':<8}{'steps':>7}  {'method':<15}" + "".join(f"{c:>15}" for c in cols)]
    for budget, methods in rows.items():
        for name, vals in methods.items():
            lines.append(f"{budget:<8}{steps[budget]:>7}  {name:<15}"
                         + "".join(f"{vals.get(c, float('nan')):>15.3f}" for c in cols))
    return "\n".join(lines)


class Clock:
    """Seconds of each part of the bench, printed as they end."""

    def __init__(self):
        self.start = time.perf_counter()
        self.parts: dict[str, float] = {}

    def done(self, name: str, t0: float, note: str = "") -> float:
        self.parts[name] = round(time.perf_counter() - t0, 1)
        print(f"value: {name}: {self.parts[name]:.0f} s{note} ({time.perf_counter() - self.start:.0f} s elapsed)",
              file=sys.stderr, flush=True)
        return self.parts[name]


def evaluate_sets(model: str, run: Path, sets: dict, plots: Path, args, details: dict) -> dict:
    """{set: {method: {metric: value}}} of one run on the synthetic test split and every PSB split."""
    out = {}
    for name, (data, splits, pairs) in sets.items():
        parts = []
        for split in splits:
            triplets = args.data / "triplets"
            triplets = str(triplets) if model == "descriptor" and name == "synthetic" and triplets.is_dir() else None
            res = evaluate_run(model, str(run), str(data), plots / name / split, split=split, pairs=pairs[model],
                               triplets=triplets, device=args.device, warn=warn)
            got = res["details"][model]
            parts.append((res["metrics"][model], got[WEIGHT[model]]))
            details.setdefault(name, {})[split] = {"pairs": got["pairs"], "by_kind": got["by_kind"],
                                                   **({"anchors": got["anchors"]} if "anchors" in got else {})}
            if got.get("triplet_accuracy"):
                details["triplet_accuracy"] = got["triplet_accuracy"]
        out[name] = pool_splits(parts)
    return out


def bench_model(model: str, cfg1: TrainConfig, args, sets: dict, clock: Clock) -> dict:
    """Train (or reuse) one run per budget and evaluate each on every set."""
    result: dict = {"runs": {}, "counts": {}, **{name: {} for name in sets}}
    demo_steps = cfg1.optim.steps
    for budget in args.budgets:
        key = budget_name(budget)
        steps = budget_steps(demo_steps, budget, args.steps_scale)
        workers = cfg1.run.workers if args.train_workers is None else args.train_workers
        cfg = cfg1.with_settings(steps=steps, workers=workers,
                                 out=str(args.out / "runs" / f"{model}{'-full' if args.full_size else ''}-{steps}"))
        demo_run = args.demo / "runs" / model if args.demo else None
        info = {"steps": steps}
        if demo_run is not None and finished_demo_run(demo_run, cfg):
            run = demo_run
            info.update(run=str(run), reused_demo_run=True)
            print(f"value: {model} {key}: the demo's run {run} ({steps} steps, same settings)", file=sys.stderr)
        else:
            run = Path(cfg.out)
            retrain_other_recipe(cfg)  # a run of a former recipe in --out is not this budget's run
            before = steps_done(run)
            torch.set_num_threads(args.threads or default_threads())
            t0 = time.perf_counter()
            res = train(cfg)
            trained = res["step"] - before
            s = clock.done(f"train {model} {key}", t0, f" for {trained} steps")
            info.update(run=str(run), reused_demo_run=False, trained_steps=trained, train_s=s,
                        s_per_step=round(s / trained, 4) if trained else None, threads=torch.get_num_threads())
        t0 = time.perf_counter()
        details: dict = {}
        figures = evaluate_sets(model, run, sets, args.out / "plots" / f"{model}-{key}", args, details)
        if model == "descriptor" and args.spg_root:
            # part-label transfer on sketches drawn by people (SPG), the categories the collection covers
            res = evaluate_run(model, str(run), None, args.out / "plots" / f"{model}-{key}" / "spg",
                               spg=args.spg_root, spg_split=args.spg_split, device=args.device, warn=warn)
            result.setdefault("spg", {})[key] = res["metrics"]["descriptor_spg"]
            result["counts"]["spg"] = {c: {k: v[k] for k in ("pairs", "anchors", "sketches")}
                                       for c, v in res["details"]["descriptor_spg"]["categories"].items()}
        info["eval_s"] = clock.done(f"evaluate {model} {key}", t0)
        for name in sets:
            result[name][key] = figures[name]
            result["counts"][name] = {split: {k: v for k, v in d.items() if k != "by_kind"}
                                      for split, d in details[name].items()}
        info["by_kind"] = {name: {split: d["by_kind"] for split, d in details[name].items()} for name in sets}
        if "triplet_accuracy" in details:
            info["triplet_accuracy"] = details["triplet_accuracy"]
        result["runs"][key] = info
    return result


def build_data(args, clock: Clock) -> dict:
    """The evaluation sets {name: (pair set, splits, {model: pairs per split})}, building what is missing."""
    common = [*demo.data_arguments(args.shapes, args.workers, args.seed, args.style), "--no-progress"]
    if args.demo:
        for name in ("triplets", "pairs"):  # the descriptor trains on the triplets, the warp on the pairs
            if not (args.data / name).is_dir():
                raise SystemExit(f"bench_value: {args.data / name}: no {name[:-1]} set "
                                 f"(run sketchgen demo --out {args.demo})")
        print(f"value: the demo's data in {args.data}", file=sys.stderr)
    else:
        t0 = time.perf_counter()
        # full-size: zooms drawn at the ResNet-18's 224 px input, not upsampled from the small CNN's 64
        demo.build_triplets(args.data / "triplets", common, size=FULL_DESCRIPTOR_SIZE if args.full_size
                            else demo.DESCRIPTOR_SIZE)
        demo.build_pairs(args.data / "pairs", common)
        clock.done("build the demo's triplet and pair sets", t0)
    # the demo's evaluation sizes: ``--eval-pairs`` test pairs for the descriptor, three times as many for the warp
    sets = {"synthetic": (args.data / "pairs", ["test"], {"descriptor": args.eval_pairs, "warp": 3 * args.eval_pairs})}
    if args.psb.is_dir():
        t0 = time.perf_counter()
        psb = args.out / "psb-pairs"
        # views and deformed copies only: other-shape pairs would pair a shape with one of its split's
        # partners, so their count would depend on how the fixture's shapes fall into splits
        demo.build_pairs(psb, [*common, "--collection", str(args.psb), "--kinds", "views,deform"])
        clock.done("build the PSB pair set", t0)
        sets["psb"] = (psb, splits_present(psb), {"descriptor": args.psb_pairs, "warp": args.psb_pairs})
    else:
        print(f"value: note: no PSB meshes at {args.psb}: the PSB tables are left out", file=sys.stderr)
    return sets


def main(argv=None) -> int:
    defaults = argparse.ArgumentParser()
    demo.configure(defaults)
    d = defaults.parse_args([])  # the demo's defaults: its steps, shapes, seed, style, evaluation size
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=None,
                    help="a sketchgen demo output folder: its data/ (and runs/ for the 1x budget) are reused")
    ap.add_argument("--out", type=Path, default=Path("out/value"),
                    help="folder for runs, built data, plots and value.json (default %(default)s)")
    ap.add_argument("--budgets", default="1,4,16", help="multiples of the demo's steps (default %(default)s)")
    ap.add_argument("--steps-scale", type=float, default=1.0,
                    help="scale every budget's steps (e.g. 0.02 for a quick check; default 1)")
    ap.add_argument("--only", choices=("descriptor", "warp"), default=None, help="one model only")
    ap.add_argument("--psb", type=Path, default=PSB, help="PSB meshes (default: the shared fixture)")
    ap.add_argument("--psb-pairs", type=int, default=40, help="at most this many PSB pairs per split (default 40)")
    ap.add_argument("--spg", type=Path, default=None,
                    help="SPG's folder (default: ../shared/realdata/spg beside the checkout, when present)")
    ap.add_argument("--spg-split", default="test", choices=("valid", "test"), help="SPG split (default test)")
    ap.add_argument("--eval-pairs", type=int, default=d.eval_pairs,
                    help="synthetic test pairs for the descriptor, x3 for the warp (default: the demo's)")
    ap.add_argument("--shapes", type=int, default=d.shapes, help="shapes per category when building (demo's)")
    ap.add_argument("--workers", type=int, default=d.workers, help="dataset worker processes (default: demo's)")
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--style", default=d.style)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the idle cores)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    ap.add_argument("--train-workers", type=int, default=None,
                    help="data loader processes per run (default: the demo's; more feed a GPU). Another count "
                         "than the demo's changes the sample order, so --demo's 1x run is trained again")
    ap.add_argument("--full-size", action="store_true",
                    help="ResNet-18 at 224 px for the descriptor and PSC's full estimator (for a GPU)")
    args = ap.parse_args(argv)
    try:
        args.budgets = parse_budgets(args.budgets)
    except ValueError as exc:
        ap.error(str(exc))
    if args.steps_scale <= 0:
        ap.error("--steps-scale must be positive")
    args.data = (args.demo / "data") if args.demo else (args.out / "data")
    try:
        args.spg_root = demo.spg_folder(args.spg)
    except InputError as exc:
        ap.error(str(exc))
    if args.spg_root is None:
        print(f"value: note: no SPG sketches at {SPG_ROOT}: the SPG table is left out", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads or default_threads())
    print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; budgets "
          f"{', '.join(map(budget_name, args.budgets))} of the demo's {d.steps_descriptor} descriptor and "
          f"{d.steps_warp} warp steps, x{args.steps_scale:g}{'; full-size networks' if args.full_size else ''}",
          flush=True)
    clock = Clock()
    sets = build_data(args, clock)
    configs = demo.demo_configs(args.data, args.out / "runs", d.steps_descriptor, d.steps_warp,
                                device=args.device, seed=args.seed)
    report: dict = {"settings": {"budgets": args.budgets, "steps_scale": args.steps_scale, "device": args.device,
                                 "full_size": args.full_size, "demo": str(args.demo) if args.demo else None,
                                 "data": str(args.data), "psb": str(args.psb) if "psb" in sets else None,
                                 "spg": args.spg_root, "spg_split": args.spg_split,
                                 "demo_steps": {"descriptor": d.steps_descriptor, "warp": d.steps_warp},
                                 "eval_pairs": {"synthetic": args.eval_pairs, "psb_per_split": args.psb_pairs}}}
    for cfg in configs:
        if args.only and cfg.model != args.only:
            continue
        report[cfg.model] = bench_model(cfg.model, full_size(cfg) if args.full_size else cfg, args, sets, clock)
    report["timings_s"] = {**clock.parts, "total": round(time.perf_counter() - clock.start, 1)}
    atomic_write(args.out / "value.json", json.dumps(report, indent=2, sort_keys=True))

    titles = {"synthetic": "held-out synthetic shapes (the demo's test split)",
              "psb": "PSB meshes, all splits (never trained on)"}
    for model in ("descriptor", "warp"):
        if model not in report:
            continue
        res = report[model]
        steps = {k: v["steps"] for k, v in res["runs"].items()}
        for name in sets:
            counts = res["counts"][name]
            size = ", ".join(f"{s}: {c['pairs']} pairs" + (f", {c['anchors']} points" if c.get("anchors") else "")
                             for s, c in counts.items())
            print()
            print(format_curve(f"{model}, {titles[name]} ({size})", model, res[name], steps))
        if res.get("spg"):
            counts = res["counts"]["spg"]
            cols = [*counts, "mean"]
            size = ", ".join(f"{c}: {v['pairs']} pairs, {v['anchors']} points" for c, v in counts.items())
            print()
            print(format_curve(f"{model}, part-label transfer on SPG {args.spg_split} sketches drawn by people "
                               f"({size})", model, res["spg"], steps, cols))
        for key, info in res["runs"].items():
            trip = info.get("triplet_accuracy")
            how = ("the demo's run" if info["reused_demo_run"] else
                   f"trained {info['trained_steps']} steps in {info['train_s']:.0f} s "
                   f"({info['s_per_step']:.3f} s/step, {info['threads']} threads)" if info["trained_steps"] else
                   f"trained by an earlier command ({info['run']})")
            print(f"{model} {key}: {info['steps']} steps, {how}; evaluated in {info['eval_s']:.0f} s"
                  + (f"; test triplet accuracy {trip['model']:.3f} (untrained {trip['untrained']:.3f})" if trip else ""))
    print()
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in report["timings_s"].items()))
    print(f"figures: {args.out / 'value.json'}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (InputError, UsageError) as exc:  # bad input (a missing GPU, a broken run folder): one line
        print(f"bench_value: {exc}", file=sys.stderr)
        sys.exit(2)
