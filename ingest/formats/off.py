"""Object File Format (OFF) read in file order, polygons of any size triangulated in place.

Layout (Geomview's OFF; the Princeton Shape and Segmentation Benchmarks, ModelNet)::

    OFF                      # optionally [ST][C][N]OFF: extra per-vertex values, ignored
    V F E                    # counts (E is ignored)
    x y z [more]             # V vertex lines
    n i1 ... in [r g b [a]]  # F face lines, 0-based vertex indices, optional colour
    ...

``#`` starts a comment. The counts may share the header's line ("OFF 8 6 0", and ModelNet's "OFF8 6 0").
Faces are triangulated by ``ingest.formats.polygons`` (a fan where convex, ear clipping elsewhere),
so per-face label files written for a triangle OFF (PSB ``.seg``) keep their order. Binary OFF and
4-D OFF are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.formats.polygons import triangulate_polygons
from sketchgen.ingest.formats.text import fixed_width_tokens, parse_vertices, read_lines

_HEADER = re.compile(r"^(ST)?(C)?(N)?(4)?(n)?OFF(.*)$")


@dataclass(frozen=True)
class OffData:
    """vertices: (V, 3) float64 file coordinates; faces: (F, 3) int64 triangles (0-based, file order);
    polygon: (F,) int64 the file's face (0-based) each triangle came from."""

    vertices: np.ndarray
    faces: np.ndarray
    polygon: np.ndarray


def read_off(path: str | Path) -> OffData:
    """Parse an OFF file; raises InputError naming the file (and the line) for malformed content."""
    path = Path(path)
    lines = read_lines(path, "OFF")
    numbered = [(i + 1, row) for i, ln in enumerate(lines) if (row := ln.strip())]
    if not numbered:
        raise InputError(f"{path}: cannot parse as OFF (no content)")
    header = _HEADER.match(numbered[0][1])
    if header is None:
        raise InputError(f"{path}: cannot parse as OFF (line {numbered[0][0]}: no OFF header)")
    rest = header.group(6).split()
    if header.group(4) or header.group(5):
        raise InputError(f"{path}: line {numbered[0][0]}: only 3-D OFF is supported")
    if rest and rest[0].upper() == "BINARY":
        raise InputError(f"{path}: line {numbered[0][0]}: binary OFF is not supported (save it as text)")
    body = numbered[1:]
    if not rest:
        if not body:
            raise InputError(f"{path}: cannot parse as OFF (no vertex and face counts)")
        count_line, rest = body[0][0], body[0][1].split()
        body = body[1:]
    else:
        count_line = numbered[0][0]
    try:
        n_vertices, n_faces = int(rest[0]), int(rest[1])
    except (ValueError, IndexError):
        raise InputError(f"{path}: line {count_line}: expected the counts 'vertices faces edges'") from None
    if n_vertices < 0 or n_faces < 0:
        raise InputError(f"{path}: line {count_line}: negative counts")
    if len(body) < n_vertices + n_faces:
        raise InputError(f"{path}: declares {n_vertices} vertices and {n_faces} faces on line {count_line} "
                         f"but holds {len(body)} data lines")
    vertices = parse_vertices(path, [r for _, r in body[:n_vertices]], [n for n, _ in body[:n_vertices]])
    faces, polygon = _parse_faces(path, body[n_vertices:n_vertices + n_faces], vertices)
    return OffData(vertices, faces, polygon)


def _parse_faces(path: Path, rows, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) int64 triangles and (T,) int64 the face each came from."""
    if not rows:
        return np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    lineno = np.array([n for n, _ in rows], np.int64)
    tokens = fixed_width_tokens([r for _, r in rows], 4)
    try:  # the common case, all triangles without colours, in one conversion
        flat = None if tokens is None else np.array(tokens, dtype=np.int64)
        if flat is not None and (flat[::4] == 3).all():
            idx = flat.reshape(-1, 4)[:, 1:].ravel()
            _check_off_indices(path, idx, np.full(len(rows), 3, np.int64), lineno, len(vertices))
            return idx.reshape(-1, 3), np.arange(len(rows), dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    tokens = [r.split() for _, r in rows]
    try:
        counts = np.array([t[0] for t in tokens], dtype=np.int64)
        short = np.array([len(t) - 1 for t in tokens], dtype=np.int64) < counts
        if short.any():
            raise ValueError
        idx = np.array([v for t, n in zip(tokens, counts.tolist()) for v in t[1:n + 1]], dtype=np.int64)
    except (ValueError, OverflowError):
        for (line, _), t in zip(rows, tokens):
            try:
                n = int(t[0])
                if any(abs(int(v)) >= 2**63 for v in [n, *t[1:n + 1]]):  # no mesh has that many vertices
                    raise ValueError
            except (ValueError, OverflowError):
                raise InputError(f"{path}: line {line}: face is not 'n i1 ... in' with integer indices") from None
            if len(t) - 1 < n:
                raise InputError(f"{path}: line {line}: face says {n} vertices but lists {len(t) - 1}")
        raise InputError(f"{path}: malformed face lines") from None
    few = np.flatnonzero(counts < 3)
    if len(few):
        raise InputError(f"{path}: line {lineno[few[0]]}: face with fewer than 3 vertices")
    _check_off_indices(path, idx, counts, lineno, len(vertices))
    return triangulate_polygons(vertices, idx, counts)


def _check_off_indices(path: Path, idx: np.ndarray, counts: np.ndarray, lineno: np.ndarray, n_vertices: int):
    """Refuse indices outside 0..V-1 naming the first offending line (and a 1-based file as such)."""
    bad = (idx < 0) | (idx >= n_vertices)
    if bad.any():
        k = int(np.argmax(bad))
        line = lineno[np.repeat(np.arange(len(counts)), counts)[k]]
        hint = " (a 1-based file?)" if idx.min() >= 1 and idx.max() == n_vertices else ""
        raise InputError(f"{path}: line {line}: face index {idx[k]}, but OFF vertex indices run from 0 to "
                         f"{n_vertices - 1}{hint}")
