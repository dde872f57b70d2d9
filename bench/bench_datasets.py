"""Dataset builder throughput: triplets/s and pairs/s with 1 and 2 local workers, and the scaling ratio.

Runs ``datagen.execute.run_dataset`` on the bundled collection (``--shapes`` per category) into a
temporary folder, alternating 1 and 2 workers. Timed runs follow a warm-up run on the same workers,
so the figures are steady-state throughput (worker start, imports, GL context and collection loading
excluded: a real run pays them once per worker). Prints the median over ``--repeats`` runs.

    python bench/bench_datasets.py [--shapes 4] [--repeats 3] [--only triplets|pairs]

Targets on a 2-core machine: >= 50 triplets/s (3 zooms x 3 roles) and >= 15 pairs/s with 2 workers,
and 2 workers >= 1.7x one. Also printed: samples per CPU second of the work units (summed over
workers), which depends little on how busy the machine is; the load average and the speed-up of two
pure-CPU processes over one are printed too, since on a shared machine the wall-clock figures and the
scaling ratio are only as good as the cores that were free.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


from sketchgen.datagen.execute import run_dataset  # noqa: E402
from sketchgen.datagen.pairs import PairConfig  # noqa: E402
from sketchgen.datagen.triplets import TripletConfig  # noqa: E402

DATASETS = {
    "triplets": ("sketchgen.datagen.triplets", lambda shapes, seed: TripletConfig(shapes=shapes, seed=seed)),
    "pairs": ("sketchgen.datagen.pairs", lambda shapes, seed: PairConfig(shapes=shapes, seed=seed)),
}


def _spin(n: int = 5_000_000) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - start


def machine_parallelism() -> float:
    """How much faster 2 processes finish 2 equal pure-CPU jobs than 1 process finishes them in turn:
    2.0 on two free cores, about 1.0 when only one core's worth is free for this session."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_spin, [1000, 1000]))  # start both processes first
        one = _spin() * 2
        start = time.perf_counter()
        list(pool.map(_spin, [5_000_000, 5_000_000]))
        two = time.perf_counter() - start
    return one / two


def measure(dataset: str, shapes: int, repeats: int) -> dict[int, tuple[float, float, int]]:
    """{workers: (median samples/s, median samples per CPU second of the units, samples per run)}.

    Runs with 1 and 2 workers alternate, so a change in the machine's load hits both alike.
    """
    builder, make = DATASETS[dataset]
    rates: dict[int, list[float]] = {1: [], 2: []}
    per_cpu: dict[int, list[float]] = {1: [], 2: []}
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            # warm-up: start the workers, import, create GL contexts, load the collection
            run_dataset(dataset=dataset, builder=builder, config=make(1, 99), out_dir=Path(tmp) / f"warm{workers}",
                        workers=workers, progress=False)
        for r in range(repeats):
            for workers in (1, 2):
                out = Path(tmp) / f"run{r}-{workers}"
                start = time.perf_counter()
                summary = run_dataset(dataset=dataset, builder=builder, config=make(shapes, r), out_dir=out,
                                      workers=workers, progress=False)
                elapsed = time.perf_counter() - start
                count = summary["samples"]
                rates[workers].append(count / elapsed)
                per_cpu[workers].append(count / max(summary["cpu_s"], 1e-9))
                shutil.rmtree(out)
    return {w: (statistics.median(rates[w]), statistics.median(per_cpu[w]), count) for w in (1, 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=4, help="shapes per category (default 4: 20 shapes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=tuple(DATASETS), default=None)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"2 pure-CPU processes run {machine_parallelism():.2f}x as fast as 1 right now", flush=True)
    for dataset in ([args.only] if args.only else DATASETS):
        figures = measure(dataset, args.shapes, args.repeats)
        for workers, (rate, per_cpu, count) in figures.items():
            print(f"{dataset}: {workers} worker(s): median {rate:.1f} samples/s, "
                  f"{per_cpu:.1f} samples per CPU second ({count} samples per run, {args.repeats} runs)", flush=True)
        print(f"{dataset}: 2 workers / 1 worker = {figures[2][0] / figures[1][0]:.2f}x", flush=True)
        print(f"load average now: {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
