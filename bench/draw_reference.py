"""Drawings made by one OpenGL driver, to compare with another's (Mesa's llvmpipe on a CPU, NVIDIA's on a GPU).

    python bench/draw_reference.py OUT [PSB_DIR]          # write OUT/<shape>.npz and OUT/driver.txt
    python bench/draw_reference.py --compare DIR_A DIR_B  # compare two such folders, one line per shape

For three bundled shapes and the PSB meshes (``../shared/fixtures/realworld/psb`` by default), from 4
cameras at 256 px, each ``.npz`` holds the G-buffer (``face_id`` (V, H, W) int32, ``depth`` (V, H, W)
float32 view depth, inf on background), the drawing (``image`` (V, H, W) uint8) and the stroke record's
vertices (``xy`` (N, 2) float64 pixels, ``face`` (N,) int64 mesh faces, concatenated over the views;
``counts`` (V,) int64 vertices per view).
The comparison prints the fraction of pixels whose face differs, the largest depth difference where the
face agrees, the fraction of image pixels that differ by more than 16 grey levels, and the stroke vertex
counts: what a dataset's ground truth would change if it were rendered by the other driver.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")  # before anything imports OpenGL

import sys
from pathlib import Path

import numpy as np

PSB = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "realworld" / "psb"


def cameras(size: int = 256):
    from sketchgen.render.camera import Camera

    ring = [(2.6 * np.cos(a), 0.9, 2.6 * np.sin(a)) for a in np.radians([20, 110, 200, 290])]
    return [Camera.looking_at(p, (0.0, 0.0, 0.0), width=size, height=size, yfov_deg=40.0) for p in ring]


def shapes(psb: Path):
    """(name, trimesh.Trimesh) in the unit-sphere frame: three bundled shapes, then the PSB meshes."""
    import trimesh

    from sketchgen.ingest.loaders import load_partmesh
    from sketchgen.ingest.procedural import load_bundled

    bundled = load_bundled()
    for shape in (bundled[0], bundled[len(bundled) // 2], bundled[-1]):
        yield f"bundled-{shape.category}-{shape.shape_id}", trimesh.Trimesh(shape.vertices, shape.faces, process=False)
    for off in sorted(psb.glob("*/*.off")):
        shape = load_partmesh(off)
        yield f"psb-{off.parent.name}-{off.stem}", trimesh.Trimesh(shape.vertices, shape.faces, process=False)


def write(out: Path, psb: Path) -> None:
    from OpenGL import GL

    from sketchgen.files import atomic_write
    from sketchgen.render.draw import DrawConfig, draw_view
    from sketchgen.render.gbuffer import get_renderer
    from sketchgen.render.prepared import prepare

    out.mkdir(parents=True, exist_ok=True)
    renderer = get_renderer()
    driver = f"{GL.glGetString(GL.GL_RENDERER).decode()} | {GL.glGetString(GL.GL_VERSION).decode()}"
    atomic_write(out / "driver.txt", driver + "\n")
    print(driver)
    cams = cameras()
    for name, mesh in shapes(psb):
        prepared = prepare(mesh)
        g = [renderer.render(mesh, c, normals=False) for c in cams]
        views = [draw_view(mesh, c, DrawConfig(), index=i, prepared=prepared) for i, c in enumerate(cams)]
        np.savez_compressed(out / f"{name}.npz", face_id=np.stack([b.face_id for b in g]),
                            depth=np.stack([b.depth for b in g]), image=np.stack([v.image for v in views]),
                            xy=np.concatenate([v.strokes.xy for v in views]),
                            face=np.concatenate([v.strokes.face for v in views]),
                            counts=np.array([len(v.strokes.xy) for v in views]))
        print(f"{name}: {len(mesh.faces)} faces, {sum(len(v.strokes.xy) for v in views)} stroke vertices")


def compare(a: Path, b: Path) -> int:
    for d in (a, b):
        if (d / "driver.txt").is_file():
            print(f"{d}: {(d / 'driver.txt').read_text().strip()}")
    print(f"{'shape':<28}{'face differs':>13}{'max depth diff':>16}{'image >16':>11}{'vertices A / B':>18}"
          f"{'same strokes':>14}")
    names = sorted(p.name for p in a.glob("*.npz"))
    if not names:
        print(f"{a}: no .npz drawings")
        return 2
    for name in names:
        if not (b / name).is_file():
            print(f"{name[:-4]:<28} missing in {b}")
            continue
        x, y = np.load(a / name), np.load(b / name)
        face = float((x["face_id"] != y["face_id"]).mean())
        same = (x["face_id"] == y["face_id"]) & (x["face_id"] >= 0)
        depth = float(np.abs(x["depth"][same] - y["depth"][same]).max()) if same.any() else 0.0
        image = float((np.abs(x["image"].astype(int) - y["image"].astype(int)) > 16).mean())
        strokes = x["xy"].shape == y["xy"].shape and np.array_equal(x["face"], y["face"]) \
            and np.allclose(x["xy"], y["xy"], atol=1e-6)
        counts = f"{len(x['xy'])} / {len(y['xy'])}"
        print(f"{name[:-4]:<28}{face:>13.5f}{depth:>16.2e}{image:>11.5f}{counts:>18}{str(strokes):>14}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--compare"] and len(argv) == 3:
        return compare(Path(argv[1]), Path(argv[2]))
    if len(argv) in (1, 2) and not argv[0].startswith("-"):
        write(Path(argv[0]), Path(argv[1]) if len(argv) == 2 else PSB)
        return 0
    print(__doc__.splitlines()[2].strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
