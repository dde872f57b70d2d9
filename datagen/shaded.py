"""The "photo" side A of sketch-shaded pairs: which shader draws it (``ShadeConfig.renderer``, a pair
set's option). The shaders themselves, and the ranges of their random look, are ``render.shading``'s;
they are re-exported here for code that imported them from this module.
"""

from __future__ import annotations

import numpy as np

from sketchgen.render.camera import Camera
from sketchgen.render.shading import ShadeConfig, pyrender_camera, shade_gbuffer, shaded_render

__all__ = ["ShadeConfig", "pyrender_camera", "shade_gbuffer", "shaded_image", "shaded_render"]

RENDERERS = ("gbuffer", "pyrender")  # ShadeConfig.renderer: shade_gbuffer (numpy, default) or shaded_render


def shaded_image(renders, i: int, camera: Camera, rng: np.random.Generator, config: ShadeConfig) -> np.ndarray:
    """(H, W, 3) uint8 RGB shaded image of base view ``i`` of ``renders`` (``datagen.pairs.ShapeRenders``:
    the shape and its G-buffers) seen by ``camera``, drawn by the shader ``config.renderer`` names."""
    if config.renderer == "pyrender":
        return shaded_render(renders.shape.trimesh, camera, rng, config)
    return shade_gbuffer(renders.shape, renders.gbuffer(i), rng, config)
