"""Wavefront OBJ read in file order, with each face's group (``g``/``o``) and material (``usemtl``).

sketchgen parses OBJ itself because trimesh splits an OBJ by material and so reorders its faces,
which breaks per-face label files and keypoint face indices written against the file's face order.
Polygons of any size, convex or not, are triangulated in place (``datagen.formats.polygons``): a
convex one as a fan (v0, vi, vi+1), so a quad becomes two triangles in file order, a non-convex one by
ear clipping. Indices are 1-based, or negative counting back from the latest vertex (OBJ spec,
Wavefront 1995); an index 0 (a 0-based file) or past the vertices is refused with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.datagen.formats.polygons import triangulate_polygons
from sketchgen.datagen.formats.text import parse_vertices, read_lines
from sketchgen.render.errors import InputError

_SLASH = re.compile(r"/\S*")


@dataclass(frozen=True)
class ObjData:
    """vertices: (V, 3) float64 file coordinates; faces: (F, 3) int64 triangles (0-based, file order);
    groups, materials: (F,) int64 indices into ``group_names`` / ``material_names`` (-1 = none);
    polygon: (F,) int64 the ``f`` line (counted from 0 among the file's faces) each triangle came from."""

    vertices: np.ndarray
    faces: np.ndarray
    groups: np.ndarray
    group_names: list[str]
    materials: np.ndarray
    material_names: list[str]
    polygon: np.ndarray | None = None


def read_obj(path: str | Path) -> ObjData:
    """Parse an OBJ file; raises InputError naming the file (and the line) for malformed content."""
    path = Path(path)
    lines = read_lines(path, "OBJ")
    # classify lines by their tag with comprehensions (a per-line Python loop costs seconds on big files)
    lines = [ln.strip() for ln in lines]
    tags = [ln.split(None, 1)[0] if ln else "" for ln in lines]
    v_at = [i for i, t in enumerate(tags) if t == "v"]
    f_at = [i for i, t in enumerate(tags) if t == "f"]
    named_at = [i for i, t in enumerate(tags) if t in ("g", "o", "usemtl")]
    v_rows = [lines[i][1:] for i in v_at]
    f_rows = [lines[i][1:] for i in f_at]
    v_lines = [i + 1 for i in v_at]
    f_lines = [i + 1 for i in f_at]
    group_names: list[str] = []
    material_names: list[str] = []
    group_index: dict[str, int] = {}
    mat_index: dict[str, int] = {}
    # the group / material in force after each naming line
    g_pos, g_val, m_pos, m_val = [], [], [], []
    for i in named_at:
        tag = tags[i]
        name = lines[i][len(tag):].strip()
        if tag == "usemtl":
            if name not in mat_index:
                mat_index[name] = len(material_names)
                material_names.append(name)
            m_pos.append(i)
            m_val.append(mat_index[name])
        else:
            name = name or "default"
            if name not in group_index:
                group_index[name] = len(group_names)
                group_names.append(name)
            g_pos.append(i)
            g_val.append(group_index[name])
    f_pos = np.asarray(f_at, np.int64)

    def in_force(pos, val):
        k = np.searchsorted(np.asarray(pos, np.int64), f_pos) - 1
        return np.where(k >= 0, np.asarray(val + [-1], np.int64)[k], -1)

    f_state = np.stack([in_force(g_pos, g_val), in_force(m_pos, m_val),
                        np.searchsorted(np.asarray(v_at, np.int64), f_pos)], axis=1) if len(f_at) else \
        np.zeros((0, 3), np.int64)
    vertices = parse_vertices(path, v_rows, v_lines)
    faces, line_of_tri = _parse_faces(path, f_rows, f_lines, np.asarray(f_state, np.int64).reshape(-1, 3),
                                      vertices)
    state = np.asarray(f_state, np.int64).reshape(-1, 3)
    return ObjData(
        vertices=vertices,
        faces=faces,
        groups=state[line_of_tri, 0] if len(faces) else np.zeros(0, np.int64),
        group_names=group_names,
        materials=state[line_of_tri, 1] if len(faces) else np.zeros(0, np.int64),
        material_names=material_names,
        polygon=line_of_tri,
    )


def _parse_faces(path: Path, rows: list[str], lines: list[int], state: np.ndarray, vertices: np.ndarray):
    """(T, 3) int64 triangles (0-based) and the face line each came from (T,), 0-based among the faces."""
    counts = np.array([len(r.split()) for r in rows], dtype=np.int64)
    short = np.flatnonzero(counts < 3)
    if len(short):
        raise InputError(f"{path}: line {lines[short[0]]}: face with fewer than 3 vertices")
    # "v/vt/vn" -> "v": only the vertex index matters here
    joined = _SLASH.sub("", " ".join(rows))
    try:
        idx = np.array(joined.split(), dtype=np.int64)
    except (ValueError, OverflowError):
        for row, lineno in zip(rows, lines):
            for token in row.split():
                try:
                    if abs(int(token.split("/", 1)[0])) >= 2**63:  # no mesh has that many vertices
                        raise ValueError
                except (ValueError, OverflowError):
                    raise InputError(f"{path}: line {lineno}: bad face index {token!r}") from None
        raise InputError(f"{path}: malformed face lines") from None
    if len(idx) != counts.sum():
        raise InputError(f"{path}: malformed face lines")
    line_of_index = np.repeat(np.arange(len(rows)), counts)
    seen = state[line_of_index, 2]  # vertices read before each face line
    _check_indices(path, idx, seen, len(vertices), np.asarray(lines, np.int64)[line_of_index])
    # OBJ indices are 1-based; negative ones count back from the latest vertex read
    idx = np.where(idx > 0, idx - 1, seen + idx)
    return triangulate_polygons(vertices, idx, counts)


def _check_indices(path: Path, idx: np.ndarray, seen: np.ndarray, n_vertices: int, lineno: np.ndarray) -> None:
    """Refuse index 0 (OBJ counts from 1: the file is 0-based), indices past the file's vertices and
    relative ones reaching before its first vertex, naming the first offending line."""
    zero = idx == 0
    if zero.any():
        k = int(np.argmax(zero))
        raise InputError(f"{path}: line {lineno[k]}: face index 0, but OBJ vertex indices start at 1 "
                         f"(a 0-based file?)")
    past = idx > n_vertices
    if past.any():
        k = int(np.argmax(past))
        raise InputError(f"{path}: line {lineno[k]}: face index {idx[k]} refers to vertex {idx[k] - 1} "
                         f"(0-based), but the file has {n_vertices} vertices (OBJ indices run 1..{n_vertices})")
    before = seen + idx < 0
    if before.any():
        k = int(np.argmax(before))
        raise InputError(f"{path}: line {lineno[k]}: relative face index {idx[k]} reaches before the first "
                         f"vertex ({seen[k]} vertices read so far)")
