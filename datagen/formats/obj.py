"""Wavefront OBJ read in file order, with each face's group (``g``/``o``) and material (``usemtl``).

sketchgen parses OBJ itself because trimesh splits an OBJ by material and so reorders its faces,
which breaks per-face label files and keypoint face indices written against the file's face order.
Polygons are triangulated as fans (v0, vi, vi+1), so a quad becomes two triangles in file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from render.errors import InputError


@dataclass(frozen=True)
class ObjData:
    """vertices: (V, 3) float64 file coordinates; faces: (F, 3) int64 triangles (0-based, file order);
    groups, materials: (F,) int64 indices into ``group_names`` / ``material_names`` (-1 = none)."""

    vertices: np.ndarray
    faces: np.ndarray
    groups: np.ndarray
    group_names: list[str]
    materials: np.ndarray
    material_names: list[str]


def read_obj(path: str | Path) -> ObjData:
    """Parse an OBJ file; raises InputError naming the file and line for malformed content."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text OBJ file (undecodable bytes)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    vertices: list[tuple[float, float, float]] = []
    tris: list[tuple[int, int, int]] = []
    face_group: list[int] = []
    face_mat: list[int] = []
    group_names: list[str] = []
    material_names: list[str] = []
    group_index: dict[str, int] = {}
    mat_index: dict[str, int] = {}
    group, mat = -1, -1
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tag, _, rest = line.partition(" ")
        if tag == "v":
            parts = rest.split()
            if len(parts) < 3:
                raise InputError(f"{path}: line {lineno}: vertex needs 3 coordinates")
            try:
                vertices.append((float(parts[0]), float(parts[1]), float(parts[2])))
            except ValueError:
                raise InputError(f"{path}: line {lineno}: vertex coordinates are not numbers") from None
        elif tag == "f":
            idx = []
            for token in rest.split():
                try:
                    i = int(token.split("/", 1)[0])
                except ValueError:
                    raise InputError(f"{path}: line {lineno}: bad face index {token!r}") from None
                # OBJ indices are 1-based; negative ones count back from the latest vertex
                idx.append(i - 1 if i > 0 else len(vertices) + i)
            if len(idx) < 3:
                raise InputError(f"{path}: line {lineno}: face with fewer than 3 vertices")
            for k in range(1, len(idx) - 1):
                tris.append((idx[0], idx[k], idx[k + 1]))
                face_group.append(group)
                face_mat.append(mat)
        elif tag in ("g", "o"):
            name = rest.strip() or "default"
            if name not in group_index:
                group_index[name] = len(group_names)
                group_names.append(name)
            group = group_index[name]
        elif tag == "usemtl":
            name = rest.strip()
            if name not in mat_index:
                mat_index[name] = len(material_names)
                material_names.append(name)
            mat = mat_index[name]
    return ObjData(
        vertices=np.asarray(vertices, dtype=np.float64).reshape(-1, 3),
        faces=np.asarray(tris, dtype=np.int64).reshape(-1, 3),
        groups=np.asarray(face_group, dtype=np.int64),
        group_names=group_names,
        materials=np.asarray(face_mat, dtype=np.int64),
        material_names=material_names,
    )
