"""One run per output folder: the lock a dataset run holds on its ``--out``.

A whole run (no ``--shard-index``) holds ``<out>/.sketchgen.lock`` exclusively. Array job ``i`` of ``n``
holds it shared, with the other array jobs of the folder, and ``<out>/.sketchgen.lock.<i>-of-<n>``
exclusively: array jobs run side by side on their own units, while a second whole run, or the same
array job twice, is refused with one line naming the holder. The file a run holds exclusively records
its holder as JSON ``{"host", "pid", "started"}`` (``started``: UTC, ISO 8601) and is emptied when the
run ends.

The locks are ``flock(2)`` locks on those files: the kernel drops them when their holder ends, however
it ends (SIGKILL, out of memory, a node lost on a network file system once its lease runs out), so a
lock is never left behind. A lock file that still names a holder when its lock is free is stale (that
run ended without emptying it): it is taken over, with a log line naming the run that left it. On a
Linux NFS client ``flock`` locks are the server's byte-range locks, seen by every host; a file system
that has no locks at all (``ENOLCK``) gets a warning and no guard.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sketchgen.errors import InputError
from sketchgen.files import host_name

log = logging.getLogger(__name__)

LOCK_NAME = ".sketchgen.lock"


def lock_path(out_dir: str | Path, part: tuple[int, int] | None = None) -> Path:
    """The lock file of a whole run (``part`` None) or of array job ``part = (index, count)``."""
    name = LOCK_NAME if part is None else f"{LOCK_NAME}.{part[0]}-of-{part[1]}"
    return Path(out_dir) / name


@contextmanager
def output_lock(out_dir: str | Path, part: tuple[int, int] | None = None) -> Iterator[None]:
    """Hold the output folder ``out_dir`` for one run (``part``: (shard index, number of shards) of an
    array job, None for a whole run) while the block runs. Raises InputError naming the folder and the
    holder ("host h, pid p, since t") when another run holds it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no flock
        log.warning("%s: no file locks on this system; nothing stops a second run from writing here", out_dir)
        yield
        return
    held: list[int] = []
    claimed: list[int] = []  # the file this run recorded itself in
    try:
        main = _open(lock_path(out_dir))
        held.append(main)
        if part is None:
            if not _try(main, fcntl.LOCK_EX):
                raise InputError(f"{out_dir}: another sketchgen run writes here ({_holders(out_dir, main)}); "
                                 "wait for it to end, or give another --out")
            _claim(main, out_dir)
            claimed.append(main)
        else:
            if not _try(main, fcntl.LOCK_SH):
                raise InputError(f"{out_dir}: a whole sketchgen run writes here ({_describe(_read(main))}); "
                                 f"array job {part[0]} of {part[1]} waits for it to end")
            mine = _open(lock_path(out_dir, part))
            held.append(mine)
            if not _try(mine, fcntl.LOCK_EX):
                raise InputError(f"{out_dir}: array job {part[0]} of {part[1]} already runs "
                                 f"({_describe(_read(mine))}); wait for it to end")
            _claim(mine, out_dir)
            claimed.append(mine)
        yield
    finally:
        for fd in reversed(held):
            if fd in claimed:
                try:
                    os.ftruncate(fd, 0)  # a clean end: nothing is left that names this run
                except OSError:
                    pass
            os.close(fd)  # closing drops the flock


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _try(fd: int, kind: int) -> bool:
    """Take the flock ``kind`` on ``fd`` without waiting: True when held, False when another run holds it."""
    import fcntl

    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
            log.warning("the output folder's file system has no locks (%s): nothing stops a second run "
                        "from writing into it", exc.strerror or exc)
            return True
        raise


def _read(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        holder = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe(holder: dict | None) -> str:
    if not holder:
        return "holder unknown"
    return f"host {holder.get('host', '?')}, pid {holder.get('pid', '?')}, since {holder.get('started', '?')}"


def _claim(fd: int, out_dir: Path) -> None:
    """Record this process as the holder of the lock ``fd`` (held exclusively); a previous holder still
    named there ended without letting go: say so."""
    old = _read(fd)
    if old:
        log.warning("%s: taking over a stale lock (%s; that run ended without releasing it)", out_dir,
                    _describe(old))
    holder = {"host": host_name(), "pid": os.getpid(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    data = (json.dumps(holder, sort_keys=True) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _holders(out_dir: Path, main: int) -> str:
    """Who holds the folder when a whole run cannot: the array jobs holding theirs, else the whole run
    named in the main lock file."""
    import fcntl

    jobs = []
    for path in sorted(out_dir.glob(f"{LOCK_NAME}.*-of-*")):
        fd = _open(path)
        try:
            if _try(fd, fcntl.LOCK_EX):
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                jobs.append(f"array job {path.name[len(LOCK_NAME) + 1:].replace('-', ' ')}: {_describe(_read(fd))}")
        finally:
            os.close(fd)
    return "; ".join(jobs) if jobs else _describe(_read(main))
