"""Lists of named numbers: ``"near:4,other-shape:1"`` (negative kinds and counts) or
``"clean:0.5,sketchy:0.5"`` (style mixes), one parser for every option and configuration value of that
form (``datagen.negatives.parse_counts``, ``datagen.stylemix.parse_style_mix``).
"""

from __future__ import annotations

from typing import Callable, Iterable


def parse_named(text: str, allowed: Iterable[str], *, what: str, cast: Callable[[str], float] = float,
                default: float = 1) -> list[tuple[str, float]]:
    """``"a:2,b"`` -> [("a", cast("2")), ("b", default)], in the order given (empty items skipped).

    allowed: the names accepted; what: how the message names an item ("style", "negative kind").
    Raises ValueError naming the bad name or value."""
    allowed = tuple(allowed)
    out = []
    for item in (t.strip() for t in str(text).split(",")):
        if not item:
            continue
        name, _, value = item.partition(":")
        name = name.strip()
        if name not in allowed:
            raise ValueError(f"unknown {what} {name!r} (choose from {', '.join(allowed)})")
        try:
            number = cast(value) if value.strip() else default
        except ValueError:
            kind = "whole number" if cast is int else "number"
            raise ValueError(f"the {what} {name!r} has {value!r}, not a {kind}") from None
        out.append((name, number))
    return out
