"""Discovery and label checks at dataset scale, on generated trees named as the datasets ship.

Builds a ShapeNetCore.v2 tree of N chairs (3 boxes each, ShapeNet's metadata JSON beside every OBJ)
with a ShapeNet-Part tree labelling all of them (2,700 points each, as ShapeNet-Part has about), then
prints the seconds ``discover`` takes to list them (no mesh is read) and the seconds per shape to
load one with its labels moved from the points and checked against the surface.

    python bench/bench_layouts.py [--shapes N] [--load K]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.ingest.layout_trees

from sketchgen.ingest.layouts import discover  # noqa: E402
from sketchgen.ingest.loaders import load_row  # noqa: E402
from tests.datagen import layout_trees as trees  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=2000)
    parser.add_argument("--load", type=int, default=50, help="shapes loaded for the per-shape time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ids = [f"{k:032x}" for k in range(args.shapes)]
        trees.shapenetcore_v2(root / "ShapeNetCore.v2", {i: ["seat", "back", "leg"] for i in ids})
        trees.shapenet_part(root / "shapenetcore_partanno_segmentation_benchmark_v0", {i: 3 for i in ids},
                            n_points=2700)
        t0 = time.perf_counter()
        rows = discover(root)
        t_discover = time.perf_counter() - t0
        assert len(rows) == args.shapes
        t0 = time.perf_counter()
        for row in rows[:args.load]:
            load_row(row)
        t_load = (time.perf_counter() - t0) / min(args.load, len(rows))
    print(f"discover: {len(rows)} ShapeNetCore.v2 + ShapeNet-Part shapes listed in {t_discover:.2f} s "
          f"({1e3 * t_discover / len(rows):.2f} ms per shape)")
    print(f"load_row with point labels checked: {1e3 * t_load:.1f} ms per shape (36 faces, 2,700 points)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
