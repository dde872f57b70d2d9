"""Wavefront OBJ read in file order, with each face's group (``g``/``o``) and material (``usemtl``).

sketchgen parses OBJ itself because trimesh splits an OBJ by material and so reorders its faces,
which breaks per-face label files and keypoint face indices written against the file's face order.
Polygons of any size, convex or not, are triangulated in place (``ingest.formats.polygons``): a
convex one as a fan (v0, vi, vi+1), so a quad becomes two triangles in file order, a non-convex one by
ear clipping. Indices are 1-based, or negative counting back from the latest vertex (OBJ spec,
Wavefront 1995); an index 0 (a 0-based file) or past the vertices is refused with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.formats.polygons import triangulate_polygons
from sketchgen.ingest.formats.text import parse_vertices, read_lines

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


@dataclass(frozen=True)
class ObjTexcoords:
    """Texture coordinates of an OBJ's triangles, aligned with ``read_obj``'s faces.

    texcoords: (T, 2) float64 the file's ``vt`` (u, v) values (v = 0 at the bottom of the image, OBJ/MTL
    convention); face_texcoords: (F, 3) int64 the ``vt`` of each triangle corner, -1 where the face line
    names none; mtllibs: the ``mtllib`` file names, in file order (relative to the OBJ's folder)."""

    texcoords: np.ndarray
    face_texcoords: np.ndarray
    mtllibs: list[str]


def read_obj_texcoords(path: str | Path) -> ObjTexcoords:
    """The ``vt`` lines and each triangle corner's ``vt`` index of an OBJ, triangulated as ``read_obj``
    does (so row f is ``read_obj(path).faces[f]``'s). Indices are 1-based or negative (counting back from
    the latest ``vt``), as for vertices. Raises InputError naming the file and line for a malformed
    ``vt`` line or an index past the ``vt`` lines."""
    path = Path(path)
    lines = [ln.strip() for ln in read_lines(path, "OBJ")]
    tags = [ln.split(None, 1)[0] if ln else "" for ln in lines]
    vt_at = [i for i, t in enumerate(tags) if t == "vt"]
    v_at = [i for i, t in enumerate(tags) if t == "v"]
    f_at = [i for i, t in enumerate(tags) if t == "f"]
    mtllibs = [name for i, t in enumerate(tags) if t == "mtllib" for name in lines[i][6:].split()]
    texcoords = np.zeros((len(vt_at), 2), np.float64)
    for k, i in enumerate(vt_at):
        parts = lines[i].split()[1:3]
        try:
            texcoords[k, :len(parts)] = [float(p) for p in parts]
        except ValueError:
            raise InputError(f"{path}: line {i + 1}: texture coordinates are not numbers") from None
    vertices = parse_vertices(path, [lines[i][1:] for i in v_at], [i + 1 for i in v_at])
    rows = [lines[i][1:].split() for i in f_at]
    counts = np.array([len(r) for r in rows], np.int64)
    if len(rows) == 0:
        return ObjTexcoords(texcoords, np.zeros((0, 3), np.int64), mtllibs)
    v_seen = np.searchsorted(np.asarray(v_at, np.int64), np.asarray(f_at, np.int64))
    vt_seen = np.searchsorted(np.asarray(vt_at, np.int64), np.asarray(f_at, np.int64))
    v_idx = np.zeros(int(counts.sum()), np.int64)
    t_idx = np.full(int(counts.sum()), -1, np.int64)
    k = 0
    for row, line, vs, ts in zip(rows, f_at, v_seen, vt_seen):
        for token in row:
            fields = token.split("/")
            try:
                v = int(fields[0])
                t = int(fields[1]) if len(fields) > 1 and fields[1] else None
            except ValueError:
                raise InputError(f"{path}: line {line + 1}: bad face index {token!r}") from None
            v_idx[k] = v - 1 if v > 0 else vs + v
            if t is not None:
                t_idx[k] = t - 1 if t > 0 else ts + t
                if not 0 <= t_idx[k] < len(texcoords):
                    raise InputError(f"{path}: line {line + 1}: texture index {t} past the file's "
                                     f"{len(texcoords)} vt lines")
            k += 1
    if len(v_idx) and (v_idx.min() < 0 or v_idx.max() >= len(vertices)):
        return ObjTexcoords(texcoords, np.full((0, 3), -1, np.int64), mtllibs)  # read_obj refuses this file
    # triangulate the corners themselves (at their vertices' positions): the same triangles as read_obj's,
    # each corner keeping its own vt
    corner_faces, _ = triangulate_polygons(vertices[v_idx], np.arange(len(v_idx)), counts)
    return ObjTexcoords(texcoords, t_idx[corner_faces], mtllibs)
