"""Reading one mesh file into a validated ``trimesh.Trimesh`` in the file's own coordinates.

``read_mesh`` keeps the faces in the file's order (trimesh ``process=False``; OBJ parsed by
``ingest.formats.obj``) because per-face label files and keypoint annotations (KeypointNet's
``face_index``) index the faces as the file lists them. Scenes (GLB, multi-object files) are merged
into one mesh with their node transforms applied. Every problem raises ``InputError`` with the file
and the reason: unreadable, empty or unparseable files, non-finite coordinates, face indices past the
vertices, no faces, data that does not hold what the file declares (a binary STL's triangle count, a
PLY header's element counts: ``ingest.formats.ply``; an ASCII STL's facets: ``ingest.formats.stl``;
a GLB's lengths and accessor counts: ``ingest.formats.gltf``) and meshes that need a decoder sketchgen
lacks (Draco without the optional DracoPy), named with the package to install. Text is decoded by
sketchgen itself (``ingest.formats.text``), never by an optional encoding guesser.

Degenerate and duplicate faces are not removed here (that would shift face indices);
``render.cleanup.clean_faces`` finds them, ``ingest.partmesh`` removes them (remapping labels and
keypoints) and so does ``render.draw.draw_views``. trimesh's own log records (a texture or material
file it cannot find, with a traceback) are kept off the terminal while it loads a file.
"""

from __future__ import annotations

import contextlib
import logging
import struct
from pathlib import Path

import numpy as np
import trimesh

from sketchgen.errors import InputError

log = logging.getLogger(__name__)

MESH_SUFFIXES = (".obj", ".ply", ".off", ".stl", ".glb", ".gltf")


def read_mesh(path: str | Path) -> trimesh.Trimesh:
    """Load one mesh file, validated, in file coordinates and file face order.

    Returns a Trimesh with (V, 3) float64 vertices and (F, 3) int64 faces, F >= 1. Vertices of STL
    files (which store each triangle's corners separately) are merged, keeping the face order. OBJ and
    OFF polygons are triangulated in place (``ingest.formats.polygons``); their
    ``mesh.metadata["file_polygon"]`` is then the (F,) int64 face of the file each triangle came from,
    to spread per-polygon labels over its triangles.
    Raises InputError naming ``path`` and the reason.
    """
    return read_mesh_and_groups(path)[0]


