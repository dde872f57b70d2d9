"""``sketchgen demo --out DIR`` (what ``make demo`` runs): the whole story on the bundled collection.

1. a gallery of drawings (PNG, SVG, contact sheet);
2. a small SketchZooms triplet set and a small pair set (``sketchgen triplets`` / ``pairs``), split by
   shape, with contact-sheet previews;
3. both models trained briefly on the train split (the small CNN backbone on a CPU): the descriptor on
   the triplet set (InfoNCE at temperature 0.1: each anchor against every positive and every stored
   negative of the batch, 16 triplets of 6 negatives each, 4 of them strokes 8-48 px of a 256 px drawing
   from the positive; 12 views per shape, 24 anchors per view; 600 steps, cosine learning rate from 1e-3,
   no rotation/flip augmentation); the warp estimator
   on the pair set (its first block starting from the soft argmax of its features, far matches
   penalised, cosine learning rate from 2e-3);
4. both evaluated on the test split's shapes, which training never saw, against the baselines (the
   descriptor also by triplet accuracy on the test triplets): a table printed, ``DIR/metrics.json`` =
   ``{"descriptor": {"model": {"acc@10px": ..}, "shape_context": .., "hog": .., "untrained": ..}, "warp":
   {"model": {"pck@0.05": .., "pck@0.10": .., ..}, "identity": .., "affine": ..}}``, ``DIR/details.json``
   (curves, counts, per-kind figures), plots and previews. Each run's ``config.json`` records what it
   trained on (``data_kind``: "triplets" for the descriptor).

About 15 minutes on a 2-core CPU (each stage prints its wall and CPU time); ``--steps-descriptor`` /
``--steps-warp`` / ``--shapes`` trade learning for time. How the recipe was chosen and what the time goes
to: ``docs/experiments.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sketchgen.cli.options import COUNT, SEED, THREADS

if TYPE_CHECKING:  # torch is imported when a command runs, not when the CLI lists its commands
    from sketchgen.train.config import TrainConfig

DESCRIPTOR_SIZE = 64  # px: the small CNN's input on a CPU
# on SPG: the model against the hand-made descriptors and chance; the untrained network (as many network
# evaluations again as the model) is left to `sketchgen eval descriptor --spg`
SPG_METHODS = ("model", "shape_context", "hog")
HELP = "run the whole story on the bundled collection: data, training, evaluation, plots"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default %(default)s)")
    parser.add_argument("--shapes", type=COUNT, default=12, help="shapes per category (default 12: all bundled)")
    parser.add_argument("--workers", type=COUNT, default=2, help="dataset worker processes (default 2)")
    parser.add_argument("--steps-descriptor", type=COUNT, default=600, help="descriptor steps (default 600)")
    parser.add_argument("--steps-warp", type=COUNT, default=400, help="warp estimator steps (default 400)")
    parser.add_argument("--eval-pairs", type=COUNT, default=20, help="test pairs for the descriptor (x3 for the warp; default 20)")
    parser.add_argument("--seed", type=SEED, default=0, help="seed of data and training (default 0)")
    parser.add_argument("--style", default="clean",
                        help="drawing style of both datasets, or a mix: clean:0.5,sketchy:0.5 (default clean)")
    parser.add_argument("--threads", type=THREADS, default=None,
                        help="torch CPU threads (default: the cores not already busy)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--spg", type=Path, default=None,
                        help="SPG's folder (sketches drawn by people): the descriptor is also measured by "
                             "part-label transfer on its test split (default: ../shared/realdata/spg beside "
                             "the checkout, when present)")


def _stage(name: str, t0: float) -> None:
    """One progress line: the stage, the wall time since ``t0`` and the CPU time of the demo and of its
    finished worker processes (what a busy machine does not inflate)."""
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() + child.ru_utime + child.ru_stime
    print(f"demo: {name} ({time.perf_counter() - t0:.0f} s elapsed, {cpu:.0f} s of CPU)", file=sys.stderr,
          flush=True)


def run(args: argparse.Namespace) -> int:
    import torch

    from sketchgen.cli import main as cli
    from sketchgen.cli.commands.eval import describe_spg, describe_triplets, format_table, warn
    from sketchgen.train.evaluate import evaluate_run, write_json
    from sketchgen.train.devices import default_threads
    from sketchgen.train.loop import train
    from sketchgen.train.runs import retrain_other_recipe
    from sketchgen.train.spg import DEFAULT_ROOT

    t0 = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads or default_threads())

    try:
        from sketchgen.cli.gallery import draw_gallery

        sheet = draw_gallery(out / "gallery", seed=args.seed)
        _stage(f"gallery: {sheet}", t0)
    except ImportError:  # the gallery is a nicety; the story below does not need it
        pass

    data = out / "data"
    common = data_arguments(args.shapes, args.workers, args.seed, args.style)
    build_triplets(data / "triplets", common)
    _stage("triplet set built", t0)
    build_pairs(data / "pairs", common)
    _stage("pair set built", t0)
    previews = out / "previews"
    for name in ("triplets", "pairs"):
        cli(["preview", str(data / name), "--out", str(previews / f"{name}.png"), "--samples", "8"])
    _stage(f"previews in {previews}/", t0)

    runs = out / "runs"
    desc_cfg, warp_cfg = demo_configs(data, runs, args.steps_descriptor, args.steps_warp, device=args.device,
                                      seed=args.seed)
    for cfg in (desc_cfg, warp_cfg):
        retrain_other_recipe(cfg)
    # threads are chosen when each model starts training, after the dataset builders' workers have ended
    torch.set_num_threads(args.threads or default_threads())
    res = train(desc_cfg)
    _stage(f"descriptor trained: {res['step']} steps, last loss {res['loss']:.3f}", t0)
    torch.set_num_threads(args.threads or default_threads())
    res = train(warp_cfg)
    _stage(f"warp estimator trained: {res['step']} steps, last loss {res['loss']:.3f}", t0)

    plots = out / "plots"
    spg = spg_folder(args.spg)
    desc = evaluate_run("descriptor", str(runs / "descriptor"), str(data / "pairs"), plots, pairs=args.eval_pairs,
                        triplets=str(data / "triplets"), device=args.device, spg=spg, spg_split="test",
                        spg_methods=SPG_METHODS, warn=warn)
    _stage("descriptor evaluated" + (" (and on SPG's test sketches)" if spg else ""), t0)
    warp = evaluate_run("warp", str(runs / "warp"), str(data / "pairs"), plots, pairs=3 * args.eval_pairs,
                        device=args.device, warn=warn)
    _stage("warp estimator evaluated", t0)
    metrics = {**desc["metrics"], "warp": warp["metrics"]["warp"]}
    write_json(metrics, out / "metrics.json")
    write_json({**desc["details"], **warp["details"]}, out / "details.json")
    _write_warp_examples(runs / "warp", data / "pairs", previews / "warp_examples.png", args.device)

    print(format_table(metrics))
    if spg:
        print(describe_spg(desc["details"]["descriptor_spg"]))
    else:
        print(f"no SPG sketches at {args.spg or DEFAULT_ROOT}: part-label transfer on drawings by people left out")
    trip = desc["details"]["descriptor"].get("triplet_accuracy")
    if trip:
        print(describe_triplets(trip, "test"))
    trip = desc["details"]["descriptor"].get("triplet_accuracy_train")
    if trip:
        print(describe_triplets(trip, "train"))
    print(f"demo finished in {time.perf_counter() - t0:.0f} s: metrics {out / 'metrics.json'}, plots {plots}/, "
          f"previews {previews}/, models {runs}/")
    return 0


def spg_folder(given: Path | None) -> str | None:
    """The SPG folder the demo measures on: ``given`` (an error when it holds no SPG test file), else the
    one beside the checkout when present, else None."""
    from sketchgen.errors import InputError
    from sketchgen.train.spg import DEFAULT_ROOT, categories_in

    if given is not None:
        if not categories_in(given, "test"):
            raise InputError(f"{given}: no SPG test sketches (expected spg256/<category>_test.ndjson)")
        return str(given)
    return str(DEFAULT_ROOT) if categories_in(DEFAULT_ROOT, "test") else None


def data_arguments(shapes: int, workers: int, seed: int, style: str) -> list[str]:
    """The dataset builders' arguments the demo's triplet and pair sets share."""
    return ["--shapes", str(shapes), "--workers", str(workers), "--seed", str(seed), "--style", style]


def build_triplets(out: Path, common: list[str], size: int = DESCRIPTOR_SIZE) -> None:
    """The demo's triplet set (``sketchgen triplets --preset demo``, ``cli/presets/triplets-demo.toml``)
    in ``out``, its zooms drawn for a descriptor of input ``size`` px (the preset's 64; 224 for SketchZooms'
    ResNet-18, with the stroke width ``point_drawing`` gives). Raises UsageError when the build fails."""
    from sketchgen.cli import main as cli
    from sketchgen.errors import UsageError
    from sketchgen.train.zooms import point_drawing

    sized = []
    if size != DESCRIPTOR_SIZE:
        native, width = point_drawing(size)
        sized = ["--size", str(native), "--width", f"{width:.6f}"]
    if cli(["triplets", "--preset", "demo", "--out", str(out), *sized, *common]) != 0:
        raise UsageError("building the triplet set failed (see above)")


def build_pairs(out: Path, common: list[str]) -> None:
    """The demo's pair set (``sketchgen pairs --preset demo``) in ``out``; ``common`` may add builder options
    (another ``--collection``, ``--kinds``). Raises UsageError when the build fails."""
    from sketchgen.cli import main as cli
    from sketchgen.errors import UsageError

    if cli(["pairs", "--preset", "demo", "--out", str(out), *common]) != 0:
        raise UsageError("building the pair set failed (see above)")


def demo_configs(data: Path, runs: Path, steps_descriptor: int, steps_warp: int, *, device: str,
                 seed: int) -> tuple[TrainConfig, TrainConfig]:
    """The demo's two TrainConfigs, from the presets ``train --preset demo-descriptor`` and ``demo-warp``
    (``cli/presets/train-demo-*.toml``): the descriptor trained on ``data/triplets``, the warp
    estimator on ``data/pairs``, writing to ``runs/descriptor`` and ``runs/warp``."""
    from sketchgen.cli import resolve
    from sketchgen.cli.commands.train import config_from_args

    def preset(model: str, dataset: str, steps: int) -> TrainConfig:
        return config_from_args(resolve(["train", "--preset", f"demo-{model}", "--data", str(data / dataset),
                                         "--out", str(runs / model), "--steps", str(steps), "--device", device,
                                         "--seed", str(seed)]))

    return preset("descriptor", "triplets", steps_descriptor), preset("warp", "pairs", steps_warp)


def _write_warp_examples(run: Path, pairs: Path, path: Path, device: str, n: int = 4) -> None:
    """A, B and B with A's keypoints carried over by the estimator (red) beside the truth (green)."""
    import cv2
    import numpy as np
    import torch

    from sketchgen.train.evaluate import decode_resized, iter_pairs, pair_keypoints_or_flow
    from sketchgen.train.runs import load_run
    from sketchgen.train.plots import write_png
    from sketchgen.train.warp import sample_grid_at

    model, cfg = load_run(run, device)
    rng = np.random.default_rng(0)
    rows = []
    size = cfg.network.size
    for pair in iter_pairs(pairs, "test", limit=n):
        p = decode_resized(pair, size)
        kp_a, kp_b = pair_keypoints_or_flow(p, rng)
        a = torch.from_numpy(p["a"])[None, None].to(device)
        b = torch.from_numpy(p["b"])[None, None].to(device)
        with torch.no_grad():
            grid = model(b, a)[-1].cpu()
        pred = sample_grid_at(grid, torch.as_tensor(kp_a, dtype=torch.float32)[None], size, size)[0].numpy()
        tiles = [cv2.cvtColor(p[k], cv2.COLOR_GRAY2BGR) for k in ("a_grey", "b_grey", "b_grey")]
        for (xa, ya), (xb, yb), (xp, yp) in zip(kp_a, kp_b, pred):
            cv2.circle(tiles[0], (int(xa), int(ya)), 3, (0, 160, 0), -1)
            cv2.circle(tiles[2], (int(xb), int(yb)), 3, (0, 160, 0), -1)
            cv2.line(tiles[2], (int(xb), int(yb)), (int(xp), int(yp)), (0, 0, 220), 1, cv2.LINE_AA)
            cv2.circle(tiles[2], (int(xp), int(yp)), 3, (0, 0, 220), 1, cv2.LINE_AA)
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=128) for t in tiles], 1))
    if rows:
        write_png(np.concatenate(rows, 0), path)
