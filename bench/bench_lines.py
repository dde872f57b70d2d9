"""Per-view time of the geometric core: line extraction with hidden-line removal, point projection,
and the G-buffer pass, printed beside pyrender's depth-only render of the same mesh and views.

Meshes: a ~16k-face smooth torus (interpolated contours) and a bundled airplane subdivided to ~13k
faces (sharp edges: face contours and creases; curved parts: interpolated contours). 50 Fibonacci views at 256 x 256, one process; start-up
(imports, GL context, ``prepare``: edges, embree scene) and the first view are excluded. Medians of
wall time and of CPU time (all threads of the process; less sensitive to other load on a shared
machine).

    python bench/bench_lines.py [--views 50] [--size 256] [--points 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import trimesh


from sketchgen.render import views  # noqa: E402  (sets PYOPENGL_PLATFORM before pyrender loads)


def _median_ms(fn, cameras) -> tuple[float, float]:
    """Median wall and CPU (all threads of this process) milliseconds per view, first use excluded."""
    fn(cameras[0])  # warm-up: first-use caches
    wall, cpu = [], []
    for camera in cameras:
        t0, c0 = time.perf_counter(), time.process_time()
        fn(camera)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu))


def _fmt(ms: tuple[float, float]) -> str:
    return f"{ms[0]:.2f} ms (CPU {ms[1]:.2f} ms)"


def pyrender_depth_ms(mesh, cameras) -> float:
    """Median ms (wall, CPU) of pyrender's depth-only render (one renderer and scene, pose moved per view)."""
    import pyrender

    cam0 = cameras[0]
    scene = pyrender.Scene()
    scene.add(pyrender.Mesh.from_trimesh(mesh, smooth=False))
    gl_cam = pyrender.PerspectiveCamera(yfov=math.radians(cam0.yfov_deg), aspectRatio=cam0.width / cam0.height,
                                        znear=cam0.znear, zfar=cam0.zfar)
    node = scene.add(gl_cam, pose=cam0.pose)
    renderer = pyrender.OffscreenRenderer(cam0.width, cam0.height)
    try:
        def one(camera):
            scene.set_pose(node, camera.pose)
            renderer.render(scene, flags=pyrender.RenderFlags.DEPTH_ONLY)
        return _median_ms(one, cameras)
    finally:
        renderer.delete()


def report(name, mesh, cameras, n_points):
    from sketchgen.render.gbuffer import get_renderer
    from sketchgen.render.lines import extract_lines, prepare
    from sketchgen.render.visibility import project_points

    t0 = time.perf_counter()
    prep = prepare(mesh)
    _ = prep.ray_scene
    prep_ms = 1e3 * (time.perf_counter() - t0)
    points, faces = trimesh.sample.sample_surface(mesh, n_points, seed=0)
    strokes = []

    def lines(camera):
        strokes.append(len(extract_lines(mesh, camera, prepared=prep).strokes))

    lines_ms = _median_ms(lines, cameras)
    project_ms = _median_ms(lambda c: project_points(mesh, c, points, faces=faces, prepared=prep), cameras)
    renderer = get_renderer()
    gbuf_ms = _median_ms(lambda c: renderer.render(mesh, c), cameras)
    try:
        depth = _fmt(pyrender_depth_ms(mesh, cameras))
    except Exception as exc:  # no EGL: the other figures still stand
        depth = f"unavailable ({type(exc).__name__}: {exc})"
    split = np.count_nonzero(prep.edge_angle_deg > 30.0)
    kind = f"{split} edges sharper than 30 deg"
    print(f"{name}: {len(mesh.faces)} faces ({kind}), {len(cameras)} views at "
          f"{cameras[0].width}x{cameras[0].height}; prepare {prep_ms:.0f} ms once")
    print(f"  extract_lines (contour, boundary, crease), median per view: {_fmt(lines_ms)} "
          f"({np.median(strokes):.0f} strokes)")
    print(f"  project_points ({n_points} points, with faces), median per view: {_fmt(project_ms)}")
    print(f"  G-buffer (depth, face ids, normals), median per view: {_fmt(gbuf_ms)}")
    print(f"  pyrender depth-only render, median per view: {depth}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    cameras = views.fibonacci(args.views, distance=2.6, width=args.size, height=args.size)
    torus = trimesh.creation.torus(major_radius=0.7, minor_radius=0.25, major_sections=128, minor_sections=64)
    report("torus", torus, cameras, args.points)
    try:
        from sketchgen.ingest.procedural import load_bundled

        plane = next(s for s in load_bundled() if s.category == "airplane").trimesh.subdivide()
        report("bundled airplane, subdivided once", plane, cameras, args.points)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
