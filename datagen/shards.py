"""WebDataset-layout tar shards: atomic writing, and a reader that yields samples as dicts.

Writing is deterministic (fixed member order, mtime 0, uid/gid 0, no user names) so the same samples
give byte-identical shards, and atomic (a temporary name in the same folder, then ``os.replace``), so a
shard either exists whole or not at all.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator
from sketchgen.files import atomic_target


@dataclass(frozen=True)
class ShardFile:
    """A shard as written: ``samples`` (count), ``size`` (bytes) and ``sha256`` (hex digest of the file)."""

    samples: int
    size: int
    sha256: str


class _Digesting:
    """A binary file that hashes and counts what is written through it (what tarfile needs: write, tell)."""

    def __init__(self, fh):
        self.fh, self.hash, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.hash.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.fh.tell()


def write_shard(path: str | Path, samples: Iterable[dict[str, bytes | str]], *,
                before_commit: Callable[[ShardFile], None] | None = None) -> int:
    """Write ``samples`` (dicts with ``__key__`` and ``ext -> bytes``) to ``path``; returns the count.

    Members are written in sample order, extensions sorted, so output depends only on the content.
    ``samples`` is consumed one sample at a time and each is written before the next is asked for, so
    a generator's samples are never all held. before_commit: called with the written file's
    ``ShardFile`` after its bytes are on disk under the temporary name and before it is renamed to
    ``path`` (a run writes the shard's summary there); an exception from it leaves no shard.
    """
    count = 0
    with atomic_target(path) as tmp:
        with open(tmp, "wb") as raw:
            fh = _Digesting(raw)
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for sample in samples:
                    key = sample["__key__"]
                    if "." in key or "/" in key:
                        raise ValueError(f"sample key {key!r} must hold no dots or slashes")
                    for ext in sorted(k for k in sample if not k.startswith("__")):
                        data = sample[ext]
                        if isinstance(data, str):
                            data = data.encode("utf-8")
                        info = tarfile.TarInfo(f"{key}.{ext}")
                        info.size = len(data)
                        info.mtime = 0
                        info.mode = 0o644
                        tar.addfile(info, io.BytesIO(data))
                    count += 1
            raw.flush()
            os.fsync(raw.fileno())
        if before_commit is not None:
            before_commit(ShardFile(count, fh.size, fh.hash.hexdigest()))
    return count


def read_shard(path: str | Path) -> Iterator[dict[str, bytes]]:
    """Yield the samples of one shard in order, each ``{"__key__": key, "__shard__": path, ext: bytes}``."""
    current: dict[str, bytes] | None = None
    with tarfile.open(path, mode="r") as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = os.path.basename(member.name)
            key, _, ext = base.partition(".")
            if current is not None and current["__key__"] != key:
                yield current
                current = None
            if current is None:
                current = {"__key__": key, "__shard__": str(path)}
            current[ext] = tar.extractfile(member).read()
    if current is not None:
        yield current


def dataset_samples(root: str | Path, kind: str, failures: list[str]) -> Iterator[tuple[str, dict, dict]]:
    """(split, sample, JSON) of every sample of the dataset folder ``root`` (``<split>/*.tar``), in split
    and shard order, each sample with its ``__shard__``.

    A shard that cannot be read, or a sample without readable JSON, is reported in ``failures``
    ("<shard>: <reason>") and skipped. Raises InputError when the folder holds no shards or a sample's
    "kind" is not ``kind`` ("pair", "triplet")."""
    import json
    import tarfile

    from sketchgen.datagen.schema import SPLITS
    from sketchgen.errors import InputError

    root = Path(root)
    shards = {split: sorted((root / split).glob("*.tar")) for split in SPLITS}
    if not any(shards.values()):
        raise InputError(f"{root}: no shards found (expected <split>/*.tar)")
    for split in SPLITS:
        for shard in shards[split]:
            try:
                got = list(read_shard(shard))
            except (tarfile.TarError, OSError, EOFError) as exc:
                failures.append(f"{shard}: unreadable shard ({exc})")
                continue
            for sample in got:
                try:
                    meta = json.loads(sample["json"])
                except (KeyError, ValueError) as exc:
                    failures.append(f"{shard}: sample {sample['__key__']}: no readable JSON ({exc})")
                    continue
                if meta.get("kind") != kind:
                    raise InputError(f"{shard}: sample {sample['__key__']} is not a {kind} sample")
                yield split, sample, meta
