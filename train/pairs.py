"""Pair samples for the warp estimator and the evaluation: their members decoded into arrays at a chosen
size (``decode_pair_arrays``: images, ink, strokes, flow, masks, keypoints), the flow resized with its
image (``resize_flow``), the training decoder (``make_pair_decoder``) and the stream (``pair_stream``).
Members are named by ``datagen.schema``.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch

from sketchgen.datagen.schema import PAIR_FLOW, PAIR_IMAGES, PAIR_MASKS, strokes_key
from sketchgen.errors import InputError
from sketchgen.render.camera import pixel_centres
from sketchgen.train.backbones import PHOTO, SKETCH
from sketchgen.train.images import decode_grey, decode_rgb, to_ink, to_rgb
from sketchgen.train.shards import ShardStream, list_shards


def pair_meta(sample: dict) -> dict:
    if "json" not in sample:
        raise InputError("pair without its json member")
    meta = json.loads(sample["json"])
    if meta.get("kind") != "pair":
        raise InputError(f"not a pair sample (kind {meta.get('kind')!r})")
    return meta


def load_flow(data: bytes) -> np.ndarray:
    """flow.npy bytes -> (H, W, 2) float32 (NaN = no correspondence)."""
    import io

    flow = np.load(io.BytesIO(data), allow_pickle=False)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise InputError(f"flow.npy has shape {flow.shape}, expected (H, W, 2)")
    return flow.astype(np.float32)


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """Dense flow of an H x W image -> the flow of the same image resized to size x size.

    Each new pixel's target is the mean target of the old pixels it covers (NaN unless at least half are
    valid), scaled: exact for affine flow when H is a multiple of ``size``. (H, W, 2) -> (S, S, 2) float32.
    """
    h, w = flow.shape[:2]
    if (h, w) == (size, size):
        return flow
    if h % size or w % size:
        raise InputError(f"flow of {w}x{h} cannot be resized to {size}x{size} (need a divisor)")
    ky, kx = h // size, w // size
    target = flow + pixel_centres(w, h).reshape(h, w, 2).astype(np.float32)
    ok = np.isfinite(target).all(-1)
    blocks_t = np.where(ok[..., None], target, 0.0).reshape(size, ky, size, kx, 2).sum((1, 3))
    blocks_n = ok.reshape(size, ky, size, kx).sum((1, 3)).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = blocks_t / blocks_n[..., None]
    mean_t[blocks_n < 0.5 * ky * kx] = np.nan
    new_target = mean_t * np.array([1.0 / kx, 1.0 / ky], np.float32)
    return (new_target - pixel_centres(size, size).reshape(size, size, 2).astype(np.float32)).astype(np.float32)


def pair_domains(meta: dict) -> tuple[int, int]:
    """(domain of A, domain of B), ``backbones.PHOTO`` or ``SKETCH`` (PSC's batch-norm ``cond``): in a
    ``sketch-shaded`` pair A is the photo side, every other image a drawing."""
    return (PHOTO if meta.get("modality") == "sketch-shaded" else SKETCH), SKETCH


def pair_keypoints(meta: dict, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints visible in both images, matched by id: (K, 2), (K, 2) float64 pixels in A and in B."""
    a = {k["id"]: k for k in meta.get("a", {}).get("keypoints", []) if k.get("visible", True)}
    b = {k["id"]: k for k in meta.get("b", {}).get("keypoints", []) if k.get("visible", True)}
    ids = [i for i in a if i in b]
    s = np.asarray(scale, np.float64)
    ka = np.array([a[i]["xy"] for i in ids], np.float64).reshape(-1, 2) * s
    kb = np.array([b[i]["xy"] for i in ids], np.float64).reshape(-1, 2) * s
    return ka, kb


def decode_pair_arrays(sample: dict, size: int | None = None, *, with_strokes: bool = True,
                       rgb: bool = False) -> dict:
    """A pair sample as arrays: {"key", "meta", "a", "b": (S, S) float32 ink, "a_grey", "b_grey": (S, S)
    uint8, "a_strokes", "b_strokes": ``StrokeArrays`` in the pixels of the S x S images (None for a
    shaded image), "flow": (S, S, 2) float32 pixels (NaN invalid), "amask", "bmask": (S, S) bool, "kp_a",
    "kp_b": (K, 2) float64 pixels}. ``size`` None keeps the stored size. with_strokes False: the strokes
    are not read (None), so a reader of images and flow alone takes sets built before strokes were stored.
    rgb: also "a_rgb", "b_rgb": (S, S, 3) uint8 RGB as stored (a photo keeps its colours; a drawing is
    grey in three channels), area-resampled to S."""
    meta = pair_meta(sample)
    for name in (*PAIR_IMAGES, PAIR_FLOW):
        if name not in sample:
            raise InputError(f"missing member {name}")
    grey_a = decode_grey(sample[PAIR_IMAGES[0]], PAIR_IMAGES[0])
    grey_b = decode_grey(sample[PAIR_IMAGES[1]], PAIR_IMAGES[1])
    flow = load_flow(sample[PAIR_FLOW])
    h, w = grey_a.shape
    if flow.shape[:2] != (h, w):
        raise InputError(f"flow.npy is {flow.shape[1]}x{flow.shape[0]} but a.png is {w}x{h}")
    size = h if size is None else size
    masks = []
    for name, grey in zip(PAIR_MASKS, (grey_a, grey_b)):
        m = decode_grey(sample[name], name) > 127 if name in sample else grey < 250
        masks.append(cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0)
    resized = [cv2.resize(g, (size, size), interpolation=cv2.INTER_AREA) if g.shape != (size, size) else g
               for g in (grey_a, grey_b)]
    kp_a, kp_b = pair_keypoints(meta, (size / w, size / h))
    strokes = {f"{side}_strokes": pair_strokes(sample, f"{side}.png", (size / w, size / h)) if with_strokes
               else None for side in "ab"}
    if rgb:
        for side, name in zip("ab", PAIR_IMAGES):
            colour = decode_rgb(sample[name], name)
            if colour.shape[:2] != (size, size):
                colour = cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA)
            strokes[f"{side}_rgb"] = colour
    return {"key": sample["__key__"], "meta": meta, "a_grey": resized[0], "b_grey": resized[1], **strokes,
            "a": to_ink(resized[0]), "b": to_ink(resized[1]), "flow": resize_flow(flow, size),
            "amask": masks[0], "bmask": masks[1], "kp_a": kp_a, "kp_b": kp_b}


