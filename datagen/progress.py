"""Progress of long jobs: a tqdm bar with its total and ETA on a terminal, plain lines elsewhere.

A bar redrawn with carriage returns floods a log file (a cluster job's, CI's) with one unreadable line;
when the stream is not a terminal, ``Progress`` writes a plain line at most every ``interval_s``
seconds (and the final state, when it wrote any) instead: ``triplets: 12/40 shards (30%), 310 samples, 41 s, ETA 96 s``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

PLAIN_INTERVAL_S = 30.0  # seconds between plain lines when not on a terminal


def format_seconds(seconds: float) -> str:
    """``"41 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class Progress:
    """Progress over ``total`` items named ``unit``, with counters shown beside it (``samples=310``).

    enabled: False shows nothing. stream: where it goes (stderr); a terminal gets a tqdm bar, anything
    else plain lines. Use as a context manager; ``update(n, **counters)`` after each item."""

    def __init__(self, total: int | None, desc: str, unit: str, *, enabled: bool = True,
                 stream: TextIO | None = None, interval_s: float = PLAIN_INTERVAL_S, initial: int = 0):
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.stream = sys.stderr if stream is None else stream
        self.interval_s = interval_s
        self.done, self.initial = initial, initial
        self.counters: dict[str, object] = {}
        self._bar = None
        self._printed = None  # the count the last plain line showed: a newer state is printed on close too
        self._t0 = self._last = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        if enabled and isatty is not None and isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=f" {unit}", file=self.stream,
                             smoothing=0.1, leave=False)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1, **counters) -> None:
        self.done += n
        self.counters.update(counters)
        if self._bar is not None:
            self._bar.update(n)
            if counters:
                self._bar.set_postfix({k: v for k, v in self.counters.items()}, refresh=False)
        elif self.enabled and time.perf_counter() - self._last >= self.interval_s:
            self._line()

    def line(self) -> str:
        """The plain line of the current state."""
        elapsed = time.perf_counter() - self._t0
        parts = [f"{self.done}/{self.total} {self.unit}" if self.total else f"{self.done} {self.unit}"]
        if self.total:
            parts[0] += f" ({100.0 * self.done / self.total:.0f}%)"
        parts += [f"{v} {k}" if isinstance(v, int) else f"{k} {v}" for k, v in self.counters.items()]
        parts.append(format_seconds(elapsed))
        new = self.done - self.initial
        if self.total and 0 < new and self.done < self.total:
            parts.append("ETA " + format_seconds(elapsed / new * (self.total - self.done)))
        return f"{self.desc}: " + ", ".join(parts)

    def _line(self) -> None:
        self._last = time.perf_counter()
        self._printed = self.done
        print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self._printed is not None and self._printed != self.done:
            self._line()
        self.enabled = False
