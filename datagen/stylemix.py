"""Mixes of drawing styles for datasets: ``--style clean:0.5,sketchy:0.5``.

A mix is a tuple of (style name, weight) pairs (``render.style.STYLES``); each sample draws its style
from the mix with its own generator, so changing the mix changes no other random choice of a sample.
"""

from __future__ import annotations

import numpy as np

from sketchgen.named import parse_named
from sketchgen.render.style import STYLES

CLEAN = (("clean", 1.0),)


def parse_style_mix(text: str) -> tuple[tuple[str, float], ...]:
    """``"sketchy"`` or ``"clean:0.5,sketchy:0.5"`` -> (("clean", 0.5), ("sketchy", 0.5)), weights
    normalised to sum to 1. Raises ValueError naming the bad entry."""
    entries = parse_named(text, STYLES, what="style", cast=float)
    if not entries:
        raise ValueError("--style needs at least one style")
    mix: dict[str, float] = {}
    for name, w in entries:
        if not (np.isfinite(w) and w >= 0):
            raise ValueError(f"--style weight of {name!r} must be >= 0, got {w}")
        mix[name] = mix.get(name, 0.0) + w
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("--style weights sum to zero")
    return tuple((name, w / total) for name, w in mix.items())


def check_style_mix(mix) -> tuple[tuple[str, float], ...]:
    """A config's style mix as a tuple of (name, weight) pairs (lists from a manifest's JSON accepted)."""
    out = tuple((str(name), float(w)) for name, w in mix)
    bad = [name for name, w in out if name not in STYLES or not (np.isfinite(w) and w >= 0)]
    if bad or not out or sum(w for _, w in out) <= 0:
        raise ValueError(f"style mix must name styles among {', '.join(STYLES)} with a positive weight, got {mix!r}")
    return out


def pick_style(mix, rng: np.random.Generator) -> str:
    """One style name of the mix, drawn with one uniform of ``rng`` (always one, even for a single style,
    so the draws that follow do not depend on the mix)."""
    u = rng.random()
    weights = np.array([w for _, w in mix], np.float64)
    k = int(np.searchsorted(np.cumsum(weights) / weights.sum(), u, side="right"))
    return mix[min(k, len(mix) - 1)][0]
