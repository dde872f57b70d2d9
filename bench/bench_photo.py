"""Time per shaded image of a sketch-shaded pair: the clay shader (``--shading gbuffer``) and the photo
renderer (``--shading photo``, the default), on the bundled shapes at the pairs' default 256 px; and,
with ``--sheet PNG``, a contact sheet of photo-side samples (the one in docs/).

    python bench/bench_photo.py [--size 256] [--shapes 10] [--sheet docs/photo_samples.png]

Times are CPU seconds of the calling process (``time.process_time``: less sensitive to a busy machine
than wall time) and wall seconds, the mean over ``--shapes`` shapes x 3 views, G-buffers and ray-cast
scenes made beforehand (a pair set makes them for its lines anyway). The sheet's rows: bundled shapes
with random materials in the procedural studio; the same on background photos (scikit-image's bundled
sample photos); meshes with their own materials: trimesh's fuze.obj and capsule.obj (their UVs, with
a texture image put in place of the missing one), ShapeNetCore chairs and PartNet-Mobility objects
from ``../shared`` where present.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _renders(shape, size, seed, views=3):
    from sketchgen.datagen.pairs import ShapeRenders
    from sketchgen.datagen.plan import DATASET_WIDTH_PX
    from sketchgen.datagen.sketchviews import ViewConfig, base_cameras
    from sketchgen.render.draw import DrawConfig

    rng = np.random.default_rng(seed)
    cams = base_cameras(ViewConfig(views=views, size=size), rng)
    renders = ShapeRenders(shape, cams, DrawConfig(width=DATASET_WIDTH_PX))
    for i in range(views):
        renders.gbuffer(i)
    renders.prepared
    return renders, cams, rng


def timing(size: int, n_shapes: int) -> dict:
    from sketchgen.datagen.plan import load_shapes
    from sketchgen.datagen.pairs import shaded_image
    from sketchgen.render.shading import ShadeConfig

    shapes, _ = load_shapes(None)
    ids = sorted(shapes)[::max(1, len(shapes) // n_shapes)][:n_shapes]
    out = {}
    for name in ("gbuffer", "photo"):
        cfg, cpu, wall, n = ShadeConfig(renderer=name), 0.0, 0.0, 0
        for k, sid in enumerate(ids):
            renders, cams, rng = _renders(shapes[sid], size, k)
            for i in range(len(cams)):
                c, w = time.process_time(), time.perf_counter()
                shaded_image(renders, i, cams[i], rng, cfg)
                cpu += time.process_time() - c
                wall += time.perf_counter() - w
                n += 1
        out[name] = (1000.0 * cpu / n, 1000.0 * wall / n, n)
    return out


def _textured_copies(folder: Path) -> list[Path]:
    """trimesh's fuze.obj and capsule.obj (UV-mapped; their textures are not in the corpus) with
    scikit-image sample photos as their textures."""
    import cv2
    import skimage.data

    src = SHARED / "corpus" / "trimesh_models"
    out = []
    for obj, mtl, texture, photo in (("fuze.obj", "fuze.obj.mtl", "fuze uv.jpg", skimage.data.coffee()),
                                     ("capsule.obj", "capsule.mtl", "capsule0.jpg", skimage.data.brick())):
        if not (src / obj).is_file():
            continue
        shutil.copy(src / obj, folder / obj)
        shutil.copy(src / mtl, folder / mtl)
        photo = photo if photo.ndim == 3 else np.stack([photo] * 3, -1)
        cv2.imwrite(str(folder / texture), np.ascontiguousarray(photo[..., ::-1]))
        out.append(folder / obj)
    return out


def sheet(path: Path, size: int = 192) -> None:
    import cv2
    import skimage.data
    from PIL import Image

    from sketchgen.datagen.backgrounds import scan_backgrounds
    from sketchgen.datagen.plan import load_shapes
    from sketchgen.datagen.pairs import shaded_image
    from sketchgen.ingest.loaders import load_partmesh
    from sketchgen.render.shading import ShadeConfig

    tmp = Path(tempfile.mkdtemp(prefix="sketchgen-sheet-"))
    try:
        backs = tmp / "backgrounds"
        backs.mkdir()
        for name in ("coffee", "chelsea", "grass", "gravel", "astronaut", "rocket"):
            image = getattr(skimage.data, name)()
            image = image if image.ndim == 3 else np.stack([image] * 3, -1)
            cv2.imwrite(str(backs / f"{name}.png"), np.ascontiguousarray(image[..., :3][..., ::-1]))
        scan = scan_backgrounds(backs)
        studio = ShadeConfig()
        photos = ShadeConfig(backgrounds=scan.folder, background_files=scan.files,
                             backgrounds_sha256=scan.sha256)
        bundled, _ = load_shapes(None)
        ids = sorted(bundled)
        tiles = []
        for k, sid in enumerate(ids[3::15][:4]):
            renders, cams, rng = _renders(bundled[sid], size, 100 + k, views=1)
            tiles.append(shaded_image(renders, 0, cams[0], rng, studio))
        for k, sid in enumerate(ids[8::15][:4]):
            renders, cams, rng = _renders(bundled[sid], size, 200 + k, views=1)
            tiles.append(shaded_image(renders, 0, cams[0], rng, photos))
        own = [load_partmesh(p) for p in _textured_copies(tmp)]
        chairs = SHARED / "fixtures" / "realworld" / "shapenetcore_v2"
        if chairs.is_dir():
            shapes, _ = load_shapes(str(chairs))
            own += [shapes[s] for s in sorted(shapes)[:1]]
        mobility = SHARED / "corpus" / "partnet_mobility"
        if mobility.is_dir():
            shapes, _ = load_shapes(str(mobility))
            own += [shapes[s] for s in sorted(shapes)]
        for k, shape in enumerate(own[:4]):
            renders, cams, rng = _renders(shape, size, 300 + k, views=1)
            tiles.append(shaded_image(renders, 0, cams[0], rng, photos if k % 2 else studio))
        while len(tiles) % 4:
            tiles.append(np.full_like(tiles[0], 255))
        grid = np.concatenate([np.concatenate(tiles[i:i + 4], 1) for i in range(0, len(tiles), 4)], 0)
        # 256 colours (dithered): a third of the bytes of a full-colour PNG of noisy photos
        Image.fromarray(grid).quantize(256, method=Image.Quantize.MEDIANCUT,
                                       dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)
        print(f"contact sheet: {len(tiles)} samples, {path.stat().st_size / 1000:.0f} kB -> {path}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--shapes", type=int, default=10)
    parser.add_argument("--sheet", type=Path, default=None, help="also write a contact sheet of photo samples")
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_timing:
        for name, (cpu, wall, n) in timing(args.size, args.shapes).items():
            print(f"{name:8s} {cpu:6.0f} ms CPU  {wall:6.0f} ms wall  per {args.size} px image (mean of {n})")
    if args.sheet is not None:
        sheet(args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
