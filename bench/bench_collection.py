"""A real collection at scale: index time, a one-unit array job, peak memory, triplets/s and pairs/s.

Builds a collection of ``--copies`` x the 10 Princeton Segmentation Benchmark meshes of
``shared/fixtures/realworld/psb`` (10-30k faces, each with its ``.seg``) as symbolic links in a
temporary folder (2,000 meshes by default), with an empty sketchgen cache, and measures, each command
in a fresh process:

1. the first index pass (``ingest.index.collection_index``): seconds per shape, meshes converted;
2. the same command again: whether it skipped the index pass (shapes indexed again, seconds);
3. a one-unit array job, ``sketchgen triplets --shard-index 0 --num-shards N``: seconds from start
   to its finished shard, and its peak memory (driver = worker: one process);
4. ``sketchgen triplets`` and ``sketchgen pairs`` on ``--shapes`` shapes per category of the whole
   collection with 1 and 2 workers: samples/s, the driver's peak memory and the largest worker's.

    python bench/bench_collection.py [--copies 200] [--shapes 2] [--keep DIR]

Targets on a 2-core machine: the one-unit job finishes within 20 s whatever the collection's size;
a worker's peak memory stays under 1 GB; the second command skips the index pass. Peak memory is
``ru_maxrss`` (of the process itself, and of its largest reaped child for the workers).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PSB = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "realworld" / "psb"

# run in a fresh interpreter: one command, then its own and its children's peak memory as JSON
CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
what = sys.argv[1]
from sketchgen.cli import main
from sketchgen.ingest import index
imported = time.perf_counter()
if what == "index":
    built = index.collection_index(sys.argv[2])
    out = {"shapes": len(built), "rebuilt": built.rebuilt, "failures": len(built.failures),
           "converted": index.LOAD_COUNT["converted"], "where": built.where}
else:
    out = {"rc": main(sys.argv[2:])}
out["seconds"] = time.perf_counter() - start
out["work_seconds"] = time.perf_counter() - imported
# end the local workers (joblib's reusable pool) so their peak memory is counted among the children
from joblib.externals.loky import reusable_executor
if getattr(reusable_executor, "_executor", None) is not None:
    reusable_executor._executor.shutdown(wait=True)
out["self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("BENCH " + json.dumps(out))
"""


def make_collection(root: Path, copies: int) -> int:
    """``copies`` links to each PSB mesh and its labels, as ``<category>/<n>_<k>.off``."""
    count = 0
    for off in sorted(PSB.glob("*/*.off")):
        category = root / off.parent.name
        category.mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            stem = f"{off.stem}_{k:04d}"
            (category / f"{stem}.off").symlink_to(off.resolve())
            (category / f"{stem}.seg").symlink_to(off.with_suffix(".seg").resolve())
            count += 1
    return count


def child(env: dict, *args: str) -> dict:
    """Run one command in a fresh interpreter; its figures, with the wall time seen from outside."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"bench: {' '.join(args[:2])} failed (exit {proc.returncode})")
    out = json.loads(lines[-1][6:])
    out["wall"] = wall
    out["stderr"] = proc.stderr
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=200, help="links per PSB mesh (default 200: 2,000 meshes)")
    parser.add_argument("--shapes", type=int, default=3, help="shapes per category for the throughput runs")
    parser.add_argument("--views", type=int, default=4, help="views per shape in the throughput runs")
    parser.add_argument("--keep", default=None, help="build in this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if not PSB.is_dir():
        raise SystemExit(f"bench: {PSB} not found (the shared PSB fixtures)")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="sketchgen-bench-collection-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SKETCHGEN_CACHE": str(work / "cache")}
    try:
        root = work / "psb-x"
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work / "cache", ignore_errors=True)
        n = make_collection(root, args.copies)
        print(f"collection: {n} PSB meshes ({args.copies} links to each of 10) in {root}")

        first = child(env, "index", str(root))
        print(f"index, first pass:  {first['work_seconds']:.1f} s for {first['shapes']} shapes = "
              f"{1000 * first['work_seconds'] / first['shapes']:.1f} ms/shape ({first['converted']} meshes converted, "
              f"the rest read from the shape cache or named by their path); peak {first['self_mb']:.0f} MB")
        second = child(env, "index", str(root))
        print(f"index, second run:  {second['work_seconds']:.2f} s after imports, {second['rebuilt']} shapes "
              f"indexed again ({1000 * second['work_seconds'] / second['shapes']:.2f} ms/shape: a listing and "
              f"a stat per file)")

        units = n  # one unit per shape
        job = child(env, "cli", "triplets", "--collection", str(root), "--out", str(work / "array"),
                    "--shard-index", "0", "--num-shards", str(units), "--no-progress")
        shards = list((work / "array").rglob("*.tar"))
        print(f"one-unit array job: {job['wall']:.1f} s from start to its finished shard "
              f"({len(shards)} shard; {job['seconds']:.1f} s inside the interpreter); "
              f"peak memory {job['self_mb']:.0f} MB (driver = worker)   [target: <= 20 s]")

        for dataset in ("triplets", "pairs"):
            for workers in (1, 2):
                out = work / f"{dataset}-{workers}"
                shutil.rmtree(out, ignore_errors=True)
                r = child(env, "cli", dataset, "--collection", str(root), "--out", str(out), "--shapes",
                          str(args.shapes), "--views", str(args.views), "--workers", str(workers), "--no-progress")
                manifest = json.loads((out / "manifest.json").read_text())
                samples = sum(c["samples"] for c in manifest["counts"].values())
                worker = f"largest worker {r['children_mb']:.0f} MB" if workers > 1 else "driver = worker"
                print(f"{dataset:8s} {workers} worker(s): {samples / r['work_seconds']:.2f} {dataset}/s "
                      f"({samples} samples in {r['work_seconds']:.1f} s after imports, worker start included); "
                      f"driver peak {r['self_mb']:.0f} MB, {worker}   [worker target: < 1024 MB]")
                noise = [ln for ln in r["stderr"].splitlines()
                         if ln.strip() and not ln.startswith(f"{dataset}:") and not ln.startswith("  failed:")]
                if noise:
                    print(f"  output besides the summary: {noise[:3]}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
