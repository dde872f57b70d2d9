"""Triplet samples for descriptor training: their decoding into zoom stacks of anchor, positive and
negatives, with SketchZooms' rotation and flip augmentation (``make_triplet_decoder``), and the stream of
them (``triplet_stream``). Members are named by ``datagen.schema``.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from sketchgen.datagen.schema import image_name, negative_key, triplet_images, triplet_roles, view_key, zoom_key
from sketchgen.errors import InputError
from sketchgen.render.raster import compile_kernels
from sketchgen.train.images import decode_grey, rotate_flip, to_ink
from sketchgen.train.shards import ShardStream, list_shards

ROTATION_DEG = 45.0  # SketchZooms: rotation +-45 degrees about the point, horizontal flip p = 0.5
FLIP_P = 0.5


def _redrawn(sample: dict) -> bool:
    """A version-3 triplet (views' strokes, no images), ``datagen.schema``."""
    return view_key(0) in sample


def triplet_zoom_count(sample: dict, meta: dict | None = None) -> int:
    """Zooms per role of a triplet sample: from its JSON (version 3; ``meta`` when already parsed) or its
    ``a<z>.png`` members (2)."""
    if _redrawn(sample):
        n = len((meta or json.loads(sample["json"]))["anchor"]["views"])
    else:
        n = 0
        while zoom_key("a", n) in sample:
            n += 1
    if n == 0:
        raise InputError("triplet without anchor zooms (a0.png, or v0.strokes.npz and its JSON)")
    return n


def triplet_negative_count(sample: dict, meta: dict | None = None) -> int:
    """Negatives per anchor in a triplet sample: its JSON's ``negatives`` (version 3; ``meta`` when already
    parsed), or 1 plus one per ``n<k>_0.png`` member (version 2, ``negative_key``)."""
    if _redrawn(sample):
        return len(triplet_roles(meta or json.loads(sample["json"]))) - 2
    n = 1
    while negative_key(n, 0) in sample:
        n += 1
    return n


def make_triplet_decoder(size: int, *, augment: bool):
    """Decoder of triplet samples -> {"key": str, "zooms": (2 + K, Z, 1, S, S) float32 (anchor, positive,
    then the sample's K negatives in order, ``datagen.schema``; K = 1 for a classic triplet)}. A version-3
    sample's zooms are redrawn from its views' strokes (``datagen.schema.triplet_images``), a version-2
    one's decoded from its PNG members. With ``augment``, each role gets its own rotation (uniform +-45
    degrees) and flip (p=0.5), the same for all of its zooms."""

    def decode(sample: dict, rng: np.random.Generator) -> dict:
        meta = json.loads(sample["json"]) if _redrawn(sample) else None
        z = triplet_zoom_count(sample, meta)
        prefixes = ["a", "p"] + ["n" if k == 0 else f"n{k}" for k in range(triplet_negative_count(sample, meta))]
        if meta is not None:
            compile_kernels()  # a loader draws thousands of small batches: compiled, whatever their size
            images = triplet_images(sample, meta)
            grey_of = images.__getitem__
        else:
            def grey_of(name):
                if name not in sample:
                    raise InputError(f"missing member {name}")
                return decode_grey(sample[name], name)
        roles = []
        for prefix in prefixes:
            angle = float(rng.uniform(-ROTATION_DEG, ROTATION_DEG)) if augment else 0.0
            flip = bool(rng.random() < FLIP_P) if augment else False
            zooms = []
            for k in range(z):
                grey = grey_of(image_name(prefix, k))
                if augment:
                    grey = rotate_flip(grey, angle, flip)
                zooms.append(to_ink(grey, size))
            roles.append(np.stack(zooms)[:, None])
        return {"key": sample["__key__"], "zooms": torch.from_numpy(np.stack(roles))}

    return decode


def triplet_stream(root, split: str = "train", *, size: int = 224, augment: bool = True, **kwargs) -> ShardStream:
    return ShardStream(list_shards(root, split), make_triplet_decoder(size, augment=augment), **kwargs)
