"""Where a run computes: the torch device it names, and the CPU threads it can use without slowing others."""

from __future__ import annotations

import os
import time

import torch

from sketchgen.errors import InputError


def busy_cores(window: float = 0.3) -> float:
    """Cores kept busy by other processes now: the non-idle share of all CPU time over ``window`` s
    (``/proc/stat``, while this process sleeps), times the core count. Where ``/proc/stat`` is missing,
    the 1-minute load average, which also counts work that has just ended (a dataset build's workers)."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    cores = usable_cores()
    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (OSError, AttributeError):  # no load average (Windows)
            return 0.0
    total = total1 - total0
    return cores * (1.0 - (idle1 - idle0) / total) if total > 0 else 0.0


def default_threads() -> int:
    """torch CPU threads for a run: the cores not busy right now (``busy_cores``). On a shared machine
    more threads than free cores make every step several times slower (measured here: a descriptor step
    4x, a warp step 7x slower with 2 threads than with 1 on a busy 2-core machine)."""
    cores = usable_cores()
    return max(1, min(cores, int(round(cores - busy_cores()))))


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1



def resolve_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to torch here")
    return torch.device(device)

