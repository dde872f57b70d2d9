"""Atomic file writes: every file sketchgen writes appears whole or not at all.

The data goes to a temporary name in the target's folder (``.<name>.tmp-<host>-<pid>``, hidden, so a
shard listing never sees it, and naming its writer, so processes on two hosts sharing a folder never
write one temporary and a clean-up can tell a live writer's file from a dead one's) and is renamed over the target with ``os.replace``, which is atomic on POSIX
and Windows within one file system. A failure (a full disk, a killed process) leaves the old file,
or none, and no temporary behind where Python can clean up.
"""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def host_name() -> str:
    """This machine's host name, with any character outside ``[A-Za-z0-9.-]`` made ``_`` (file-name safe)."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "localhost"


def temporary_name(path: str | Path) -> Path:
    """The temporary name ``path`` is written under before the rename: ``.<name>.tmp-<host>-<pid>`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{host_name()}-{os.getpid()}")


def temporary_writer(tmp: str | Path) -> tuple[str, int] | None:
    """(host, pid) of the process that writes the temporary file ``tmp`` (a ``temporary_name``), else None."""
    found = re.fullmatch(r"\..+\.tmp-([A-Za-z0-9._-]+)-(\d+)", Path(tmp).name)
    return None if found is None else (found.group(1), int(found.group(2)))


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
