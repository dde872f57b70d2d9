"""Triplet samples for descriptor training: their decoding into zoom stacks of anchor, positive and
negatives, with SketchZooms' rotation and flip augmentation (``make_triplet_decoder``), and the stream of
them (``triplet_stream``). Members are named by ``datagen.schema``.
"""

from __future__ import annotations

import numpy as np
import torch

from sketchgen.datagen.schema import TRIPLET_ROLES, negative_key, zoom_key
from sketchgen.render.errors import InputError
from sketchgen.train.images import decode_grey, rotate_flip, to_ink
from sketchgen.train.shards import ShardStream, list_shards

ROTATION_DEG = 45.0  # SketchZooms: rotation +-45 degrees about the point, horizontal flip p = 0.5
FLIP_P = 0.5


def triplet_zoom_count(sample: dict) -> int:
    n = 0
    while zoom_key("a", n) in sample:
        n += 1
    if n == 0:
        raise InputError("triplet without anchor zoom images (a0.png)")
    return n


def triplet_negative_count(sample: dict) -> int:
    """Negatives per anchor in a triplet sample: 1, plus one per ``n<k>_0.png`` member (``negative_key``)."""
    n = 1
    while negative_key(n, 0) in sample:
        n += 1
    return n


def make_triplet_decoder(size: int, *, augment: bool):
    """Decoder of triplet samples -> {"key": str, "zooms": (2 + K, Z, 1, S, S) float32 (anchor, positive,
    then the sample's K negatives in member order, ``datagen.schema``; K = 1 for a classic triplet)}. With
    ``augment``, each role gets its own rotation (uniform +-45 degrees) and flip (p=0.5), the same for all
    of its zooms."""

    def decode(sample: dict, rng: np.random.Generator) -> dict:
        z = triplet_zoom_count(sample)
        members = [[zoom_key(role, k) for k in range(z)] for role in TRIPLET_ROLES[:2]]
        members += [[negative_key(n, k) for k in range(z)] for n in range(triplet_negative_count(sample))]
        roles = []
        for keys in members:
            angle = float(rng.uniform(-ROTATION_DEG, ROTATION_DEG)) if augment else 0.0
            flip = bool(rng.random() < FLIP_P) if augment else False
            zooms = []
            for key in keys:
                if key not in sample:
                    raise InputError(f"missing member {key}")
                grey = decode_grey(sample[key], key)
                if augment:
                    grey = rotate_flip(grey, angle, flip)
                zooms.append(to_ink(grey, size))
            roles.append(np.stack(zooms)[:, None])
        return {"key": sample["__key__"], "zooms": torch.from_numpy(np.stack(roles))}

    return decode


def triplet_stream(root, split: str = "train", *, size: int = 224, augment: bool = True, **kwargs) -> ShardStream:
    return ShardStream(list_shards(root, split), make_triplet_decoder(size, augment=augment), **kwargs)
