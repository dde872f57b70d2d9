"""Part-wise registration on the bundled collection, measured against its exact correspondence.

For each category, registers shape i onto shape i+1 (all 12 consecutive pairs, cyclic), maps 500
area-sampled surface points of i, and compares with the true points (same face and barycentric
weights on i+1, by construction). Prints the mean error as a fraction of the target's bounding-box
diagonal per category and overall (target: <= 5%), the same for the keypoints, the time per
registration, and the time to load the whole bundled collection. A second figure registers with the
shapes' keypoints as anchors (``register(..., keypoints=True)``); the first uses geometry and part
labels only.

    python bench/bench_registration.py [--pairs N] [--points N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


from sketchgen.datagen.registration import register  # noqa: E402
from sketchgen.ingest.collection import load_collection  # noqa: E402
from sketchgen.ingest.procedural import exact_correspondence  # noqa: E402
from sketchgen.ingest.sampling import sample_surface  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12, help="pairs per category (default 12)")
    parser.add_argument("--points", type=int, default=500, help="points mapped per pair (default 500)")
    args = parser.parse_args(argv)

    loads = []
    for _ in range(3):
        t = time.perf_counter()
        coll = load_collection()
        loads.append(time.perf_counter() - t)
    faces = sum(s.n_faces for s in coll.shapes)
    print(f"load bundled collection: {len(coll.shapes)} shapes, {faces} faces, median {statistics.median(loads):.3f} s "
          f"(target < 2 s)")

    rng = np.random.default_rng(0)
    overall, overall_kp, overall_anch, reg_times = [], [], [], []
    print(f"{'category':<10} {'pairs':>5} {'mean err/diag':>14} {'median':>8} {'p90':>8} {'keypoints':>10} "
          f"{'anchored':>9}")
    for category, shapes in coll.by_category().items():
        errs, kp_errs, anch_errs = [], [], []
        n = min(args.pairs, len(shapes))
        for i in range(n):
            a, b = shapes[i], shapes[(i + 1) % len(shapes)]
            t = time.perf_counter()
            reg = register(a, b)
            reg_times.append(time.perf_counter() - t)
            face, bary = sample_surface(a, args.points, rng)
            mapped, _ = reg.map_points(face, bary)
            tf, tb = exact_correspondence(a, b, face, bary)
            errs.append(np.linalg.norm(mapped - b.points(tf, tb), axis=1) / b.bbox_diagonal)
            kmapped, _ = reg.map_points(a.keypoints.face, a.keypoints.bary)
            kp_errs.append(np.linalg.norm(kmapped - b.keypoint_points(), axis=1) / b.bbox_diagonal)
            amapped, _ = register(a, b, keypoints=True).map_points(face, bary)
            anch_errs.append(np.linalg.norm(amapped - b.points(tf, tb), axis=1) / b.bbox_diagonal)
        e, k, an = np.concatenate(errs), np.concatenate(kp_errs), np.concatenate(anch_errs)
        overall.append(e)
        overall_kp.append(k)
        overall_anch.append(an)
        print(f"{category:<10} {n:>5} {e.mean():>13.2%} {np.median(e):>8.2%} {np.percentile(e, 90):>8.2%} "
              f"{k.mean():>10.2%} {an.mean():>9.2%}")
    e, k, an = np.concatenate(overall), np.concatenate(overall_kp), np.concatenate(overall_anch)
    print(f"{'all':<10} {len(reg_times):>5} {e.mean():>13.2%} {np.median(e):>8.2%} {np.percentile(e, 90):>8.2%} "
          f"{k.mean():>10.2%} {an.mean():>9.2%}")
    print(f"registration: median {statistics.median(reg_times):.3f} s per pair; "
          f"mean error {e.mean():.2%} of the bbox diagonal (target <= 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
