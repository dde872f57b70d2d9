"""``sketchgen draw``: one mesh, one or more cameras -> PNG, SVG and projected points per camera.

    sketchgen draw MESH (--camera CAMERA.json | --views N [--elevation DEG] [--size PX]) --out OUT.png
        [--lines contour,boundary,crease,suggestive] [--crease-deg 45] [--width 1.0] [--style clean|sketchy]
        [--seed N] [--max-faces N] [--points POINTS.npy | --keypoints FILE]

MESH is drawn in its own coordinates. ``--views N`` frames it itself (``render.views.framing_views``: N
cameras around it, evenly spaced in azimuth, each seeing all of it) and writes the cameras it used as
OUT.cameras.json, which ``--camera`` reads back. With one camera the outputs are OUT.png, OUT.svg and (with
points) OUT.points.json; with a list of cameras, OUT_000.png, OUT_000.svg, OUT_000.points.json,
OUT_001.png, ... Every file is written to a temporary name and renamed.

Exit status: 0 when every camera saw the mesh; 1 when some camera saw nothing of it (the mesh behind it
or beside its view, the camera inside a closed mesh, or no line in its view): each such view is still
written, and named on stderr with the reason, one line each; 2 for bad options or input files.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from sketchgen.cli.options import ANGLE, COUNT, MAX_FACES, POSITIVE, SEED, real, whole
from sketchgen.errors import InputError, UsageError
from sketchgen.files import atomic_write
from sketchgen.render.threads import one_blas_thread

HELP = "draw a mesh from one or more cameras: PNG, SVG and projected points"

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    from sketchgen.render.strokes import DEFAULT_LINES
    from sketchgen.render.strokes import LINE_TYPES
    from sketchgen.render.style import STYLES

    parser.add_argument("mesh", type=Path, metavar="MESH", help="mesh file (OBJ, PLY, OFF, STL, GLB), drawn in its own coordinates")
    views = parser.add_mutually_exclusive_group(required=True)
    views.add_argument("--camera", type=Path, metavar="CAMERA.json", help="camera JSON: one camera or a list")
    views.add_argument("--views", type=COUNT, metavar="N",
                       help="N cameras around the mesh, framing all of it (written to OUT.cameras.json)")
    parser.add_argument("--elevation", type=real(-90, 90), default=20.0, metavar="DEG",
                        help="--views: the cameras' elevation above the mesh's XZ plane (default %(default)s)")
    parser.add_argument("--size", type=whole(16), default=512, metavar="PX",
                        help="--views: image size in pixels (default %(default)s)")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.png", help="output OUT.png (OUT_000.png, ... for a list)")
    parser.add_argument("--lines", metavar="KINDS", default=",".join(DEFAULT_LINES),
                        help=f"comma-separated line types among {','.join(LINE_TYPES)} (default %(default)s)")
    parser.add_argument("--crease-deg", type=ANGLE, default=45.0, metavar="DEG",
                        help="edges whose face normals differ by more are creases (default %(default)s)")
    parser.add_argument("--width", type=POSITIVE, default=1.0, metavar="PX", help="stroke width in pixels (default %(default)s)")
    parser.add_argument("--style", choices=STYLES, default="clean", help="stroke style (default %(default)s)")
    parser.add_argument("--seed", type=SEED, default=0, metavar="N", help="seed of the sketchy style (default %(default)s)")
    parser.add_argument("--max-faces", type=MAX_FACES, default=None, metavar="N",
                        help="decimate a mesh of more than N faces first (quadric decimation, as collection info "
                             "--max-faces); points and keypoints are placed on the full mesh, then projected")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--points", type=Path, metavar="POINTS.npy", help="(N, 3) float .npy array of points in the mesh's coordinates")
    group.add_argument("--keypoints", type=Path, metavar="FILE", help="KeypointNet JSON or sketchgen keypoint file")


@one_blas_thread
def run(args: argparse.Namespace) -> int:
    from sketchgen.ingest.meshfile import read_mesh
    from sketchgen.render.camera import load_cameras
    from sketchgen.render.draw import DrawConfig, draw_views

    try:
        config = DrawConfig(lines=tuple(k.strip() for k in args.lines.split(",") if k.strip()),
                            crease_deg=args.crease_deg, width=args.width, style=args.style, seed=args.seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.out.suffix.lower() != ".png":
        raise UsageError(f"--out must name a .png file, got {args.out}")

    mesh = read_mesh(args.mesh)
    if args.views is not None:
        from sketchgen.render.views import framing_views

        cameras = framing_views(mesh.vertices, args.views, elevation_deg=args.elevation, size=args.size)
        camera_file = args.out.with_suffix(".cameras.json")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(camera_file, (json.dumps([c.to_json() for c in cameras], indent=1) + "\n").encode())
    else:
        cameras = load_cameras(args.camera)
        camera_file = args.camera
    points = faces = semantic = None
    if args.points is not None:
        points = load_points(args.points)
    elif args.keypoints is not None:
        points, faces, semantic = keypoint_points(args.keypoints, mesh, args.mesh)

    if args.max_faces is not None and len(mesh.faces) > args.max_faces:
        mesh, faces = decimated(mesh, args.max_faces, args.mesh), None  # the points keep their positions
    warn_clipping(args.mesh, mesh, cameras, camera_file)
    outputs = output_paths(args.out, len(cameras))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    unseen = []
    # draw_views logs each camera that sees nothing; this command says it once, naming the files
    draw_log = logging.getLogger("sketchgen.render.draw")
    level = draw_log.level
    draw_log.setLevel(logging.ERROR)
    try:
        for k, (view, png) in enumerate(zip(draw_views(mesh, cameras, config, points=points, point_faces=faces),
                                            outputs)):
            write_view(view, png, semantic_id=semantic)
            if view.unseen is not None:
                unseen.append((k, png, view.unseen))
    except InputError as exc:  # the drawing's own reasons (all faces degenerate) name no file
        raise exc if str(exc).startswith(str(args.mesh)) else InputError(f"{args.mesh}: {exc}") from None
    finally:
        draw_log.setLevel(level)
    for k, png, reason in unseen:
        which = f"camera {k} of {camera_file}" if len(cameras) > 1 else f"the camera of {camera_file}"
        print(f"sketchgen draw: warning: {args.mesh}: {which} sees nothing of the mesh: {reason}; {png} is "
              f"written as drawn", file=sys.stderr)
    kinds = ".png, .svg, .strokes.npz" + (", .points.json" if points is not None else "")
    named = str(outputs[0]) if len(outputs) == 1 else f"{outputs[0]} ... {outputs[-1].name}"
    cams = f" (cameras: {camera_file})" if args.views is not None else ""
    print(f"draw: {len(cameras)} view(s) of {args.mesh} -> {named} ({kinds}){cams}")  # stdout: the result
    return 1 if unseen else 0


def decimated(mesh, max_faces: int, mesh_path: Path):
    """``mesh`` (a trimesh in file coordinates) decimated to at most ``max_faces`` faces by the rule
    collections use (``ingest.decimate``: piece by piece, quadric), still in file coordinates."""
    import trimesh

    from sketchgen.ingest.decimate import decimate
    from sketchgen.ingest.partmesh import make_partmesh

    shape = decimate(make_partmesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), source=str(mesh_path)),
                     max_faces)
    log.info("%s: decimated from %d to %d faces", mesh_path, len(mesh.faces), shape.n_faces)
    return trimesh.Trimesh(shape.to_file_coords(shape.vertices), shape.faces, process=False, validate=False)


def warn_clipping(mesh_path: Path, mesh, cameras, camera_path: Path) -> None:
    """One warning, naming the mesh file, when clip planes given in the camera file cut the mesh (they
    are kept: a user may clip on purpose); planes left out are fitted to the mesh and never cut it."""
    cut = [(k, reason) for k, camera in enumerate(cameras) if (reason := camera.cuts(mesh.vertices))]
    if cut:
        k, reason = cut[0]
        which = f"camera {k}" if len(cameras) > 1 else "the camera"
        more = f" (and {len(cut) - 1} other cameras)" if len(cut) > 1 else ""
        log.warning("%s: %s's clip planes cut the mesh, %s%s; what lies beyond them is not drawn "
                    "(leave znear/zfar out of %s to fit them to the mesh)", mesh_path, which, reason, more,
                    camera_path)


def output_paths(out: Path, n_views: int) -> list[Path]:
    """OUT.png for one view; OUT_000.png, OUT_001.png, ... for several."""
    if n_views == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{k:03d}{out.suffix}") for k in range(n_views)]


def write_view(view, png: Path, *, semantic_id=None, compression: int = 1) -> None:
    """Write ``png``, its .svg, its strokes (.strokes.npz, as datasets store them) and, when the view has
    points, its .points.json (each atomically)."""
    from sketchgen.datagen.schema import STROKES_SUFFIX
    from sketchgen.render.raster import encode_png

    atomic_write(png, encode_png(view.image, compression=compression))
    atomic_write(png.with_suffix(".svg"), view.svg.encode())
    atomic_write(png.with_suffix(STROKES_SUFFIX), view.strokes.to_npz())
    if view.points is not None:
        atomic_write(png.with_suffix(".points.json"), points_json(view.points, semantic_id).encode())


def points_json(points, semantic_id=None) -> str:
    """The points file: {"xy": [[x, y], ...], "depth": [...], "visible": [...]} (+ "semantic_id"), in
    input order; NaN (behind the camera) is written as null."""
    def clean(values):
        arr = np.asarray(values, dtype=np.float64)
        out = arr.astype(object)
        out[~np.isfinite(arr)] = None
        return out.tolist()

    data = {"xy": clean(points.xy), "depth": clean(points.depth),
            "visible": [bool(v) for v in np.asarray(points.visible)]}
    if semantic_id is not None:
        data["semantic_id"] = [int(s) for s in semantic_id]
    return json.dumps(data) + "\n"


def load_points(path: Path) -> np.ndarray:
    """(N, 3) float64 points from a .npy file; InputError naming the file and the reason otherwise."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a .npy array ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 2 or arr.shape[1] != 3:
        raise InputError(f"{path}: points must be an (N, 3) array, got shape {getattr(arr, 'shape', '?')}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{path}: points must be numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise InputError(f"{path}: point {bad} is NaN or infinite")
    return arr


def keypoint_points(path: Path, mesh, mesh_path: Path):
    """(K, 3) float64 points, (K,) int64 faces and (K,) int64 semantic ids of a keypoint file on ``mesh``.

    A KeypointNet file holding several models is read for the model named like the mesh file's stem.
    """
    from sketchgen.ingest.keypoints import load_keypoints

    try:
        kp = load_keypoints(path, mesh)
    except InputError as exc:
        if "model_id" not in str(exc):
            raise
        kp = load_keypoints(path, mesh, model_id=mesh_path.stem)
    return kp.points(mesh.vertices, mesh.faces), kp.face, kp.semantic_id


