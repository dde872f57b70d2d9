"""The "photo" side A of sketch-shaded pairs: which shader draws it (``ShadeConfig.renderer``, a pair
set's option), with what it reads from files: the shape's own materials (``ingest.materials``) and the
user's background photos (``datagen.backgrounds``). The shaders themselves, and the ranges of their
random look, are ``render.shading``'s and ``render.photo``'s; they are re-exported here for code that
imported them from this module.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from sketchgen.render.camera import Camera
from sketchgen.render.shading import ShadeConfig, pyrender_camera, shade_gbuffer, shaded_render

__all__ = ["ShadeConfig", "pyrender_camera", "shade_gbuffer", "shaded_image", "shaded_render"]

# ShadeConfig.renderer: render.photo (default), shade_gbuffer (numpy clay) or shaded_render (pyrender clay)
RENDERERS = ("photo", "gbuffer", "pyrender")
MATERIALS = ("own", "random")

_APPEARANCES: dict[int, tuple] = {}  # id(shape) -> (shape, appearance, notes); the shape keeps the id alive


def shape_look(shape):
    """(Appearance or None, notes) of a PartMesh's own materials (``ingest.materials``), read once."""
    from sketchgen.ingest.materials import shape_appearance

    key = id(shape)
    if key not in _APPEARANCES:
        if len(_APPEARANCES) > 8:  # a unit touches a shape and a partner
            _APPEARANCES.clear()
        _APPEARANCES[key] = (shape, *shape_appearance(shape))
    return _APPEARANCES[key][1:]


def shaded_image(renders, i: int, camera: Camera, rng: np.random.Generator, config: ShadeConfig,
                 problems: Counter | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB shaded image of base view ``i`` of ``renders`` (``datagen.pairs.ShapeRenders``:
    the shape and its G-buffers) seen by ``camera``, drawn by the shader ``config.renderer`` names.
    problems: where the photo renderer counts what it could not use of the shape's files (a missing
    texture: the material's colour instead), one line each naming the file."""
    if config.renderer == "pyrender":
        return shaded_render(renders.shape.trimesh, camera, rng, config)
    if config.renderer == "gbuffer":
        return shade_gbuffer(renders.shape, renders.gbuffer(i), rng, config)
    from sketchgen.render.photo import render_photo

    appearance, notes = shape_look(renders.shape) if config.materials == "own" else (None, [])
    if problems is not None:
        for note in notes:
            problems[note] += 1
    background = None
    if config.background_files:
        from sketchgen.datagen.backgrounds import load_background

        name = config.background_files[int(rng.integers(len(config.background_files)))]
        background = load_background(config.backgrounds, name, max(camera.width, camera.height))
    return render_photo(renders.shape, renders.gbuffer(i), rng, config.photo, appearance=appearance,
                        background=background, prepared=renders.prepared)
