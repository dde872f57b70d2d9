"""Zoom images of points drawn from a drawing's stored strokes (``StrokeZooms``), and the drawing (image
size, stroke width) at which a descriptor's zooms are drawn: the triplet builder's (``TRIPLET_DRAWING``),
a pair set's points' (``point_drawing``) and a dataset's (``zoom_drawing_of``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sketchgen.train.images import to_ink
from sketchgen.datagen.manifest import drawing_width, read_dataset_manifest

TRIPLET_DRAWING = (224, 1.5)  # the triplet builder's zoom image size and stroke width, px


def point_drawing(size: int) -> tuple[int, float]:
    """(image size px, stroke width px) at which the zooms of a pair set's points are drawn for a
    descriptor of input ``size``: the input size itself, with the triplets' stroke width scaled to it
    (1.5 px at 224). It looks like a triplet zoom resampled to ``size``, at a twelfth of the rasterising
    cost at 64 px (measured: drawing at 224 made decoding, not the network, the cost of a step)."""
    native, width = TRIPLET_DRAWING
    return size, width * size / native


def zoom_drawing_of(root: str | Path, size: int) -> tuple[int, float]:
    """(image size px, stroke width px) at which a descriptor of input ``size`` trained on the dataset at
    ``root`` sees its zooms drawn: a triplet set's from its manifest (the builder's 224 and 1.5 by
    default), a pair set's ``point_drawing(size)``."""
    manifest = read_dataset_manifest(root, required=False)
    if manifest.get("dataset", "triplets") == "pairs":
        return point_drawing(size)
    config = manifest.get("config", {})
    return int(config.get("size", TRIPLET_DRAWING[0])), drawing_width(config, TRIPLET_DRAWING[1])


class StrokeZooms:
    """Zoom images of points of a drawing, drawn from its stored strokes the way the triplets' zooms are.

    A triplet's zooms are re-rasterised per zoom with a constant stroke width; a window cut from a
    fixed-resolution drawing instead thickens its lines in proportion to the zoom. So every window is
    drawn afresh from the sample's strokes (``<image>.strokes.npz``, ``render.strokearrays``) by the
    triplets' own rasteriser (``render.raster``, exact fractional width) at ``native`` px with
    ``width`` px lines (times the strokes' own pressure weights), then resampled to the network's input by
    ``to_ink`` exactly as ``make_triplet_decoder`` resamples a triplet's zoom.

    strokes: ``StrokeArrays`` with ``xy`` in the pixels of the caller's centres (``decode_pair_arrays``
    scales them with the images).
    """

    CANVAS_PIXELS = 1 << 24  # padded canvas pixels drawn per rasteriser call (64 MB of float32 ink)

    def __init__(self, strokes, *, native: int = 224, width: float = 1.5):
        self.strokes, self.native, self.width = strokes, native, width

    def windows(self, centres: np.ndarray, halves) -> np.ndarray:
        """(N, Z, native, native) uint8 drawings (white paper) of the windows of half-size ``halves`` px
        (Z of them) around each of the (N, 2) ``centres``, with ``width`` px lines at ``native`` px
        (``render.strokearrays.draw_windows``, compiled: the same pixels as one window at a time)."""
        from sketchgen.render.raster import compile_kernels
        from sketchgen.render.strokearrays import draw_windows

        compile_kernels()  # an evaluation or a loader draws many windows: compiled, whatever their count
        centres = np.asarray(centres, np.float64).reshape(-1, 2)
        n, z = len(centres), len(halves)
        jobs = np.array([(0.0, c[0], c[1], float(h)) for c in centres for h in halves], np.float64).reshape(-1, 4)
        out = np.full((n * z, self.native, self.native), 255, np.uint8)
        step = max(1, self.CANVAS_PIXELS // (self.native + 16) ** 2)
        for start in range(0, len(jobs), step):
            chunk = jobs[start:start + step]
            out[start:start + len(chunk)] = draw_windows([self.strokes], chunk, self.native, line_width=self.width)
        return out.reshape(n, z, self.native, self.native)

    def zooms(self, centres: np.ndarray, halves, size: int) -> torch.Tensor:
        """(N, Z, 1, size, size) float32 ink, like ``make_triplet_decoder``'s zooms (without augmentation)."""
        grey = self.windows(centres, halves)
        out = np.zeros((*grey.shape[:2], 1, size, size), np.float32)
        for i in range(grey.shape[0]):
            for k in range(grey.shape[1]):
                out[i, k, 0] = to_ink(grey[i, k], size)
        return torch.from_numpy(out)
