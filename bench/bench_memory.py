"""Peak memory of a one-unit dataset run at 1x, 10x and 100x its sample count: it must not grow.

Each run is a fresh process running ``datagen.execute.run_dataset`` on one shape of the bundled
collection (the first mug) into a temporary folder, a pair dataset of ``--base`` x 1, 10, 100 pairs
(pairs carry the largest members: a ``(H, W, 2)`` float32 flow each). Printed per run: the process's
peak resident memory (``ru_maxrss``), the shard's size, the time and pairs/s. The samples are streamed to
the shard as they are made, so the peak stays put while the shard grows; ``--gathered`` runs the same
units with every sample held first (``build_unit``, what a run did before), for comparison.

    python bench/bench_memory.py [--base 4] [--size 128] [--factors 1,10,100] [--gathered]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.triplets import ViewConfig
from sketchgen.ingest.procedural import load_spec

folder, pairs, size, gathered = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
entry = next(e for e in load_spec()["shapes"] if e["category"] == "mug")
spec = folder / "one.json"
spec.write_text(json.dumps({"version": 1, "seed": 0, "shapes": [entry]}))
if gathered:  # the unit's samples all made before its shard is written
    import sketchgen.datagen.execute as execute

    def held(builder, unit, config, failures):
        samples, found = builder.build_unit(unit, config)
        failures.extend(found)
        return samples

    execute._samples = held
config = PairConfig(collection=str(spec), seed=0, pairs=pairs, camera=ViewConfig(views=6, size=size))
start = time.perf_counter()
summary = run_dataset(dataset="pairs", builder="sketchgen.datagen.pairs", config=config, out_dir=folder / "out",
                      progress=False)
took = time.perf_counter() - start
shard = next((folder / "out").glob("*/*.tar"))
print(json.dumps({"samples": summary["samples"], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "shard_mb": shard.stat().st_size / 2**20, "seconds": took}))
"""


def run(pairs: int, size: int, gathered: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="sketchgen-bench-memory-") as folder:
        done = subprocess.run([sys.executable, "-c", CHILD, folder, str(pairs), str(size), "1" if gathered else "0"],
                              capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=4, help="pairs of the 1x run")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels")
    parser.add_argument("--factors", default="1,10,100")
    parser.add_argument("--gathered", action="store_true", help="also run with every sample held before writing")
    args = parser.parse_args(argv)
    factors = [int(f) for f in args.factors.split(",")]
    modes = [False, True] if args.gathered else [False]
    print(f"one pair unit, {args.size}x{args.size} px, 6 views; a fresh process per run")
    print(f"{'mode':>9} {'factor':>6} {'pairs':>6} {'peak MB':>8} {'shard MB':>9} {'s':>7} {'pairs/s':>8}")
    for gathered in modes:
        peaks = []
        for factor in factors:
            got = run(args.base * factor, args.size, gathered)
            peaks.append(got["peak_mb"])
            print(f"{'gathered' if gathered else 'streamed':>9} {factor:>6} {got['samples']:>6} {got['peak_mb']:>8.1f} "
                  f"{got['shard_mb']:>9.1f} {got['seconds']:>7.1f} {got['samples'] / got['seconds']:>8.1f}", flush=True)
        print(f"{'':>9} peak at {factors[-1]}x minus peak at {factors[0]}x: {peaks[-1] - peaks[0]:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
