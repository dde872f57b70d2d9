"""Contact sheets: many images on one page, each with a label underneath, for previews and demos."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BACKGROUND = 255
LABEL_PX = 14  # height of the label strip under each tile


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str] | None = None, *,
                  columns: int | None = None, pad: int = 4) -> np.ndarray:
    """Tile ``images`` row-major on a white page, each with its label below it.

    images: (H_k, W_k) uint8 grey or (H_k, W_k, 3) uint8 BGR; tiles are the largest image's size and
    smaller images sit at their tile's top-left. labels: one string per image (or None).
    columns: tiles per row (default: about square). Returns (rows, cols) uint8 when every image is grey,
    else (rows, cols, 3) uint8 BGR; a 1x1 white page when there are no images.
    """
    import cv2

    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    if not images:
        return np.full((1, 1), BACKGROUND, np.uint8)
    colour = any(np.asarray(im).ndim == 3 for im in images)
    tile_h = max(im.shape[0] for im in images)
    tile_w = max(im.shape[1] for im in images)
    label_h = LABEL_PX if labels is not None else 0
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    cell_h, cell_w = tile_h + label_h + pad, tile_w + pad
    shape = (rows * cell_h + pad, columns * cell_w + pad) + ((3,) if colour else ())
    page = np.full(shape, BACKGROUND, np.uint8)
    for k, image in enumerate(images):
        image = np.asarray(image, dtype=np.uint8)
        if colour and image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        top, left = pad + (k // columns) * cell_h, pad + (k % columns) * cell_w
        page[top:top + image.shape[0], left:left + image.shape[1]] = image
        # a thin grey frame shows each tile's extent on the white page
        cv2.rectangle(page, (left - 1, top - 1), (left + tile_w, top + tile_h), (200, 200, 200) if colour else 200, 1)
        if labels is not None and labels[k]:
            text = _fit(labels[k], tile_w)
            cv2.putText(page, text, (left + 1, top + tile_h + label_h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (0, 0, 0) if colour else 0, 1, cv2.LINE_AA)
    return page


def _fit(text: str, width_px: int) -> str:
    """``text`` cut (with '..') to fit ``width_px`` at the label font."""
    import cv2

    while len(text) > 2:
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.35, 1)
        if w <= width_px - 2:
            break
        text = text[:-3] + ".."
    return text
