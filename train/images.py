"""Decoding and cropping of drawings for the networks: PNG bytes to grey (``decode_grey``) or RGB
(``decode_rgb``, for encoders that take colour), grey to
"ink" (``to_ink``: float32, 1 where the drawing is black, 0 on white paper), the triplets' rotation and
flip augmentation (``rotate_flip``), and windows cut around points of a drawing (``crop``,
``zoom_crops``).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from sketchgen.errors import InputError


def decode_grey(data: bytes, name: str = "image") -> np.ndarray:
    """PNG bytes -> (H, W) uint8 grey (RGB is converted). Raises InputError if it is not an image."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{name} is not a readable image")
    return img


def decode_rgb(data: bytes, name: str = "image") -> np.ndarray:
    """PNG bytes -> (H, W, 3) uint8 RGB (a grey image gives three equal channels; alpha is dropped).
    Raises InputError if it is not an image."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{name} is not a readable image")
    return np.ascontiguousarray(img[..., ::-1])


def to_rgb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 in [0, 1] (a photo in its colours, a drawing black on
    white); an encoder's own normalisation, if any, is inside the network."""
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)


def to_ink(grey: np.ndarray, size: int | None = None) -> np.ndarray:
    """(H, W) uint8 grey, white paper -> (S, S) float32 ink in [0, 1], area-resampled to ``size``, and
    scaled so its darkest pixel is 1: thin lines shrunk by resampling keep full contrast, which makes
    drawings of different stroke widths and resolutions look alike to the network."""
    if size is not None and grey.shape != (size, size):
        interp = cv2.INTER_AREA if grey.shape[0] > size else cv2.INTER_LINEAR
        grey = cv2.resize(grey, (size, size), interpolation=interp)
    ink = 1.0 - grey.astype(np.float32) / 255.0
    peak = float(ink.max())
    return ink / peak if peak > 1e-3 else ink


def rotate_flip(grey: np.ndarray, angle_deg: float, flip: bool) -> np.ndarray:
    """Rotate (counter-clockwise on screen, degrees) about the image centre, then mirror left-right if
    ``flip``; the centre (W/2, H/2), where a triplet's point lies, stays fixed. Paper fills the corners."""
    h, w = grey.shape
    # cv2's pixel centres are at integer coordinates, sketchgen's at +0.5: the centre is (w/2 - 0.5, h/2 - 0.5)
    m = cv2.getRotationMatrix2D((w / 2.0 - 0.5, h / 2.0 - 0.5), angle_deg, 1.0)
    out = cv2.warpAffine(grey, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=255)
    return out[:, ::-1].copy() if flip else out


def crop(grey: np.ndarray, centre, half: float, size: int) -> np.ndarray:
    """Square window of half-size ``half`` px centred at ``centre`` (x, y) from an (H, W) uint8 image,
    area-resampled to (size, size) uint8; outside the image is paper (255)."""
    h = int(round(half))
    x0 = int(np.floor(centre[0])) - h
    y0 = int(np.floor(centre[1])) - h
    pad = cv2.copyMakeBorder(grey, 2 * h, 2 * h, 2 * h, 2 * h, cv2.BORDER_CONSTANT, value=255)
    win = pad[y0 + 2 * h:y0 + 4 * h, x0 + 2 * h:x0 + 4 * h]
    interp = cv2.INTER_AREA if 2 * h > size else cv2.INTER_LINEAR
    return cv2.resize(win, (size, size), interpolation=interp)


def zoom_crops(grey: np.ndarray, centres: np.ndarray, halves, size: int) -> torch.Tensor:
    """Zoom stacks for points of a whole drawing: for each centre (N, 2) and each window half-size in
    ``halves`` (px, largest first), the window resampled to ``size``: (N, Z, 1, S, S) float32 ink."""
    centres = np.asarray(centres, np.float64).reshape(-1, 2)
    out = np.zeros((len(centres), len(halves), 1, size, size), np.float32)
    for i, c in enumerate(centres):
        for k, half in enumerate(halves):
            out[i, k, 0] = to_ink(crop(grey, c, half, size))
    return torch.from_numpy(out)
