"""Check ``sketchgen draw`` against Blender on meshes and cameras sketchgen has never seen.

    python bench/compare_blender.py [--views 6] [--points 1500] [--seed 0] [--keep DIR] [--blender PATH]
                                    [--meshes torus_knot,capsule,...] [--strict]

For each generated mesh (bench/blender/agreement.py: a 16k-face torus knot, a capsule, a random convex
hull, a stack of boxes, a bumpy sphere, an open bowl, a wavy open sheet, a coarse 320-face ellipsoid)
and its random perspective
and orthographic cameras, it runs ``sketchgen draw`` (contour, boundary, crease at 45 degrees, 1 px)
and Blender Freestyle (silhouette, border, crease at 135 degrees between faces, 1 px;
bench/blender/freestyle_render.py), then prints

- projection: max / median distance in pixels between ``sketchgen draw --points`` and Blender's
  ``world_to_camera_view`` (target: max <= 0.5 px);
- visibility: agreement of sketchgen's ``visible`` with ray casting on surface samples no closer than
  a pixel to a silhouette (target: >= 99%);
- lines: per-view precision / recall / F1 of thinned line pixels matched within 2 px (target: mean
  F1 >= 0.95), and F1 within 1 px for a sharper reading;
- time per view: Blender (Freestyle + Cycles at one sample, first view excluded; for the torus knot
  also without Freestyle, so Freestyle's own share shows) and sketchgen's marginal time per view
  (lines, raster, PNG and SVG written, in one process, first view excluded). Both run on the same
  machine one after the other; on a shared machine expect medians to move by 2x between runs.

Smooth or faceted is a convention of both renderers, not a property of a mesh file. By default
(``--blender-normals per-mesh``) Blender renders each test mesh as what it stands for: polyhedra (the
convex hull, the boxes) flat, so Freestyle's silhouettes are their front/back face edges; smooth
surfaces shaded smooth with Freestyle's face smoothness on and normals split only at creases (Auto
Smooth at 45 degrees: Freestyle finds creases only where normals are split).
``--blender-normals autosmooth`` gives Blender sketchgen's own convention instead (render/lines.py:
every face smooth, normals split at edges sharper than ``--split-deg`` 30 degrees).

Blender is optional: without it the script says so and exits 0. ``--keep DIR`` keeps every input and
output, with ``*_diff.png`` pictures (black: matched, red: Blender only, blue: sketchgen only).
Exit status 0, or with ``--strict`` 1 when a target is missed.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.blender import agreement  # noqa: E402

BLENDER_SCRIPT = ROOT / "bench" / "blender" / "freestyle_render.py"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--views", type=int, default=6, help="cameras per mesh (default %(default)s)")
    p.add_argument("--points", type=int, default=1500, help="surface samples per mesh (default %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--meshes", help="comma-separated subset of the mesh names")
    p.add_argument("--keep", type=Path, help="keep inputs, outputs and diff pictures in this folder")
    p.add_argument("--blender", help="Blender executable (default: blender on PATH)")
    p.add_argument("--samples", type=int, default=1, help="Cycles samples for Blender's strokes")
    p.add_argument("--blender-normals", choices=("per-mesh", "autosmooth"), default="per-mesh",
                   help="per-mesh: faceted test meshes flat, smooth ones smooth with normals split only at "
                        "creases; autosmooth: every mesh smooth with Blender's Auto Smooth at --split-deg, "
                        "sketchgen's convention for contours (render/lines.py) (default %(default)s)")
    p.add_argument("--split-deg", type=float, default=30.0,
                   help="Auto Smooth angle: normals split at edges whose faces' normals differ by more "
                        "(default %(default)s, Blender's default and sketchgen's SMOOTH_SHARP_DEG)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


def run_blender(blender: str, mesh_path: Path, cams_path: Path, points_path: Path | None, out: Path,
                smooth: bool, samples: int, lines: bool = True, auto_smooth_deg: float | None = None) -> dict:
    """Run bench/blender/freestyle_render.py in Blender; returns its OUT.json."""
    cmd = [blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(BLENDER_SCRIPT),
           "--", "--mesh", str(mesh_path), "--cameras", str(cams_path), "--out", str(out),
           "--crease-angle-deg", "135", "--thickness", "1", "--samples", str(samples)]
    cmd += (["--points", str(points_path)] if points_path else []) + (["--smooth"] if smooth else [])
    cmd += ["--auto-smooth-deg", str(auto_smooth_deg)] if smooth and auto_smooth_deg is not None else []
    cmd += [] if lines else ["--no-lines"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    result = out.with_suffix(".json")
    if proc.returncode != 0 or not result.exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"blender failed (exit {proc.returncode}):\n{tail}")
    return json.loads(result.read_text())


def run_sketchgen(mesh_path: Path, cams_path: Path, points_path: Path, out: Path) -> float:
    """Run the ``sketchgen draw`` command line; returns its wall time in seconds."""
    cmd = [sys.executable, "-m", "sketchgen.cli", "draw", str(mesh_path), "--camera", str(cams_path),
           "--out", str(out), "--lines", "contour,boundary,crease", "--crease-deg", "45", "--width", "1",
           "--points", str(points_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"sketchgen draw failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return seconds


def sketchgen_seconds_per_view(mesh_path: Path, cams_path: Path, workdir: Path) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each view drawn in one process (lines, style, raster, PNG and SVG
    written), as the CLI does it; the caller drops the first (warm-up) view."""
    from sketchgen.cli.commands.draw import write_view
    from sketchgen.ingest.meshfile import read_mesh
    from sketchgen.render.camera import load_cameras
    from sketchgen.render.draw import DrawConfig, draw_views

    mesh = read_mesh(mesh_path)
    cameras = load_cameras(cams_path)
    views = draw_views(mesh, cameras, DrawConfig(lines=("contour", "boundary", "crease"), crease_deg=45.0,
                                                 width=1.0))
    seconds = []
    for k in range(len(cameras)):
        start, cpu_start = time.perf_counter(), time.process_time()
        view = next(views)
        write_view(view, workdir / f"timing_{k:03d}.png")
        seconds.append((time.perf_counter() - start, time.process_time() - cpu_start))
    return seconds


