"""Throughput of the dataset builders and of ``sketchgen draw`` on real meshes, against another checkout,
as ratios of CPU time measured side by side in one run.

Each measurement runs in a fresh process of each checkout's own interpreter (``<checkout>/.venv``, this
file given to it by path, so both run the same measuring code against their own ``sketchgen``), the two
checkouts alternating within every repeat so a change in the machine's load hits both alike. Figures are
CPU time (``time.process_time`` of the process plus the CPU time of its waited-for children), not wall
time: on a shared machine other work inflates wall time, much less CPU time. Each figure is the median
over ``--repeats``; the ratio is this checkout's against the other's.

Cases (``--only`` picks some):
- ``pairs-psb``, ``triplets-psb``: ``run_dataset`` with one local worker and default settings on the PSB
  fixture meshes (``../shared/fixtures/realworld/psb``: 10 meshes, 10-30k faces), from a cold
  registration/shape cache (a fresh ``SKETCHGEN_CACHE`` per run): samples per CPU second of the run
  (after imports; collection loading and indexing included, as a user's first run pays them);
- ``triplets-bundled``: the same on the bundled collection (``--shapes`` per category), and the shard
  bytes per triplet (tar files over samples);
- ``pairs-psb-warm``, ``triplets-psb-warm``: the PSB runs timed on a second run of the same command in
  the same process and cache (converted shapes, the index and registrations kept from the first), as a
  later dataset on the same collection (or a resumed or extended run) meets them;
- ``draw-psb``, ``draw-ogre``: ``sketchgen draw`` (the command, in process, after a one-view warm-up)
  with 4 and then 28 cameras (Fibonacci views of the mesh's bounding sphere, 256 x 256): marginal CPU
  time per view, (T28 - T4) / 24,
  on a PSB mesh and on ``../shared/corpus/meshes/ogre.obj`` (124k faces).

    python bench/bench_speed.py --base /tmp/base718 [--repeats 3] [--only pairs-psb,draw-ogre]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
# the shared data beside the checkout (``--shared`` or $SKETCHGEN_SHARED elsewhere)
SHARED = Path(os.environ.get("SKETCHGEN_SHARED", HERE.parents[1] / ".." / "shared"))
PSB = SHARED / "fixtures" / "realworld" / "psb"
OGRE = SHARED / "corpus" / "meshes" / "ogre.obj"
CASES = ("pairs-psb", "triplets-psb", "triplets-bundled", "draw-psb", "draw-ogre", "pairs-psb-warm",
         "triplets-psb-warm")
DEFAULT_CASES = CASES[:5]
LAST_VIEWS = 28  # draw: marginal CPU per view = (T(28 views) - T(4 views)) / 24, each a whole command


def _cpu() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


# ------------------------------------------------------------------------------------------- child side
def _dataset(case: str, shapes: int, work: Path) -> dict:
    from sketchgen.datagen.execute import run_dataset

    kind = "pairs" if case.startswith("pairs") else "triplets"
    collection = None if case.endswith("bundled") else str(PSB)
    warm = case.endswith("-warm")
    if kind == "pairs":
        from sketchgen.datagen.pairs import PairConfig

        config = PairConfig(collection=collection, seed=0)
    else:
        from sketchgen.datagen.triplets import TripletConfig

        config = TripletConfig(collection=collection, seed=0, shapes=shapes if collection is None else None)
    if warm:  # the same run once before, untimed: converted shapes, index and registrations cached
        run_dataset(dataset=kind, builder=f"sketchgen.datagen.{kind}", config=config, out_dir=work / "first",
                    progress=False)
    out = work / "out"
    c0 = _cpu()
    summary = run_dataset(dataset=kind, builder=f"sketchgen.datagen.{kind}", config=config, out_dir=out,
                          progress=False)
    cpu = _cpu() - c0
    size = sum(p.stat().st_size for p in out.glob("*/*.tar"))
    return {"samples": summary["samples"], "cpu": cpu, "bytes": size}


def _draw(case: str, work: Path) -> dict:
    import numpy as np
    import trimesh

    try:
        from sketchgen.cli import main as cli
    except ImportError:  # a checkout from before the CLI had its own package (the base, 718a986)
        import importlib

        cli = importlib.import_module("sketchgen.datagen.cli").main

    mesh_path = sorted(PSB.glob("chair/*.off"))[0] if case == "draw-psb" else OGRE
    mesh = trimesh.load(mesh_path, force="mesh", process=False)
    centre = mesh.bounding_sphere.primitive.center
    radius = float(mesh.bounding_sphere.primitive.radius)
    golden = np.pi * (3.0 - np.sqrt(5.0))
    cpus = {}
    for n in (1, 4, LAST_VIEWS):  # 1: a warm-up (first-call imports and caches), not counted
        cams = []
        for k in range(n):
            z = 1.0 - 2.0 * (k + 0.5) / n
            r = np.sqrt(1.0 - z * z)
            d = np.array([r * np.cos(golden * k), z, r * np.sin(golden * k)])
            cams.append({"position": (centre + 3.0 * radius * d).tolist(), "look_at": centre.tolist(),
                         "up": [0.0, 1.0, 0.0] if abs(d[1]) < 0.99 else [1.0, 0.0, 0.0], "yfov_deg": 40.0,
                         "width": 256, "height": 256})
        cam_file = work / f"cams{n}.json"
        cam_file.write_text(json.dumps(cams))
        c0 = _cpu()
        code = cli(["draw", str(mesh_path), "--camera", str(cam_file), "--out", str(work / f"d{n}" / "v.png")])
        cpus[n] = _cpu() - c0
        assert code == 0, code
    return {"marginal": (cpus[LAST_VIEWS] - cpus[4]) / (LAST_VIEWS - 4), "cpu4": cpus[4], "cpu_last": cpus[LAST_VIEWS]}


def child(case: str, shapes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["SKETCHGEN_CACHE"] = str(work / "cache")  # cold caches: a first run
        result = _draw(case, work) if case.startswith("draw") else _dataset(case, shapes, work)
    print("RESULT " + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------ parent side
def run_child(checkout: Path, case: str, shapes: int) -> dict:
    python = checkout / ".venv" / "bin" / "python"
    proc = subprocess.run([str(python), str(HERE), "--child", case, "--shapes", str(shapes)], cwd=checkout,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"bench: {case} in {checkout} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, help="the other checkout (with its own .venv)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shapes", type=int, default=1, help="bundled shapes per category (default 1: 5 shapes)")
    ap.add_argument("--only", default=",".join(DEFAULT_CASES),
                    help=f"comma-separated among {', '.join(CASES)} (default: the first five)")
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (default: beside the checkout)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    global PSB, OGRE
    os.environ["SKETCHGEN_SHARED"] = str(args.shared.resolve())  # for the children
    PSB = args.shared / "fixtures" / "realworld" / "psb"
    OGRE = args.shared / "corpus" / "meshes" / "ogre.obj"
    if args.child:
        child(args.child, args.shapes)
        return 0
    if args.base is None:
        ap.error("--base is required")
    if not PSB.is_dir() or not OGRE.is_file():
        ap.error(f"no PSB meshes at {PSB} or no {OGRE} (--shared)")
    cases = [c.strip() for c in args.only.split(",") if c.strip()]
    bad = [c for c in cases if c not in CASES]
    if bad:
        ap.error(f"unknown case(s) {', '.join(bad)}")
    ours = HERE.parents[1]
    checkouts = {"this": ours, "base": args.base.resolve()}
    print(f"this: {ours}; base: {checkouts['base']}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
          flush=True)
    for case in cases:
        got: dict[str, list[dict]] = {"this": [], "base": []}
        for r in range(args.repeats):
            order = ("base", "this") if r % 2 == 0 else ("this", "base")
            for name in order:
                got[name].append(run_child(checkouts[name], case, args.shapes))
        if case.startswith("draw"):
            per_view = {n: statistics.median(g["marginal"] for g in got[n]) for n in got}
            print(f"{case}: marginal CPU per view: base {1e3 * per_view['base']:.1f} ms, this "
                  f"{1e3 * per_view['this']:.1f} ms: {per_view['base'] / per_view['this']:.2f}x faster "
                  f"(runs: base {[round(1e3 * g['marginal'], 1) for g in got['base']]}, this "
                  f"{[round(1e3 * g['marginal'], 1) for g in got['this']]} ms)", flush=True)
            continue
        rate = {n: statistics.median(g["samples"] / g["cpu"] for g in got[n]) for n in got}
        print(f"{case}: samples per CPU second: base {rate['base']:.2f}, this {rate['this']:.2f}: "
              f"{rate['this'] / rate['base']:.2f}x ({got['this'][0]['samples']} and {got['base'][0]['samples']} "
              f"samples a run)", flush=True)
        if case.startswith("triplets"):
            size = {n: statistics.median(g["bytes"] / g["samples"] for g in got[n]) for n in got}
            print(f"{case}: shard bytes per triplet: base {size['base'] / 1e3:.1f} kB, this {size['this'] / 1e3:.1f} kB: "
                  f"{size['this'] / size['base']:.3f} of base", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
