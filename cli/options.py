"""Command-line values: numbers within declared ranges.

- ``whole(low, high)`` and ``real(low, high)``: the ``type=`` of every numeric option. Each option's range
  is declared once, where the option is (``parser.add_argument("--seed", type=SEED)``), so argparse
  refuses a value outside it while it reads the command line, before any work starts: one line naming
  the option and the range, exit status 2.
- Lists of named numbers (``"near:4,other-shape:1"``) are read by ``sketchgen.named.parse_named``, which
  the dataset configurations use too.
"""

from __future__ import annotations

import argparse
import math


class Number:
    """An argparse ``type=``: the text of a whole (``int``) or real (finite ``float``) number within
    [low, high] (None: unbounded; ``above``/``below``: the bound itself excluded). Raises
    ``argparse.ArgumentTypeError`` (argparse's one-line error naming the option) otherwise."""

    def __init__(self, cast: type, low: float | None = None, high: float | None = None, *,
                 above: bool = False, below: bool = False):
        self.cast, self.low, self.high, self.above, self.below = cast, low, high, above, below
        self.__name__ = cast.__name__  # argparse names a type by it in its own messages

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.above else value < self.low):
            return False
        return self.high is None or (value < self.high if self.below else value <= self.high)

    def describe(self) -> str:
        """"a whole number >= 0", "a number in (0, 180]", ..."""
        kind = "a whole number" if self.cast is int else "a number"
        low, high = (f"{b:g}" if isinstance(b, float) else str(b) for b in (self.low, self.high))
        if self.low is not None and self.high is not None:
            return f"{kind} in {'(' if self.above else '['}{low}, {high}{')' if self.below else ']'}"
        if self.low is not None:
            return f"{kind} {'>' if self.above else '>='} {low}"
        if self.high is not None:
            return f"{kind} {'<' if self.below else '<='} {high}"
        return kind

    def __call__(self, text: str):
        try:
            value = self.cast(text)
        except (TypeError, ValueError):
            value = None
        if value is None or (self.cast is float and not math.isfinite(value)) or not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value

    def __repr__(self) -> str:
        return f"Number({self.describe()})"


def whole(low: int | None = None, high: int | None = None) -> Number:
    """Whole numbers in [low, high] (None: unbounded)."""
    return Number(int, low, high)


def real(low: float | None = None, high: float | None = None, *, above: bool = False, below: bool = False) -> Number:
    """Finite real numbers in [low, high]; ``above``/``below`` exclude the bound itself."""
    return Number(float, low, high, above=above, below=below)


# ranges shared by several commands
SEED = whole(0, 2**63 - 1)  # numpy's SeedSequence takes entropy >= 0; torch.manual_seed below 2**64
COUNT = whole(1)            # shapes, views, points, pairs, workers, steps, ...
THREADS = whole(1)
POSITIVE = real(0, above=True)    # widths, learning rates, temperatures
NON_NEGATIVE = real(0)            # loss weights, pixel distances
ANGLE = real(0, 180)              # degrees between two directions
MAX_FACES = whole(1)              # --max-faces: decimate meshes over this many faces