def read_mesh_and_groups(path: str | Path):
    """``read_mesh`` plus, for an OBJ file, its parse (``ingest.formats.obj.ObjData``: per-face groups
    and materials), else None; an OBJ is parsed once."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a mesh file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(84)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise InputError(f"{path}: unsupported mesh format {suffix or '(no suffix)'!r}")
    if suffix == ".stl":
        _check_stl_size(path, head, size)
    obj = polygon = None
    if suffix == ".obj":
        from sketchgen.ingest.formats.obj import read_obj

        obj = read_obj(path)
        vertices, faces, polygon = obj.vertices, obj.faces, obj.polygon
    elif suffix == ".off":
        from sketchgen.ingest.formats.off import read_off

        off = read_off(path)
        vertices, faces, polygon = off.vertices, off.faces, off.polygon
    elif suffix == ".ply":
        vertices, faces = _load_ply(path)
    elif suffix == ".stl" and not _is_binary_stl(head, size):
        from sketchgen.ingest.formats.stl import read_ascii_stl

        vertices, faces = read_ascii_stl(path)
    else:
        if suffix in (".glb", ".gltf"):
            from sketchgen.ingest.formats.gltf import check_gltf

            check_gltf(path)
        vertices, faces = _load_with_trimesh(path)
    vertices, faces = validate_arrays(vertices, faces, path)
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False, validate=False)
    if polygon is not None:
        mesh.metadata["file_polygon"] = polygon
    if suffix == ".stl":
        mesh.merge_vertices(merge_tex=True, merge_norm=True)  # only renumbers vertices: faces keep order
        mesh = trimesh.Trimesh(vertices=np.asarray(mesh.vertices, np.float64),
                               faces=np.asarray(mesh.faces, np.int64), process=False, validate=False)
    return mesh, obj


def validate_arrays(vertices, faces, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Check raw mesh arrays; returns ((V, 3) float64, (F, 3) int64) or raises InputError naming ``path``."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise InputError(f"{path}: no vertices (not a mesh file trimesh can read?)")
    if faces.size == 0:
        raise InputError(f"{path}: has {len(vertices)} vertices but no faces")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise InputError(f"{path}: faces are not triangles (shape {faces.shape})")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise InputError(f"{path}: {int(bad.sum())} vertices have NaN or infinite coordinates "
                         f"(first: the {_ordinal(int(np.argmax(bad)) + 1)} vertex in the file)")
    faces = faces.astype(np.int64)
    if faces.min() < 0 or faces.max() >= len(vertices):
        worst = int(faces.max()) if faces.max() >= len(vertices) else int(faces.min())
        raise InputError(f"{path}: a face refers to vertex {worst}, but the file has {len(vertices)} vertices")
    return vertices, faces


def _is_binary_stl(head: bytes, size: int) -> bool:
    """A binary STL is 84 + 50 x (its triangle count at byte 80) bytes long (its header may start with
    "solid", as an ASCII STL does)."""
    return len(head) >= 84 and 84 + 50 * struct.unpack("<I", head[80:84])[0] == size


def _check_stl_size(path: Path, head: bytes, size: int) -> None:
    """A binary STL states its triangle count at byte 80; a truncated file must not load silently."""
    if _is_binary_stl(head, size):
        return
    if head.lstrip().lower().startswith(b"solid"):
        with open(path, "rb") as fh:
            sample = fh.read(4096)
        if b"facet" in sample or b"endsolid" in sample:
            return  # ASCII STL
    if len(head) < 84:
        raise InputError(f"{path}: binary STL shorter than its 84-byte header ({size} bytes)")
    count = struct.unpack("<I", head[80:84])[0]
    holds = (size - 84) // 50
    if holds < count:
        raise InputError(f"{path}: binary STL header claims {count} triangles but the file holds {holds}")
    raise InputError(f"{path}: binary STL size {size} does not match its {count} triangles")


@contextlib.contextmanager
def quiet_trimesh():
    """Keep trimesh's log records below ERROR off the terminal inside the block.

    trimesh logs a missing texture or material file as a warning with a whole traceback, though the
    geometry loads; the file's problems that matter reach the user as sketchgen's own InputError.
    """
    logger = logging.getLogger("trimesh")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR + 1))
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_ply(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A PLY file's vertices and triangles, once its header's element counts are checked against its
    data (``ingest.formats.ply``); trimesh parses the data behind a plain-ASCII copy of the header."""
    import io

    from sketchgen.ingest.formats.ply import check_counts, read_header

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    header = read_header(path, data)
    check_counts(path, data, header)
    clean = io.BytesIO(header.clean() + data[header.size:])
    vertices, faces = _load_with_trimesh(path, file_obj=clean, file_type="ply")
    declared = header.element("vertex")
    if declared is not None and declared.count != len(vertices):
        raise InputError(f"{path}: its PLY header declares {declared.rows(declared.count)} but "
                         f"{len(vertices)} were read")
    declared = header.element("face")
    if declared is not None and len(faces) < declared.count:
        raise InputError(f"{path}: its PLY header declares {declared.rows(declared.count)} but only "
                         f"{len(faces)} triangles were read")
    return vertices, faces


def _load_with_trimesh(path: Path, *, file_obj=None, file_type: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices and faces as trimesh reads ``path`` (or ``file_obj``, a copy of it, as ``file_type``)."""
    try:
        with quiet_trimesh():
            loaded = trimesh.load(file_obj if file_obj is not None else str(path), file_type=file_type,
                                  process=False)
    except ImportError as exc:  # an optional package trimesh needs for this file
        raise InputError(f"{path}: cannot read this {path.suffix.lstrip('.').upper()} file without the optional "
                         f"package {exc.name or exc} (not installed)") from None
    except Exception as exc:  # trimesh raises many types for corrupt files; all mean "cannot parse"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot parse as {path.suffix.lstrip('.').upper()} ({reason})") from None
    if isinstance(loaded, trimesh.Scene):
        with quiet_trimesh():
            meshes = [g for g in loaded.dump() if isinstance(g, trimesh.Trimesh)]
        if not meshes:
            raise InputError(f"{path}: scene holds no triangle meshes")
        if len(meshes) > 1:
            log.info("%s: merging %d scene meshes into one", path, len(meshes))
        verts, faces, offset = [], [], 0
        for m in meshes:
            verts.append(np.asarray(m.vertices, np.float64))
            faces.append(np.asarray(m.faces, np.int64) + offset)
            offset += len(m.vertices)
        return np.concatenate(verts), np.concatenate(faces)
    if isinstance(loaded, trimesh.Trimesh):
        return np.asarray(loaded.vertices, np.float64), np.asarray(loaded.faces)
    if isinstance(loaded, trimesh.PointCloud):
        raise InputError(f"{path}: has {len(loaded.vertices)} vertices but no faces")
    raise InputError(f"{path}: not a triangle mesh ({type(loaded).__name__})")


def _ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th": a position as a person counts, whatever the format's base."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