def read_gray(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise RuntimeError(f"{path}: cannot read the PNG")
    return image


def view_paths(out: Path, n_views: int) -> list[Path]:
    if n_views == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{k:03d}{out.suffix}") for k in range(n_views)]


def check_mesh(item: agreement.UnseenMesh, args, rng: np.random.Generator, workdir: Path, blender: str) -> dict:
    """Draw ``item`` with both renderers from ``args.views`` random cameras (drawn from ``rng``) and
    compare projections, visibility and lines per view."""
    import cv2
    import trimesh

    mesh_path = workdir / f"{item.name}.obj"
    agreement.write_obj(item.mesh, mesh_path)
    if args.blender_normals == "autosmooth":
        smooth, split = True, args.split_deg
    else:  # flat faces for faceted meshes; smooth ones split only at creases
        smooth, split = item.smooth, None
    mesh = trimesh.load_mesh(mesh_path, process=False)  # exactly what both renderers read
    sizes = ((256, 256),) if item.name == "torus_knot" else agreement.SIZES
    cams = agreement.random_cameras(mesh, rng, args.views, sizes=sizes)
    cams_path = workdir / f"{item.name}.cameras.json"
    cams_path.write_text(json.dumps(cams, indent=1))
    points, faces = trimesh.sample.sample_surface(mesh, args.points, seed=int(rng.integers(2**31)))
    points = np.asarray(points, dtype=np.float64)
    np.save(workdir / f"{item.name}.points.npy", points)
    (workdir / f"{item.name}.points.json").write_text(json.dumps(points.tolist()))

    theirs = run_blender(blender, mesh_path, cams_path, workdir / f"{item.name}.points.json",
                         workdir / f"{item.name}_blender.png", smooth, args.samples, auto_smooth_deg=split)
    ours_png = workdir / f"{item.name}_sketchgen.png"
    cli_seconds = run_sketchgen(mesh_path, cams_path, workdir / f"{item.name}.points.npy", ours_png)
    timing = sketchgen_seconds_per_view(mesh_path, cams_path, workdir)
    baseline = None
    if item.name == "torus_knot":  # the timing mesh: how much of Blender's time is Freestyle's
        baseline = run_blender(blender, mesh_path, cams_path, None, workdir / f"{item.name}_nolines.png",
                               smooth, args.samples, lines=False, auto_smooth_deg=split)

    rows = []
    for k, (cam, ref, png) in enumerate(zip(cams, theirs["views"], view_paths(ours_png, len(cams)))):
        ours_pts = json.loads(png.with_suffix(".points.json").read_text())
        ref_xy = np.asarray(ref["xy"], dtype=np.float64)
        ref_depth = np.asarray(ref["depth"], dtype=np.float64)
        xy = np.asarray([[np.nan if v is None else v for v in p] for p in ours_pts["xy"]], dtype=np.float64)
        in_front = ref_depth > cam.get("znear", 0.01)
        err = np.linalg.norm(xy - ref_xy, axis=1)[in_front]
        depth_err = np.abs(np.asarray([np.nan if d is None else d for d in ours_pts["depth"]], dtype=np.float64)
                           - ref_depth)[in_front]
        visible_ref, unambiguous = agreement.reference_visibility(mesh, cam, points, faces, ref_xy, ref_depth)
        visible = np.asarray(ours_pts["visible"], dtype=bool)
        ours_lines = agreement.line_pixels(read_gray(png))
        their_lines = agreement.line_pixels(read_gray(Path(ref["png"])))
        lines = agreement.line_agreement(ours_lines, their_lines)
        strict = agreement.line_agreement(ours_lines, their_lines, tol=1.0)
        if args.keep:
            cv2.imwrite(str(workdir / f"{item.name}_{k:03d}_diff.png"), agreement.diff_image(ours_lines, their_lines))
        rows.append({
            "view": k, "kind": "ortho" if "ortho_scale" in cam else "persp",
            "size": f"{cam['width']}x{cam['height']}",
            "proj_max": float(np.nanmax(err)) if err.size else 0.0,
            "proj_nan": int(np.isnan(err).sum()),
            "proj_errors": err, "depth_max": float(np.nanmax(depth_err)) if depth_err.size else 0.0,
            "vis_agree": int((visible == visible_ref)[unambiguous].sum()), "vis_n": int(unambiguous.sum()),
            "vis_agree_all": int((visible == visible_ref).sum()), "vis_all": len(points),
            "visible_ref": int(visible_ref[unambiguous].sum()),
            "lines": lines, "f1_1px": strict.f1, "blender_s": ref["seconds"], "sketchgen_s": timing[k][0],
            "blender_cpu_s": ref["cpu_seconds"], "sketchgen_cpu_s": timing[k][1],
            "blender_nolines_s": baseline["views"][k]["seconds"] if baseline else None,
            "blender_nolines_cpu_s": baseline["views"][k]["cpu_seconds"] if baseline else None,
        })
    return {"name": item.name, "faces": len(mesh.faces), "smooth": item.smooth, "rows": rows,
            "cli_seconds": cli_seconds}


def summarise(results: list[dict]) -> bool:
    print()
    print(f"{'mesh':<13}{'faces':>6} view kind  size     proj max px  vis agree (unambig.)   P      R      F1  F1@1px"
          "  blender s  sketchgen s (wall)")
    all_err, agree, n_unamb, f1s, agree_all, n_all = [], 0, 0, [], 0, 0
    for res in results:
        for r in res["rows"]:
            ln = r["lines"]
            print(f"{res['name']:<13}{res['faces']:>6} {r['view']:>4} {r['kind']:<5} {r['size']:<8}"
                  f"{r['proj_max']:>10.4f}   {r['vis_agree']:>5}/{r['vis_n']:<5} ({r['visible_ref']:>4} vis) "
                  f"{ln.precision:6.3f} {ln.recall:6.3f} {ln.f1:6.3f} {r['f1_1px']:6.3f}  {r['blender_s']:8.3f}   {r['sketchgen_s']:8.4f}")
            all_err.append(r["proj_errors"])
            agree += r["vis_agree"]
            n_unamb += r["vis_n"]
            agree_all += r["vis_agree_all"]
            n_all += r["vis_all"]
            f1s.append(ln.f1)
    err = np.concatenate(all_err)
    nan = int(np.isnan(err).sum())
    proj_ok = nan == 0 and float(np.nanmax(err)) <= 0.5
    vis_rate = agree / max(n_unamb, 1)
    mean_f1 = float(np.mean(f1s))
    mean_f1_1px = float(np.mean([r["f1_1px"] for res in results for r in res["rows"]]))
    print()
    print(f"projection vs world_to_camera_view: max {np.nanmax(err):.5f} px, median {np.nanmedian(err):.5f} px "
          f"over {err.size} point-views in front of the camera ({nan} missing)  "
          f"[target max <= 0.5: {'met' if proj_ok else 'MISSED'}]")
    print(f"visibility vs ray casting: {agree}/{n_unamb} = {100 * vis_rate:.2f}% of unambiguous samples "
          f"[target >= 99%: {'met' if vis_rate >= 0.99 else 'MISSED'}]; all samples: {agree_all}/{n_all} = "
          f"{100 * agree_all / max(n_all, 1):.2f}%")
    print(f"lines vs Freestyle: mean F1 {mean_f1:.4f} over {len(f1s)} views (min {min(f1s):.4f}) "
          f"[target >= 0.95: {'met' if mean_f1 >= 0.95 else 'MISSED'}]; within 1 px: mean F1 {mean_f1_1px:.4f}")
    print("time per view, median ms, first view of each mesh excluded (wall / CPU of all threads):")
    for res in results:
        rows = res["rows"][1:]
        if not rows:
            continue

        def med(key):
            return 1000.0 * float(np.median([r[key] for r in rows]))

        b, bc, s, sc = med("blender_s"), med("blender_cpu_s"), med("sketchgen_s"), med("sketchgen_cpu_s")
        print(f"  {res['name']:<16} {res['faces']:>6} faces: Blender Freestyle {b:6.1f} / {bc:6.1f}, "
              f"sketchgen {s:5.1f} / {sc:5.1f}, ratio {b / s:5.1f}x / {bc / sc:5.1f}x  "
              f"(sketchgen CLI process {res['cli_seconds']:.2f} s for {len(res['rows'])} views)")
        if rows[0]["blender_nolines_s"] is not None:
            n, nc = med("blender_nolines_s"), med("blender_nolines_cpu_s")
            print(f"  {'':<16} {'':>6}        Blender without Freestyle {n:6.1f} / {nc:6.1f}: Freestyle's own "
                  f"share {b - n:6.1f} / {bc - nc:6.1f}, ratio {(b - n) / s:5.1f}x / {(bc - nc) / sc:5.1f}x")
    return proj_ok and vis_rate >= 0.99 and mean_f1 >= 0.95


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    blender = args.blender or shutil.which("blender")
    if not blender:
        print("compare_blender: skipped: no `blender` on PATH (Debian: apt-get install blender; or --blender PATH)")
        return 0
    meshes = agreement.unseen_meshes(np.random.default_rng(args.seed))
    # each mesh's cameras and samples come from (seed, mesh index): a subset redraws the same views
    rngs = {m.name: np.random.default_rng([args.seed, k]) for k, m in enumerate(meshes)}
    if args.meshes:
        wanted = set(args.meshes.split(","))
        meshes = [m for m in meshes if m.name in wanted]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        tmp = None
        workdir = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sketchgen_blender_")
        workdir = Path(tmp.name)
    unknown = set(args.meshes.split(",")) - {m.name for m in meshes} if args.meshes else set()
    if unknown or not meshes:
        names = ", ".join(m.name for m in agreement.unseen_meshes(np.random.default_rng(args.seed)))
        print(f"compare_blender: unknown mesh name(s) {', '.join(sorted(unknown))}; choose from {names}")
        return 2
    failed = []
    try:
        results = []
        for item in meshes:
            print(f"{item.name}: {len(item.mesh.faces)} faces, {'smooth' if item.smooth else 'faceted'}, "
                  f"{args.views} views ...", flush=True)
            try:
                results.append(check_mesh(item, args, rngs[item.name], workdir, blender))
            except RuntimeError as exc:  # one renderer failed on this mesh: report it, go on with the rest
                print(f"{item.name}: FAILED: {exc}", flush=True)
                failed.append(item.name)
        ok = summarise(results) if results else False
        if failed:
            print(f"failed meshes: {', '.join(failed)}")
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.keep:
        print(f"inputs, outputs and diff pictures kept in {workdir}")
    return 1 if (args.strict and (failed or not ok)) else 0


if __name__ == "__main__":
    sys.exit(main())
