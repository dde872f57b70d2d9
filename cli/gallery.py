"""A gallery of drawings: a few procedural shapes from several views, as PNG, SVG and a contact sheet.

The first thing ``sketchgen demo`` writes (``<out>/gallery``): every line type the default drawing
uses (contours of smooth and faceted shapes, boundaries of an open shape, creases) on simple solids and
on the bundled collection's shapes, in the clean style and, in the last column, the sketchy style.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import trimesh

log = logging.getLogger(__name__)

SIZE_PX = 192
ELEVATION_DEG = 25.0
AZIMUTHS_DEG = (30.0, 120.0, 250.0)


def gallery_meshes() -> dict[str, trimesh.Trimesh]:
    """Shapes about the origin, within the unit sphere: a cube (creases), a torus (contours that
    end), an open cup (a boundary) and the first shape of each category of the bundled collection."""
    cup = trimesh.creation.cylinder(radius=0.5, height=1.0, sections=48)
    top = cup.face_normals[:, 2] > 0.9
    cup = trimesh.Trimesh(cup.vertices, cup.faces[~top], process=False)  # open top: a boundary loop
    cup.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # opening up (+Y)
    from sketchgen.ingest.procedural import load_bundled

    shapes = {
        "cube": trimesh.creation.box(extents=(1.1, 1.1, 1.1)),
        "torus": trimesh.creation.torus(major_radius=0.65, minor_radius=0.25, major_sections=64,
                                        minor_sections=32),
        "cup": cup,
    }
    for shape in load_bundled():
        shapes.setdefault(shape.category, shape.trimesh)
    return shapes


def draw_gallery(out_dir: str | Path, *, seed: int = 0) -> Path:
    """Draw ``gallery_meshes`` from three orbit views (clean) and one sketchy view each into ``out_dir``.

    Writes ``<shape>_<view>.png`` and ``.svg`` per drawing and ``contact_sheet.png``; returns the
    contact sheet's path.
    """
    from sketchgen.cli.commands.draw import write_view
    from sketchgen.files import atomic_write
    from sketchgen.render.draw import DrawConfig, draw_views
    from sketchgen.render.raster import encode_png
    from sketchgen.render.sheet import contact_sheet
    from sketchgen.render.views import orbit

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cameras = orbit([ELEVATION_DEG], AZIMUTHS_DEG, distance=3.2, width=SIZE_PX, height=SIZE_PX)
    sketchy_camera = orbit([ELEVATION_DEG + 10.0], [AZIMUTHS_DEG[0] + 15.0], distance=3.2, width=SIZE_PX,
                           height=SIZE_PX)
    clean = DrawConfig(width=1.2)
    sketchy = DrawConfig(width=1.6, style="sketchy", seed=seed)
    images, labels = [], []
    for name, mesh in gallery_meshes().items():
        views = list(draw_views(mesh, cameras, clean)) + list(draw_views(mesh, sketchy_camera, sketchy))
        for k, view in enumerate(views):
            tag = f"{name}_{k}" if k < len(cameras) else f"{name}_sketchy"
            write_view(view, out_dir / f"{tag}.png")
            images.append(view.image)
            label = f"az {AZIMUTHS_DEG[k]:.0f}" if k < len(cameras) else "sketchy"
            labels.append(f"{name} {label}, {len(view.drawing.strokes)} strokes")
    sheet = out_dir / "contact_sheet.png"
    atomic_write(sheet, encode_png(contact_sheet(images, labels, columns=len(cameras) + 1), compression=6))
    log.info("gallery: %d drawings in %s", len(images), out_dir)
    return sheet
