"""Loading one labelled shape into a ``PartMesh``, from the layouts users bring.

- Any mesh ``ingest.meshfile.read_mesh`` reads, with part labels from (first found):
  an explicit labels file; a file beside the mesh with the same stem (``.seg``, ``.txt`` or ``.npy``),
  one integer per face, or per vertex (a face takes the label most of its corners carry); ShapeNet-Part
  points beside it (``<stem>.pts`` with ``<stem>.seg``: x y z per line and a label per point, moved
  to the faces by nearest point); OBJ groups, else OBJ materials (named parts). No labels: one part.
- PartNet: a directory with ``result.json`` (the part tree) and ``objs/*.obj``; the parts are the
  root's children (``chair_back``, ``chair_seat`` ...), each the union of its leaves' OBJs; below a chain
  of single children (bottle -> normal_bottle -> body, neck, lid), the first level that splits.
- Keypoints: KeypointNet or sketchgen JSON (``ingest.keypoints``), placed on the file's faces.

Every problem raises InputError naming the file and the reason. ``max_faces`` decimates a mesh over
that budget part by part (labels kept; keypoints moved to the nearest point of the decimated surface).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.keypoints import Keypoints, is_keypoint_file, load_keypoints
from sketchgen.ingest.layouts import SHAPENET_PART_CATEGORIES, SHAPENETCORE_SYNSETS
from sketchgen.ingest.meshfile import read_mesh, read_mesh_and_groups, validate_arrays
from sketchgen.ingest.partmesh import PartMesh, make_partmesh

log = logging.getLogger(__name__)

LABEL_SUFFIXES = (".seg", ".txt", ".npy")
# layouts whose labels and keypoints sit beside the mesh under its stem (see ``load_row``)
BESIDE_LAYOUTS = ("plain", "psb", "manifest")
# labelled points farther from the surface than this fraction of the bounding-box diagonal (90th
# percentile) are in another frame: ShapeNet-Part points lie on their mesh to well under 1%
OFF_SURFACE = 0.02
# ShapeNet synset ids of the 16 ShapeNet-Part categories, with their names
SHAPENET_SYNSETS = {k: v for k, v in SHAPENETCORE_SYNSETS.items() if v in SHAPENET_PART_CATEGORIES}
_HEX_ID = re.compile(r"^[0-9a-f]{16,}$")


def load_row(row: Mapping, *, max_faces: int | None = None, strict: bool = False) -> PartMesh:
    """Load one discovery or manifest row (keys in ``ingest.layouts``) as a PartMesh.

    Files beside the mesh (labels, keypoints) are looked for only in layouts that rely on them
    (``plain``, ``psb``, ``manifest``): a ShapeNetCore model's ``model_normalized.json`` is metadata.
    strict: every doubt about the data (labelled points off the surface, a skipped PartNet leaf) raises
    InputError instead of becoming a note on ``PartMesh.notes``. Raises InputError naming the file.
    """
    if "mesh" not in row:
        raise InputError(f"row {dict(row)!r}: no \"mesh\"")
    return load_partmesh(row["mesh"], labels=row.get("labels"), points=row.get("points"),
                         keypoints=row.get("keypoints"), category=row.get("category"), shape_id=row.get("id"),
                         model_id=row.get("model_id"), max_faces=max_faces, strict=strict,
                         beside=row.get("layout", "manifest") in BESIDE_LAYOUTS)


def load_partmesh(mesh_path, *, labels=None, points=None, keypoints=None, category: str | None = None,
                  shape_id: str | None = None, model_id: str | None = None,
                  max_faces: int | None = None, strict: bool = False, beside: bool = True) -> PartMesh:
    """Load one mesh file (or a PartNet directory) with its labels and keypoints as a PartMesh.

    labels: per-face/per-vertex label file, or per-point ``.seg`` when ``points`` (a ``.pts``) is given;
    None looks beside the mesh (when ``beside``). keypoints: a keypoint JSON or None (with ``beside``,
    ``<stem>.keypoints.json``, or ``<stem>.json`` when it holds keypoints, is used when present).
    category: default from the directory (ShapeNet synsets are named). shape_id: default the dataset's
    id (KeypointNet model_id, PartNet directory, a ShapeNet hash) else a content hash. max_faces:
    decimate above this many faces. strict: warnings (``PartMesh.notes``) raise InputError instead.
    """
    mesh_path = Path(mesh_path)
    if mesh_path.is_dir():
        return load_partnet(mesh_path, category=category, shape_id=shape_id, max_faces=max_faces, strict=strict)
    mesh, obj = read_mesh_and_groups(mesh_path)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    notes: list[str] = []
    checks: dict = {}
    face_labels, names = _labels_for(mesh_path, vertices, faces, labels, points, obj, beside, notes, checks)
    kp = None
    kp_path = Path(keypoints) if keypoints is not None else _keypoints_beside(mesh_path) if beside else None
    if kp_path is not None:
        kp = load_keypoints(kp_path, mesh, model_id=model_id or _dataset_id(mesh_path))
    if shape_id is None:
        shape_id = model_id or (kp.model_id if kp is not None else None) or _dataset_id(mesh_path)
    if category is None and kp is not None and kp.class_id in SHAPENETCORE_SYNSETS:
        category = SHAPENETCORE_SYNSETS[kp.class_id]
    category = category or category_from_path(mesh_path)
    raise_if_strict(notes, strict)
    shape = _finish(vertices, faces, face_labels, names, kp, category, shape_id, mesh_path, max_faces)
    return dataclasses.replace(shape, notes=tuple(notes), checks=checks)


def partnet_parts(directory) -> tuple[dict, list[dict]]:
    """(root node, part nodes) of a PartNet shape's ``result.json``: the root's children, or every root
    when the file lists several (PartNet-Mobility). A chain of single children without OBJs of their own
    (a PartNet-Mobility type node: bottle -> normal_bottle -> body, neck, lid) is walked down to the first
    level that splits, so the parts are that level's nodes. Part k is labelled k and named by its
    ``name``. Raises InputError naming the file when it cannot be read or is not a part tree."""
    tree_path = Path(directory) / "result.json"
    try:
        tree = json.loads(tree_path.read_text())
    except OSError as exc:
        raise InputError(f"{tree_path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{tree_path}: not valid JSON ({exc})") from None
    roots = tree if isinstance(tree, list) else [tree]
    if not roots or not all(isinstance(r, dict) for r in roots):
        raise InputError(f"{tree_path}: not a PartNet part tree")
    root = roots[0]
    children = (root.get("children") or [root]) if len(roots) == 1 else roots
    # a node whose one child holds every OBJ names no part of its own: its child's children are the parts
    while len(children) == 1 and isinstance(children[0], dict) and not children[0].get("objs") \
            and children[0].get("children"):
        children = children[0]["children"]
    if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
        raise InputError(f"{tree_path}: not a PartNet part tree")
    return root, children


def load_partnet(directory, *, category: str | None = None, shape_id: str | None = None,
                 max_faces: int | None = None, strict: bool = False) -> PartMesh:
    """A PartNet v0 (``result.json`` + ``objs/``) or PartNet-Mobility (``result.json`` +
    ``textured_objs/``) shape; parts are the root's children, or the first level that splits below a chain of
    single children (``partnet_parts``; a Mobility tree listing several roots:
    those), named, each the union of its leaves' OBJs.

    category: default ``meta.json``'s ``model_cat``, else the tree root's name (lower case). shape_id:
    default ``meta.json``'s ``anno_id``, else the directory's name. A leaf OBJ that is missing or holds
    no faces is skipped and named in ``PartMesh.notes`` (strict: InputError); InputError when no leaf loads.
    """
    directory = Path(directory)
    tree_path = directory / "result.json"
    root, children = partnet_parts(directory)
    obj_dir = directory / ("objs" if (directory / "objs").is_dir() or not (directory / "textured_objs").is_dir()
                           else "textured_objs")
    meta = _partnet_meta(directory)
    verts, faces, labels, names, offset, notes = [], [], [], {}, 0, []
    for label, child in enumerate(children):
        name = str(child.get("name", f"part{label}"))
        for obj in _leaf_objs(child):
            try:
                part = read_mesh(obj_dir / f"{obj}.obj")
            except InputError as exc:
                note = f"{exc} (a leaf of {name}); skipped, the shape loads from its other leaves"
                raise_if_strict([note], strict)
                notes.append(note)
                continue
            names[label] = name
            verts.append(np.asarray(part.vertices))
            faces.append(np.asarray(part.faces) + offset)
            labels.append(np.full(len(part.faces), label, np.int64))
            offset += len(part.vertices)
    if not faces:
        why = f"; every leaf failed: {notes[0]}" if notes else ""
        raise InputError(f"{tree_path}: the part tree names no OBJ file that loads{why}")
    for note in notes:
        log.warning("%s", note)
    category = category or str(meta.get("model_cat") or "").strip().lower() or str(root.get("name", "unknown")).lower()
    shape_id = shape_id or str(meta.get("anno_id") or directory.name)
    vertices, all_faces = np.concatenate(verts), np.concatenate(faces)
    shape = _finish(vertices, all_faces, np.concatenate(labels), names, None, category, shape_id, directory,
                    max_faces)
    return dataclasses.replace(shape, notes=tuple(notes))


def read_labels(path, n_faces: int, n_vertices: int | None = None, vertex_faces: np.ndarray | None = None):
    """Per-face labels from a ``.seg``/``.txt`` (one integer per line) or ``.npy`` file.

    A file with one label per vertex (``n_vertices`` long) is turned into per-face labels with
    ``vertex_faces`` ((F, 3) int64): each face takes the label most of its corners carry.
    Returns (F,) int64. Raises InputError when the length matches neither.
    """
    values = _read_int_column(path)
    if len(values) == n_faces:
        return values
    if n_vertices is not None and len(values) == n_vertices and vertex_faces is not None:
        return _vertex_to_face_labels(values, vertex_faces)
    extra = f" or {n_vertices} vertices" if n_vertices is not None else ""
    raise InputError(f"{path}: has {len(values)} labels, but the mesh has {n_faces} faces{extra}")


def transfer_point_labels(pts_path, seg_path, vertices: np.ndarray, faces: np.ndarray
                          ) -> tuple[np.ndarray, dict]:
    """ShapeNet-Part: face labels from labelled points, by the nearest point to each face's centroid,
    with a check of how far the points lie from the surface.

    pts_path: ``x y z`` per line; seg_path: one integer label per point, or ``pts_path`` itself when each
    line ends with its label (ShapeNet-Part's ``_normal`` release: ``x y z nx ny nz label``). vertices (V, 3) float64 and
    faces (F, 3) int64 in the file's coordinates, the frame the points must share. Returns ((F,) int64
    face labels, check): check = {"file", "n", "median", "p90" (point-to-surface distances, file
    units), "relative_p90" (p90 / the mesh's bounding-box diagonal), "point_labels", "face_labels"
    (how many distinct labels each side carries)}; ``point_check_note`` turns it into a warning.
    Raises InputError naming the file when either file is unreadable or their lengths differ.
    """
    import igl
    from scipy.spatial import cKDTree

    try:
        pts = np.loadtxt(pts_path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(f"{pts_path}: not a point file ({exc})") from None
    if pts.ndim != 2 or pts.shape[1] < 3 or len(pts) == 0 or not np.all(np.isfinite(pts[:, :3])):
        raise InputError(f"{pts_path}: expected finite 'x y z' per line")
    if Path(seg_path) == Path(pts_path):  # ShapeNet-Part "_normal": x y z nx ny nz label per line
        if pts.shape[1] < 4:
            raise InputError(f"{pts_path}: expected 'x y z ... label' per line (points and labels in one file)")
        point_labels = pts[:, -1]
        if np.any(point_labels != np.round(point_labels)):
            raise InputError(f"{pts_path}: the last column (labels) must hold integers")
        point_labels = point_labels.astype(np.int64)
    else:
        point_labels = _read_int_column(seg_path)
    pts = np.ascontiguousarray(pts[:, :3])
    if len(point_labels) != len(pts):
        raise InputError(f"{seg_path}: has {len(point_labels)} labels, but {pts_path} has {len(pts)} points")
    vertices = np.ascontiguousarray(vertices, np.float64)
    faces = np.ascontiguousarray(faces, np.int64)
    centroids = vertices[faces].mean(axis=1)
    _, nearest = cKDTree(pts).query(centroids)
    face_labels = point_labels[nearest]
    squared, _, _ = igl.point_mesh_squared_distance(pts, vertices, faces)
    distance = np.sqrt(squared)
    diagonal = float(np.linalg.norm(np.ptp(vertices, axis=0))) or 1.0
    p90 = float(np.percentile(distance, 90))
    check = {"file": str(pts_path), "n": int(len(pts)), "median": float(np.median(distance)), "p90": p90,
             "relative_p90": p90 / diagonal, "point_labels": int(len(np.unique(point_labels))),
             "face_labels": int(len(np.unique(face_labels)))}
    return face_labels, check


def point_check_note(check: dict) -> str | None:
    """The one-line warning a ``transfer_point_labels`` check calls for, or None when the points lie on
    the surface (90th-percentile distance within ``OFF_SURFACE`` of the bounding-box diagonal) and the
    faces received more than one label whenever the points carry several."""
    if check["relative_p90"] > OFF_SURFACE:
        return (f"{check['file']}: labelled points lie {check['median']:.3g} (median) / {check['p90']:.3g} "
                f"(90th percentile) from the mesh surface, {check['relative_p90']:.0%} of the shape's size "
                f"(limit {OFF_SURFACE:.0%}): the points are in another frame than the mesh, so the "
                "transferred labels are not to be trusted")
    if check["point_labels"] > 1 and check["face_labels"] == 1:
        return (f"{check['file']}: the points carry {check['point_labels']} labels but every face received "
                "the same one")
    return None


def category_from_path(path) -> str:
    """The category a file's directories suggest: a ShapeNet synset id or a ShapeNet-Part category name
    anywhere up the path, else the parent directory's name."""
    path = Path(path)
    for part in reversed(path.parent.parts):
        if part in SHAPENETCORE_SYNSETS:
            return SHAPENETCORE_SYNSETS[part]
        if part.lower() in SHAPENET_PART_CATEGORIES:
            return part.lower()
    return path.parent.name.lower() or "unknown"


# ---------------------------------------------------------------------------------------------- helpers
def _labels_for(mesh_path: Path, vertices, faces, labels, points, obj, beside: bool, notes: list,
                checks: dict):
    if labels is None and points is None and beside:
        pts, seg = _beside(mesh_path, (".pts",)), _beside(mesh_path, (".seg",))
        if pts is not None and seg is not None:
            labels, points = seg, pts
        else:
            labels = _beside(mesh_path, LABEL_SUFFIXES)
    if labels is not None and points is not None:
        face_labels, check = transfer_point_labels(points, labels, vertices, faces)
        checks["points"] = check
        note = point_check_note(check)
        if note is not None:
            log.warning("%s", note)
            notes.append(note)
        return face_labels, None
    if labels is not None:
        return read_labels(labels, len(faces), len(vertices), faces), None
    if points is not None:
        raise InputError(f"{points}: labelled points need their per-point labels (.seg) too")
    if obj is not None:
        for ids, names in ((obj.groups, obj.group_names), (obj.materials, obj.material_names)):
            if len(names) > 1 and np.all(ids >= 0):
                return ids.copy(), dict(enumerate(names))
    return None, None


def _keypoints_beside(mesh_path: Path) -> Path | None:
    """``<stem>.keypoints.json``, or ``<stem>.json`` when it holds keypoints (not, say, ShapeNet's
    ``model_normalized.json`` metadata)."""
    named = _beside(mesh_path, (".keypoints.json",))
    if named is not None:
        return named
    plain = _beside(mesh_path, (".json",))
    if plain is not None and not is_keypoint_file(plain):
        log.debug("%s: not a keypoint file; ignored", plain)
        return None
    return plain


def raise_if_strict(notes: list[str], strict: bool) -> None:
    """Under ``strict``, the first note (a doubt about a shape's data, naming the file) as InputError."""
    if strict and notes:
        raise InputError(f"{notes[0]} (strict)")


def _partnet_meta(directory: Path) -> dict:
    path = directory / "meta.json"
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return meta if isinstance(meta, dict) else {}


def _beside(mesh_path: Path, suffixes) -> Path | None:
    for suffix in suffixes:
        candidate = mesh_path.with_name(mesh_path.stem + suffix)
        if candidate != mesh_path and candidate.exists():
            return candidate
    return None


def _read_int_column(path) -> np.ndarray:
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            text = path.read_text()
            values = np.array([float(t) for t in text.split()], dtype=np.float64)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a label file ({getattr(exc, 'strerror', None) or exc})") from None
    values = np.asarray(values).reshape(-1)
    if values.size == 0:
        raise InputError(f"{path}: no labels")
    if not np.all(np.isfinite(values.astype(np.float64))) or np.any(values != np.round(values)):
        raise InputError(f"{path}: labels must be integers")
    return values.astype(np.int64)


def _vertex_to_face_labels(vertex_labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    corner = vertex_labels[faces]  # (F, 3)
    # majority of three: a label shared by two corners wins, else the first corner's
    return np.where(corner[:, 1] == corner[:, 2], corner[:, 1], corner[:, 0])


def _leaf_objs(node: dict) -> list[str]:
    out = list(node.get("objs", []))
    for child in node.get("children", []) or []:
        out.extend(_leaf_objs(child))
    return out


def _dataset_id(path: Path) -> str | None:
    """A dataset's own id in the path: a ShapeNet/KeypointNet hash as the stem or the model directory."""
    if _HEX_ID.match(path.stem):
        return path.stem
    for part in reversed(path.parent.parts[-3:]):
        if _HEX_ID.match(part):
            return part
    return None


def _finish(vertices, faces, face_labels, names, kp: Keypoints | None, category, shape_id, source,
            max_faces) -> PartMesh:
    vertices, faces = validate_arrays(vertices, faces, source)
    shape = make_partmesh(vertices, faces, face_labels, part_names=names, keypoints=kp, category=category,
                          shape_id=shape_id, source=str(source))
    if max_faces is not None and shape.n_faces > max_faces:
        from sketchgen.ingest.decimate import decimate

        shape = decimate(shape, max_faces)
    removed = shape.cleanup.get("degenerate", 0) + shape.cleanup.get("duplicate", 0)
    if removed:
        log.info("%s: removed %d degenerate and %d duplicate faces", source, shape.cleanup["degenerate"],
                 shape.cleanup["duplicate"])
    return shape
