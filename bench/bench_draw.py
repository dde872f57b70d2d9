"""Marginal time per view of ``sketchgen draw``'s work, beside pyrender's depth-only render.

A ~16k-face torus (and a bundled collection shape) at 256 x 256, contour + boundary + crease, PNG and
SVG written (temporary name, then rename), 50 Fibonacci views in one process. Start-up (imports, GL
context, ``prepare``) and the first view are excluded. Prints the median milliseconds per view and the
breakdown: lines (extraction with hidden-line removal), raster, png (encode), svg (document), write
(both files to disk), and the CPU time per view, which other work on a shared machine inflates less
than the wall time. Reference: Blender Freestyle takes 114-125 ms per view for the same work; the
target is <= 12 ms.

    python bench/bench_draw.py [--views 50] [--size 256] [--style clean|sketchy]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh


from sketchgen.render import views  # noqa: E402  (sets PYOPENGL_PLATFORM before pyrender loads)
from bench_lines import _fmt, pyrender_depth_ms  # noqa: E402  (one depth-only baseline for both benches)

FREESTYLE_MS = (114.0, 125.0)
TARGET_MS = 12.0


def bench_draw(mesh, cameras, style: str) -> dict[str, list[float]]:
    from sketchgen.cli.commands.draw import write_atomic
    from sketchgen.render.draw import DrawConfig, draw_view
    from sketchgen.render.prepared import prepare
    from sketchgen.render.raster import encode_png

    config = DrawConfig(style=style)
    prepared = prepare(mesh)
    times: dict[str, list[float]] = {k: [] for k in ("lines", "style", "raster", "png", "svg", "write", "total",
                                                       "cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        for index, camera in enumerate([cameras[0]] + list(cameras)):
            c0 = time.process_time()
            t0 = time.perf_counter()
            view = draw_view(mesh, camera, config, index=index, prepared=prepared)
            t1 = time.perf_counter()
            png = encode_png(view.image)
            t2 = time.perf_counter()
            write_atomic(Path(tmp) / f"v{index:03d}.png", png)
            write_atomic(Path(tmp) / f"v{index:03d}.svg", view.svg.encode())
            t3 = time.perf_counter()
            c3 = time.process_time()
            if index == 0:
                continue  # warm-up: first-use caches (embree scene, GL buffers)
            for key in ("lines", "style", "raster", "svg"):
                times[key].append(view.seconds[key])
            times["png"].append(t2 - t1)
            times["write"].append(t3 - t2)
            times["total"].append(t3 - t0)
            times["cpu"].append(c3 - c0)
    return times


def report(name: str, mesh, cameras, style: str) -> None:
    times = bench_draw(mesh, cameras, style)
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    try:
        depth = _fmt(pyrender_depth_ms(mesh, cameras))
    except Exception as exc:  # no EGL here: the draw figures still stand
        depth = f"unavailable ({type(exc).__name__}: {exc})"
    print(f"{name}: {len(mesh.faces)} faces, {len(cameras)} views at {cameras[0].width}x{cameras[0].height}, "
          f"style {style}")
    print(f"  sketchgen draw, median per view: {ms['total']:.2f} ms "
          f"(target <= {TARGET_MS:.0f} ms; Blender Freestyle {FREESTYLE_MS[0]:.0f}-{FREESTYLE_MS[1]:.0f} ms, "
          f"{FREESTYLE_MS[0] / ms['total']:.1f}x faster)")
    print("  breakdown (medians): " + ", ".join(f"{k} {ms[k]:.2f}" for k in
                                                ("lines", "style", "raster", "png", "svg", "write")) + " ms")
    print(f"  CPU time per view (all threads; less sensitive to other load on the machine): "
          f"median {ms['cpu']:.2f} ms")
    print(f"  mean per view: {1e3 * float(np.mean(times['total'])):.2f} ms, "
          f"90th percentile {1e3 * float(np.percentile(times['total'], 90)):.2f} ms")
    print(f"  pyrender depth-only render, median per view: {depth}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--style", choices=("clean", "sketchy"), default="clean")
    args = parser.parse_args()
    cameras = views.fibonacci(args.views, distance=2.6, width=args.size, height=args.size)
    torus = trimesh.creation.torus(major_radius=0.7, minor_radius=0.25, major_sections=128, minor_sections=64)
    report("torus", torus, cameras, args.style)
    try:
        from sketchgen.ingest.procedural import load_bundled

        chair = next(s for s in load_bundled() if s.category == "chair")
        report(f"bundled chair {chair.shape_id}", chair.trimesh, cameras, args.style)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
