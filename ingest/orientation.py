"""Orientation: turning a collection's shapes so their up is +Y and their front +Z, and checking it.

sketchgen's cameras look at the unit-sphere frame with +Y up (``render.views``), so a shape drawn right
is one whose up is +Y. A collection says otherwise by ``--up-axis`` / ``--front-axis`` (one of ``AXES``;
the default ``+y`` / ``+z`` leaves shapes as they are), and a manifest row by its own ``up`` / ``front``
columns or a ``rotation`` column: three angles in degrees, ``"rx ry rz"`` (commas allowed), turning
the file's coordinates about X, then Y, then Z (right-handed, extrinsic). A row's columns win over the
collection's axes.

``orient(shape, rotation)`` applies a (3, 3) rotation to a PartMesh and renormalises it to the unit
sphere (``transform`` still maps the file's coordinates to the new frame). ``axis_verdicts(shapes)``
names the shapes whose main axes (longest and shortest side of the bounding box, where clear)
disagree with their category's majority (a chair lying on its side among upright ones).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

AXES = ("+x", "-x", "+y", "-y", "+z", "-z")
UP, FRONT = "+y", "+z"  # sketchgen's frame: what the defaults mean
# an axis counts when the shape's extent along it exceeds the next by this factor (long axis), or the
# next exceeds it by this one (thin axis): a chair's depth and width differ too little to tell
DISTINCT = (1.25, 1.6)


def axis_vector(name: str) -> np.ndarray:
    """(3,) float64 unit vector of an axis name among ``AXES``; ValueError naming it otherwise."""
    text = str(name).strip().lower()
    if text in ("x", "y", "z"):
        text = "+" + text
    if text not in AXES:
        raise ValueError(f"axis must be one of {', '.join(AXES)}, got {name!r}")
    v = np.zeros(3)
    v["xyz".index(text[1])] = 1.0 if text[0] == "+" else -1.0
    return v


def axes_rotation(up: str = UP, front: str = FRONT) -> np.ndarray:
    """(3, 3) float64 rotation taking the ``up`` axis to +Y and the ``front`` axis to +Z.
    Raises ValueError when the two are the same or opposite axes."""
    u, f = axis_vector(up), axis_vector(front)
    if abs(float(u @ f)) > 0.5:
        raise ValueError(f"up axis {up} and front axis {front} must be perpendicular")
    # rows: where +X, +Y, +Z come from (a right-handed frame: x = y cross z)
    return np.stack([np.cross(u, f), u, f])


def euler_rotation(text: str) -> np.ndarray:
    """(3, 3) float64 rotation of ``"rx ry rz"`` degrees (about X, then Y, then Z, extrinsic);
    ValueError naming the text when it is not three numbers."""
    try:
        angles = [float(t) for t in str(text).replace(",", " ").split()]
    except ValueError:
        angles = []
    if len(angles) != 3 or not np.all(np.isfinite(angles)):
        raise ValueError(f"rotation must be three angles in degrees, \"rx ry rz\", got {text!r}")
    rx, ry, rz = np.radians(angles)
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    x = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    y = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    z = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return z @ y @ x


def row_rotation(row: dict, default: np.ndarray | None = None) -> np.ndarray | None:
    """The rotation a manifest row asks for (``rotation``, else ``up``/``front``), else ``default``.
    Raises ValueError naming the bad value."""
    if row.get("rotation"):
        return euler_rotation(row["rotation"])
    if row.get("up") or row.get("front"):
        return axes_rotation(row.get("up") or UP, row.get("front") or FRONT)
    return default


def orient(shape, rotation: np.ndarray | None):
    """``shape`` (a PartMesh) turned by ``rotation`` (3, 3) about its frame's origin, then renormalised
    to the unit sphere; its ``transform`` maps the file's coordinates to the new frame. None or the
    identity: the shape itself."""
    from sketchgen.ingest.partmesh import normalising_transform

    if rotation is None or np.allclose(rotation, np.eye(3), atol=1e-12):
        return shape
    turned = shape.vertices @ np.asarray(rotation, np.float64).T
    again = normalising_transform(turned)
    vertices = turned @ again[:3, :3].T + again[:3, 3]
    turn4 = np.eye(4)
    turn4[:3, :3] = rotation
    return dataclasses.replace(shape, vertices=vertices, transform=again @ turn4 @ shape.transform)


def principal_axes(shape) -> tuple[int | None, int | None]:
    """(long axis, thin axis) of a PartMesh: the coordinate axis (0 = X, 1 = Y, 2 = Z) along which its
    bounding box is longest, and shortest; the long one None unless it exceeds the next by
    ``DISTINCT[0]``, the thin one None unless the next exceeds it by ``DISTINCT[1]`` (no clear axis).
    The box's axes, not the area's principal directions: a chair's seat and back spread its area front
    to back though it stands taller than deep, and a shape turned off its axes by quarter turns (what
    ``--up-axis`` and the manifest columns undo) keeps a box along the coordinate axes."""
    extent = np.ptp(shape.vertices, axis=0)
    order = np.argsort(extent, kind="stable")  # ascending
    lo, mid, hi = extent[order]
    long = int(order[2]) if hi > DISTINCT[0] * mid else None
    thin = int(order[0]) if mid > DISTINCT[1] * lo else None
    return long, thin


def axis_verdicts(shapes) -> dict[str, dict]:
    """Per category: {"verdict", "majority", "disagree"} from the shapes' principal axes.

    shapes: PartMeshes. majority: [long axis, thin axis] most shapes of the category have ("x", "y",
    "z" or None where no shape has a clear one); disagree: ids of shapes with a clear axis other than the
    majority's (lying on their side, upside down is not seen). verdict: "consistent", "mixed" (some
    disagree) or "unknown" (fewer than 3 shapes with a clear axis)."""
    by_cat: dict[str, list] = {}
    for s in shapes:
        by_cat.setdefault(s.category, []).append((s.shape_id, principal_axes(s)))
    out = {}
    for category, items in sorted(by_cat.items()):
        majority, disagree, judged = [], set(), 0
        for k in range(2):
            votes = Counter(ax[k] for _, ax in items if ax[k] is not None)
            if sum(votes.values()) < 3:
                majority.append(None)
                continue
            judged += 1
            top = votes.most_common(1)[0][0]
            majority.append("xyz"[top])
            disagree |= {sid for sid, ax in items if ax[k] is not None and ax[k] != top}
        verdict = "unknown" if not judged else "mixed" if disagree else "consistent"
        out[category] = {"verdict": verdict, "majority": majority, "disagree": sorted(disagree),
                         "axes": {sid: [None if a is None else "xyz"[a] for a in ax] for sid, ax in items}}
    return out