def pair_strokes(sample: dict, image: str, scale=(1.0, 1.0)):
    """The strokes stored beside ``image`` (``<image>.strokes.npz``), their ``xy`` scaled by ``scale``
    (x, y) to a resized image; None when the image has none (a shaded render). Raises InputError when
    a line drawing lacks them (a set built before strokes were stored: rebuild it) or they are corrupt."""
    from sketchgen.render.strokearrays import StrokeArrays

    name = strokes_key(image)
    if name not in sample:
        meta = json.loads(sample["json"]) if "json" in sample else {}
        if image == PAIR_IMAGES[0] and meta.get("modality") == "sketch-shaded":
            return None
        raise InputError(f"no {name} beside {image} (a dataset built before sketchgen stored strokes: rebuild it)")
    try:
        strokes = StrokeArrays.from_npz(sample[name])
    except (ValueError, OSError) as exc:
        raise InputError(f"{name}: {exc}") from None
    if tuple(scale) != (1.0, 1.0):
        strokes = strokes.moved(strokes.xy.astype(np.float64) * np.asarray(scale, np.float64))
    return strokes


def make_pair_decoder(size: int, channels: int = 1):
    """Decoder of pair samples for training -> {"key", "a", "b", "a_domain", "b_domain": int
    (``pair_domains``), "flow": (S, S, 2) float32 pixels A -> B (NaN invalid)}. channels 1 (grey encoders): "a", "b" are (1, S, S) float32 ink (1 on a stroke, a
    shaded photo turned grey and inverted); channels 3 (RGB encoders): (3, S, S) float32 RGB in [0, 1] as
    stored, a photo in its colours and a drawing black on white (any normalisation is the network's)."""
    if channels not in (1, 3):
        raise ValueError(f"pairs decode to 1 (ink) or 3 (RGB) channels, not {channels}")

    def decode(sample: dict, rng: np.random.Generator) -> dict:
        p = decode_pair_arrays(sample, size, with_strokes=False, rgb=channels == 3)  # images and flow only
        a, b = network_inputs(p, channels)
        da, db = pair_domains(p["meta"])
        return {"key": p["key"], "a": a, "b": b, "a_domain": da, "b_domain": db, "flow": torch.from_numpy(p["flow"])}

    return decode


def network_inputs(pair: dict, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoded pair's two images as an encoder of ``channels`` reads them: 1, (1, S, S) float32 ink;
    3, (3, S, S) float32 RGB in [0, 1] (``images.to_rgb``; the pair decoded with ``rgb=True``)."""
    if channels == 3:
        return torch.from_numpy(to_rgb(pair["a_rgb"])), torch.from_numpy(to_rgb(pair["b_rgb"]))
    return torch.from_numpy(pair["a"])[None], torch.from_numpy(pair["b"])[None]


def pair_stream(root, split: str = "train", *, size: int = 256, channels: int = 1, **kwargs) -> ShardStream:
    """Training pairs of ``split`` under ``root`` (``make_pair_decoder``: ``channels`` 1 ink, 3 RGB)."""
    return ShardStream(list_shards(root, split), make_pair_decoder(size, channels), **kwargs)
