"""The shards of a dataset split and their streaming: ``list_shards``, the dataset's manifest
(``dataset_kind``, read through ``datagen.manifest.read_dataset_manifest``) and ``ShardStream``, a torch ``IterableDataset`` of decoded
samples split across DataLoader workers and distributed ranks (WebDataset-style generator stages).

Splitting across DataLoader workers and distributed ranks is the default and is exact: each of the
``world_size x num_workers`` consumers gets a disjoint part of the stream and together they get all of it.
With at least as many shards as consumers, whole shards are dealt out (``shards[c::n]``: each shard is
read once); with fewer, every consumer reads all shards and keeps every n-th sample. Rank and world
size come from ``torch.distributed`` when it is initialised, else from the ``RANK`` / ``WORLD_SIZE``
environment variables (set by ``torchrun``), else 0 and 1; they can also be given explicitly.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from sketchgen.datagen.manifest import read_dataset_manifest
from sketchgen.datagen.schema import MANIFEST, SPLITS
from sketchgen.datagen.shards import read_shard
from sketchgen.errors import InputError


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


def require_strokes(root: str | Path) -> None:
    """Raise InputError naming the manifest when the dataset at ``root`` was built before samples held
    their strokes (manifest "schema" below 2: ``datagen.schema``), which readers of strokes need."""
    schema = read_dataset_manifest(root, required=False).get("schema", 1)
    if not isinstance(schema, int) or schema < 2:
        raise InputError(f"{Path(root) / MANIFEST}: a dataset of schema {schema}, built before sketchgen stored "
                         f"strokes beside its drawings: rebuild it")


def dataset_digest(root: str | Path) -> str | None:
    """SHA-256 (hex) over the dataset's shards as its ``manifest.json`` lists them (path and SHA-256 of
    each, sorted by path): the same for the same data, another for data rebuilt with other options or
    meshes. None when the manifest lists no shards. Raises InputError if the manifest is corrupt."""
    shards = read_dataset_manifest(root, required=False).get("shards") or []
    if not shards:
        return None
    lines = sorted(f"{s.get('shard')} {s.get('sha256')}" for s in shards)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def dataset_kind(root: str | Path) -> str:
    """"triplets" or "pairs", from the dataset's manifest ("triplets" when it has none)."""
    return read_dataset_manifest(root, required=False).get("dataset", "triplets")


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
