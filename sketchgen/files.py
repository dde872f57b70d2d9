"""Atomic file writes: every file sketchgen writes appears whole or not at all.

The data goes to a temporary name in the target's folder (``.<name>.tmp<pid>``, hidden, so a shard
listing never sees it) and is renamed over the target with ``os.replace``, which is atomic on POSIX
and Windows within one file system. A failure (a full disk, a killed process) leaves the old file,
or none, and no temporary behind where Python can clean up.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temporary_name(path: str | Path) -> Path:
    """The temporary name ``path`` is written under before the rename: ``.<name>.tmp<pid>`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """``with atomic_target(path) as tmp:`` write ``tmp`` by any means (``torch.save``, a tar writer);
    it is renamed to ``path`` when the block ends without an exception, and removed when it raises.
    Creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (bytes, or str as UTF-8) to ``path`` atomically; returns ``path`` as a Path."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
