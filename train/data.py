"""Streaming torch datasets over sketchgen's shards, and the decoding of triplet and pair samples (and of
pairs into descriptor training points).

Splitting across DataLoader workers and distributed ranks is the default and is exact: each of the
``world_size x num_workers`` consumers gets a disjoint part of the stream and together they get all of it.
With at least as many shards as consumers, whole shards are dealt out (``shards[c::n]``: each shard is
read once); with fewer, every consumer reads all shards and keeps every n-th sample. Rank and world
size come from ``torch.distributed`` when it is initialised, else from the ``RANK`` / ``WORLD_SIZE``
environment variables (set by ``torchrun``), else 0 and 1; they can also be given explicitly.

Images become float32 "ink" arrays: 1 where the drawing is black, 0 on white paper.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from sketchgen.datagen.schema import (MANIFEST, PAIR_FLOW, PAIR_IMAGES, PAIR_MASKS, SPLITS, TRIPLET_ROLES,
                                      negative_key, strokes_key, zoom_key)
from sketchgen.datagen.shards import read_shard
from sketchgen.render.camera import pixel_centres
from sketchgen.render.errors import InputError
from sketchgen.render.views import sketchzooms_factors

ROTATION_DEG = 45.0  # SketchZooms: rotation +-45 degrees about the point, horizontal flip p = 0.5
FLIP_P = 0.5
TRIPLET_DRAWING = (224, 1.5)  # the triplet builder's zoom image size and stroke width, px
NEAR_NEGATIVE_PX = (8.0, 48.0)  # training points of pairs: "near" negatives lie this far from the true match


# ----------------------------------------------------------------------------------- shards and splitting
def list_shards(root: str | Path, split: str) -> list[Path]:
    """Sorted ``<root>/<split>/*.tar``. Raises InputError naming the folder when there are none."""
    root = Path(root)
    if split not in SPLITS:
        raise InputError(f"{root}: unknown split {split!r} (choose from {', '.join(SPLITS)})")
    if not root.is_dir():
        raise InputError(f"{root}: no such dataset folder")
    shards = sorted((root / split).glob("*.tar"))
    if not shards:
        raise InputError(f"{root / split}: no shards (*.tar) in this split")
    return shards


def read_manifest(root: str | Path) -> dict:
    """The dataset's ``manifest.json`` as a dict ({} when absent). Raises InputError if it is corrupt."""
    path = Path(root) / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def dataset_kind(root: str | Path) -> str:
    """"triplets" or "pairs", from the dataset's manifest ("triplets" when it has none)."""
    return read_manifest(root).get("dataset", "triplets")


def zoom_drawing_of(root: str | Path, size: int) -> tuple[int, float]:
    """(image size px, stroke width px) at which a descriptor of input ``size`` trained on the dataset at
    ``root`` sees its zooms drawn: a triplet set's from its manifest (the builder's 224 and 1.5 by
    default), a pair set's ``point_drawing(size)``."""
    manifest = read_manifest(root)
    if manifest.get("dataset", "triplets") == "pairs":
        return point_drawing(size)
    config = manifest.get("config", {})
    return int(config.get("size", TRIPLET_DRAWING[0])), float(config.get("lines", {}).get("width", TRIPLET_DRAWING[1]))


def distributed_rank() -> tuple[int, int]:
    """(rank, world_size) from torch.distributed when initialised, else from the environment, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def consumer_index(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(index, count) of this consumer among all ranks x DataLoader workers."""
    if rank is None or world_size is None:
        r, w = distributed_rank()
        rank = r if rank is None else rank
        world_size = w if world_size is None else world_size
    info = get_worker_info()
    worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside world size {world_size}")
    return rank * workers + worker, world_size * workers


class ShardStream(IterableDataset):
    """Samples of a list of shards, decoded by ``decode(sample, rng)``, split across workers and ranks.

    shuffle: permute the shard order per epoch (same on every consumer: seeded by (seed, epoch)) and mix
      samples through a buffer of ``buffer`` samples (seeded by (seed, epoch, consumer)).
    repeat: loop over epochs for ever (training); otherwise one pass.
    decode gets a ``np.random.Generator`` for augmentation, seeded by (seed, epoch, consumer).
    expand: ``decode`` returns a list of samples (e.g. the points of one pair), each of which is a sample
      of the stream; they are decoded as their shard sample is read and mixed through the buffer one by one.
    A sample that fails to decode raises InputError naming its shard and key.
    """

    def __init__(self, shards: list[Path], decode: Callable[[dict, np.random.Generator], dict | list[dict]], *,
                 shuffle: bool = False, repeat: bool = False, seed: int = 0, buffer: int = 64,
                 rank: int | None = None, world_size: int | None = None, epoch: int = 0, expand: bool = False):
        super().__init__()
        self.shards = [Path(s) for s in shards]
        self.decode = decode
        self.shuffle, self.repeat, self.seed, self.buffer = shuffle, repeat, seed, max(1, buffer)
        self.expand = expand
        self.rank, self.world_size, self.epoch = rank, world_size, epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def keys(self, epoch: int | None = None) -> Iterator[tuple[Path, dict]]:
        """This consumer's raw samples of one epoch, undecoded, in stream order (before the buffer)."""
        epoch = self.epoch if epoch is None else epoch
        me, n = consumer_index(self.rank, self.world_size)
        order = list(self.shards)
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(order))
            order = [order[i] for i in perm]
        if len(order) >= n:
            for shard in order[me::n]:
                for sample in read_shard(shard):
                    yield shard, sample
        else:
            k = 0
            for shard in order:
                for sample in read_shard(shard):
                    if k % n == me:
                        yield shard, sample
                    k += 1

    def __iter__(self) -> Iterator[dict]:
        epoch = self.epoch
        while True:
            me, n = consumer_index(self.rank, self.world_size)
            rng = np.random.default_rng([self.seed, epoch, me])
            yielded = 0
            for sample in self._epoch(epoch, rng):
                yielded += 1
                yield sample
            if not self.repeat:
                return
            if yielded == 0:  # repeating would wait for ever
                raise InputError(f"{self.shards[0].parent}: consumer {me + 1} of {n} got no samples in a whole "
                                 f"epoch (fewer samples than workers x ranks, or none usable here: a pair set "
                                 f"without sketch-sketch pairs gives the descriptor no points)")
            epoch += 1

    def _epoch(self, epoch: int, rng: np.random.Generator) -> Iterator[dict]:
        # the pool holds raw samples, decoded as they leave it; with ``expand`` it holds decoded ones
        pool: list = []
        for item in self.keys(epoch):
            entries = self._decode(item, rng) if self.expand else [item]
            if not self.shuffle:
                for entry in entries:
                    yield entry if self.expand else self._decode(entry, rng)
                continue
            pool.extend(entries)
            while len(pool) >= self.buffer:
                yield self._take(pool, rng)
        while pool:
            yield self._take(pool, rng)

    def _take(self, pool: list, rng: np.random.Generator) -> dict:
        entry = pool.pop(int(rng.integers(len(pool))))
        return entry if self.expand else self._decode(entry, rng)

    def _decode(self, item: tuple[Path, dict], rng: np.random.Generator) -> dict:
        shard, sample = item
        try:
            return self.decode(sample, rng)
        except InputError as exc:
            raise InputError(f"{shard}: sample {sample.get('__key__')}: {exc}") from None
        except (KeyError, ValueError, cv2.error) as exc:
            raise InputError(f"{shard}: sample {sample.get('__key__')}: cannot decode ({exc})") from None


# ----------------------------------------------------------------------------------- images
def decode_grey(data: bytes, name: str = "image") -> np.ndarray:
    """PNG bytes -> (H, W) uint8 grey (RGB is converted). Raises InputError if it is not an image."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{name} is not a readable image")
    return img


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


class StrokeZooms:
    """Zoom images of points of a drawing, drawn from its stored strokes the way the triplets' zooms are.

    A triplet's zooms are re-rasterised per zoom with a constant stroke width; a window cut from a
    fixed-resolution drawing instead thickens its lines in proportion to the zoom. So every window is
    drawn afresh from the sample's strokes (``<image>.strokes.npz``, ``render.strokearrays``) by the
    triplets' own rasteriser (``render.raster``, exact fractional width, pure numpy) at ``native`` px with
    ``width`` px lines (times the strokes' own pressure weights), then resampled to the network's input by
    ``to_ink`` exactly as ``make_triplet_decoder`` resamples a triplet's zoom.

    strokes: ``StrokeArrays`` with ``xy`` in the pixels of the caller's centres (``decode_pair_arrays``
    scales them with the images).
    """

    BATCH = 48  # windows drawn per rasteriser call (48 x 224 x 224 float32 canvases: about 10 MB)

    def __init__(self, strokes, *, native: int = 224, width: float = 1.5):
        self.strokes, self.native, self.width = strokes, native, width

    def windows(self, centres: np.ndarray, halves) -> np.ndarray:
        """(N, Z, native, native) uint8 drawings (white paper) of the windows of half-size ``halves`` px
        (Z of them) around each of the (N, 2) ``centres``, with ``width`` px lines at ``native`` px."""
        from sketchgen.render.raster import segment_image_batch
        from sketchgen.render.strokearrays import window_segments

        centres = np.asarray(centres, np.float64).reshape(-1, 2)
        n, z = len(centres), len(halves)
        out = np.full((n * z, self.native, self.native), 255, np.uint8)
        jobs = [(c, half) for c in centres for half in halves]
        for start in range(0, len(jobs), self.BATCH):
            parts = []
            for k, (c, half) in enumerate(jobs[start:start + self.BATCH]):
                a, b, wa, wb = window_segments(self.strokes, c, half, self.native, self.width)
                parts.append((a, b, wa, wb, np.full(len(a), k, np.int64)))
            a, b, wa, wb, image = (np.concatenate(p) for p in zip(*parts))
            count = len(parts)
            out[start:start + count] = segment_image_batch(a, b, wa, wb, image, count, self.native, self.native)
        return out.reshape(n, z, self.native, self.native)

    def zooms(self, centres: np.ndarray, halves, size: int) -> torch.Tensor:
        """(N, Z, 1, size, size) float32 ink, like ``make_triplet_decoder``'s zooms (without augmentation)."""
        grey = self.windows(centres, halves)
        out = np.zeros((*grey.shape[:2], 1, size, size), np.float32)
        for i in range(grey.shape[0]):
            for k in range(grey.shape[1]):
                out[i, k, 0] = to_ink(grey[i, k], size)
        return torch.from_numpy(out)


# ----------------------------------------------------------------------------------- points of pairs
def thin(points: np.ndarray, cell: float, rng: np.random.Generator) -> np.ndarray:
    """One point per ``cell`` x ``cell`` square, chosen at random: (M, 2) -> (K, 2)."""
    if len(points) == 0:
        return points
    order = rng.permutation(len(points))
    cells = np.floor(points[order] / cell).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return points[order[np.sort(first)]]


def correspondence_points(pair: dict, rng: np.random.Generator, *, anchors: int = 40, anchor_px: float = 6.0,
                          candidate_px: float = 3.0, on_stroke_px: float = 2.0):
    """(anchors_xy (N, 2) in A, true_xy (N, 2) in B, candidates_xy (M, 2) in B), pixels."""
    ink_a, ink_b, flow = pair["a"], pair["b"], pair["flow"]
    stroke_b = ink_b > 0.5
    dist_b = cv2.distanceTransform((~stroke_b).astype(np.uint8), cv2.DIST_L2, 5)
    rows, cols = np.nonzero((ink_a > 0.5) & np.isfinite(flow).all(-1))
    xy = np.stack([cols + 0.5, rows + 0.5], 1)
    true = xy + flow[rows, cols]
    h, w = ink_b.shape
    ti = np.clip(np.floor(true).astype(int), 0, [w - 1, h - 1])
    ok = ((true >= 0) & (true < [w, h])).all(1) & (dist_b[ti[:, 1], ti[:, 0]] <= on_stroke_px)
    keep = thin(np.concatenate([xy[ok], true[ok]], 1), anchor_px, rng)
    if len(keep) > anchors:
        keep = keep[rng.choice(len(keep), anchors, replace=False)]
    rb, cb = np.nonzero(stroke_b)
    cands = thin(np.stack([cb + 0.5, rb + 0.5], 1), candidate_px, rng)
    return keep[:, :2], keep[:, 2:], cands


def pick_negatives(true_xy: np.ndarray, cands: np.ndarray, rng: np.random.Generator, *, count: int = 6,
                   near: int = 4, near_px: tuple[float, float] = NEAR_NEGATIVE_PX) -> tuple[np.ndarray, np.ndarray]:
    """For each true correspondence (N, 2) in B, ``count`` of B's candidate points (M, 2) that are not it:
    up to ``near`` of them at ``near_px[0]``..``near_px[1]`` px from it (the stroke points a matcher
    confuses it with), the rest farther (or, where B has nothing farther, again from the near ones, with
    repeats). Returns ((N', count, 2) pixels, (N,) bool: the anchors that got a full set,
    which need at least one candidate beyond ``near_px[0]``)."""
    lo, hi = near_px
    near = min(near, count)
    out, ok = [], np.zeros(len(true_xy), bool)
    for i, t in enumerate(true_xy):
        d = np.linalg.norm(cands - t, axis=1)
        close = np.nonzero((d >= lo) & (d <= hi))[0]
        far = np.nonzero(d > hi)[0]
        pick = list(rng.choice(close, min(near, len(close)), replace=False)) if len(close) else []
        rest = far if len(far) else close
        if len(rest) == 0:
            continue
        pick += list(rng.choice(rest, count - len(pick), replace=len(rest) < count - len(pick)))
        out.append(cands[pick])
        ok[i] = True
    return np.asarray(out, np.float64).reshape(-1, count, 2), ok


def point_drawing(size: int) -> tuple[int, float]:
    """(image size px, stroke width px) at which the zooms of a pair set's points are drawn for a
    descriptor of input ``size``: the input size itself, with the triplets' stroke width scaled to it
    (1.5 px at 224). It looks like a triplet zoom resampled to ``size``, at a twelfth of the rasterising
    cost at 64 px (measured: drawing at 224 made decoding, not the network, the cost of a step)."""
    native, width = TRIPLET_DRAWING
    return size, width * size / native


def make_point_decoder(size: int, *, points: int = 8, negatives: int = 6, near: int = 4):
    """Decoder of pair samples into descriptor training points -> a list of {"key": str, "zooms":
    (2 + negatives, Z, 1, S, S) float32}: per point, the zooms of an anchor on a stroke of drawing A, of its
    true correspondence in B (A's position plus the flow) and of ``negatives`` other stroke points of B,
    up to ``near`` of them within ``NEAR_NEGATIVE_PX`` of the correspondence (``pick_negatives``). No
    rotation/flip augmentation: the pairs' own view changes and deformations vary the drawings. Points are chosen as the
    evaluation chooses its anchors (``correspondence_points``) and their zooms are drawn as it draws them
    (``StrokeZooms`` at ``point_drawing(size)``), so the network learns the matching it is measured on.
    Sketch-shaded pairs give no points (their B is not a line drawing)."""
    native, width = point_drawing(size)

    def decode(sample: dict, rng: np.random.Generator) -> list[dict]:
        pair = decode_pair_arrays(sample)
        if pair["meta"].get("modality", "sketch-sketch") != "sketch-sketch":
            return []
        a_xy, true_xy, cands = correspondence_points(pair, rng, anchors=points)
        negs, ok = pick_negatives(true_xy, cands, rng, count=negatives, near=near)
        if not ok.any():
            return []
        a_xy, true_xy = a_xy[ok], true_xy[ok]
        halves = [f * pair["a_grey"].shape[0] / 2.0 for f in sketchzooms_factors()]
        za = StrokeZooms(pair["a_strokes"], native=native, width=width).zooms(a_xy, halves, size)
        sb = StrokeZooms(pair["b_strokes"], native=native, width=width)
        zp = sb.zooms(true_xy, halves, size)
        zn = sb.zooms(negs.reshape(-1, 2), halves, size).view(len(a_xy), negatives, *zp.shape[1:])
        zooms = torch.cat([za[:, None], zp[:, None], zn], dim=1)
        return [{"key": f"{pair['key']}/{i}", "zooms": zooms[i]} for i in range(len(zooms))]

    return decode


# ----------------------------------------------------------------------------------- triplets
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


# ----------------------------------------------------------------------------------- pairs
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


def pair_keypoints(meta: dict, scale: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints visible in both images, matched by id: (K, 2), (K, 2) float64 pixels in A and in B."""
    a = {k["id"]: k for k in meta.get("a", {}).get("keypoints", []) if k.get("visible", True)}
    b = {k["id"]: k for k in meta.get("b", {}).get("keypoints", []) if k.get("visible", True)}
    ids = [i for i in a if i in b]
    s = np.asarray(scale, np.float64)
    ka = np.array([a[i]["xy"] for i in ids], np.float64).reshape(-1, 2) * s
    kb = np.array([b[i]["xy"] for i in ids], np.float64).reshape(-1, 2) * s
    return ka, kb


def decode_pair_arrays(sample: dict, size: int | None = None) -> dict:
    """A pair sample as arrays: {"key", "meta", "a", "b": (S, S) float32 ink, "a_grey", "b_grey": (S, S)
    uint8, "a_strokes", "b_strokes": ``StrokeArrays`` in the pixels of the S x S images (None for a
    shaded image), "flow": (S, S, 2) float32 pixels (NaN invalid), "amask", "bmask": (S, S) bool, "kp_a",
    "kp_b": (K, 2) float64 pixels}. ``size`` None keeps the stored size."""
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
    strokes = {f"{side}_strokes": pair_strokes(sample, f"{side}.png", (size / w, size / h)) for side in "ab"}
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


def make_pair_decoder(size: int):
    """Decoder of pair samples for training -> {"key", "a", "b": (1, S, S) float32 ink, "flow": (S, S, 2)
    float32 pixels A -> B (NaN invalid)}."""

    def decode(sample: dict, rng: np.random.Generator) -> dict:
        p = decode_pair_arrays(sample, size)
        return {"key": p["key"], "a": torch.from_numpy(p["a"])[None], "b": torch.from_numpy(p["b"])[None],
                "flow": torch.from_numpy(p["flow"])}

    return decode


def triplet_stream(root, split: str = "train", *, size: int = 224, augment: bool = True, **kwargs) -> ShardStream:
    return ShardStream(list_shards(root, split), make_triplet_decoder(size, augment=augment), **kwargs)


def point_stream(root, split: str = "train", *, size: int = 64, points: int = 8, negatives: int = 6,
                 **kwargs) -> ShardStream:
    """Descriptor training points of a pair set (``make_point_decoder``), one stream sample per point."""
    return ShardStream(list_shards(root, split), make_point_decoder(size, points=points, negatives=negatives),
                       expand=True, **kwargs)


def pair_stream(root, split: str = "train", *, size: int = 256, **kwargs) -> ShardStream:
    return ShardStream(list_shards(root, split), make_pair_decoder(size), **kwargs)
