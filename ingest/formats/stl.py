"""ASCII STL read by sketchgen: ``solid NAME`` / ``facet normal`` / ``outer loop`` / three ``vertex x y z``
/ ``endloop`` / ``endfacet`` ... ``endsolid`` (3D Systems, "StereoLithography Interface Specification",
1988), several solids in one file allowed.

sketchgen reads it itself so that the solid's name, often in a legacy 8-bit encoding, is decoded
without any optional package (``ingest.formats.text``), and so that a file cut short is refused: every
facet must close with ``endfacet`` after exactly three vertices, every solid with ``endsolid``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.formats.text import parse_vertices, read_text


def read_ascii_stl(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(3F, 3) float64 vertices (each facet's three corners, in file order) and (F, 3) int64 faces
    ``[[0, 1, 2], [3, 4, 5], ...]``. Raises InputError naming the file, the line and the reason."""
    path = Path(path)
    lines = [ln.strip() for ln in read_text(path, "STL").splitlines()]
    tags = [ln.split(None, 1)[0].lower() if ln else "" for ln in lines]
    at = {tag: np.array([i for i, t in enumerate(tags) if t == tag], np.int64)
          for tag in ("solid", "endsolid", "facet", "endfacet", "vertex")}
    if not len(at["solid"]):
        raise InputError(f"{path}: cannot parse as STL (no 'solid' line)")
    if len(at["endsolid"]) < len(at["solid"]) or len(at["endfacet"]) < len(at["facet"]):
        done = len(at["endfacet"])
        raise InputError(f"{path}: ASCII STL ends after {done} complete facets, inside "
                         f"{'a facet' if len(at['endfacet']) < len(at['facet']) else 'a solid'} "
                         f"(no {'endfacet' if len(at['endfacet']) < len(at['facet']) else 'endsolid'}: cut short?)")
    if len(at["endfacet"]) != len(at["facet"]) or len(at["endsolid"]) != len(at["solid"]):
        raise InputError(f"{path}: ASCII STL has {len(at['facet'])} 'facet' but {len(at['endfacet'])} 'endfacet' "
                         f"lines and {len(at['solid'])} 'solid' but {len(at['endsolid'])} 'endsolid' lines")
    # each facet closes before the next opens, and holds exactly three vertices
    opens, closes = at["facet"], at["endfacet"]
    bad = np.flatnonzero((closes < opens) | (np.r_[opens[1:], len(lines)] < closes))
    if len(bad):
        raise InputError(f"{path}: line {opens[bad[0]] + 1}: facet without its 'endfacet'")
    per_facet = np.searchsorted(at["vertex"], closes) - np.searchsorted(at["vertex"], opens)
    wrong = np.flatnonzero(per_facet != 3)
    if len(wrong):
        k = int(wrong[0])
        raise InputError(f"{path}: line {opens[k] + 1}: facet with {per_facet[k]} vertices, not 3")
    outside = len(at["vertex"]) - int(per_facet.sum())
    if outside:
        raise InputError(f"{path}: ASCII STL has {outside} 'vertex' lines outside its facets")
    vertices = parse_vertices(path, [lines[i][len("vertex"):] for i in at["vertex"]], (at["vertex"] + 1).tolist())
    faces = np.arange(len(vertices), dtype=np.int64).reshape(-1, 3)
    return vertices, faces
