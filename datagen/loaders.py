"""Loading one labelled shape into a ``PartMesh``, from the layouts users bring.

- Any mesh ``datagen.meshfile.read_mesh`` reads, with part labels from (first found):
  an explicit labels file; a file beside the mesh with the same stem (``.seg``, ``.txt`` or ``.npy``),
  one integer per face, or per vertex (a face takes the label most of its corners carry); ShapeNet-Part
  points beside it (``<stem>.pts`` with ``<stem>.seg``: x y z per line and a label per point, moved
  to the faces by nearest point); OBJ groups, else OBJ materials (named parts). No labels: one part.
- PartNet: a directory with ``result.json`` (the part tree) and ``objs/*.obj``; the parts are the
  root's children (``chair_back``, ``chair_seat`` ...), each the union of its leaves' OBJs.
- Keypoints: KeypointNet or sketchgen JSON (``datagen.keypoints``), placed on the file's faces.

Every problem raises InputError naming the file and the reason. ``max_faces`` decimates a mesh over
that budget part by part (labels kept; keypoints moved to the nearest point of the decimated surface).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from sketchgen.datagen.keypoints import Keypoints, load_keypoints
from sketchgen.datagen.meshfile import read_mesh, read_mesh_and_groups, validate_arrays
from sketchgen.datagen.partmesh import PartMesh, make_partmesh
from sketchgen.render.errors import InputError

log = logging.getLogger(__name__)

LABEL_SUFFIXES = (".seg", ".txt", ".npy")
# ShapeNet synset ids of the 16 ShapeNet-Part categories: directories named so get the category name
SHAPENET_SYNSETS = {
    "02691156": "airplane", "02773838": "bag", "02954340": "cap", "02958343": "car", "03001627": "chair",
    "03261776": "earphone", "03467517": "guitar", "03624134": "knife", "03636649": "lamp",
    "03642806": "laptop", "03790512": "motorbike", "03797390": "mug", "03948459": "pistol",
    "04099429": "rocket", "04225987": "skateboard", "04379243": "table",
}
_HEX_ID = re.compile(r"^[0-9a-f]{16,}$")


def load_partmesh(mesh_path, *, labels=None, points=None, keypoints=None, category: str | None = None,
                  shape_id: str | None = None, model_id: str | None = None,
                  max_faces: int | None = None) -> PartMesh:
    """Load one mesh file (or a PartNet directory) with its labels and keypoints as a PartMesh.

    labels: per-face/per-vertex label file, or per-point ``.seg`` when ``points`` (a ``.pts``) is given;
    None looks beside the mesh. keypoints: a keypoint JSON or None (``<stem>.keypoints.json`` or
    ``<stem>.json`` beside the
    mesh is used when present). category: default from the directory (ShapeNet synsets are named).
    shape_id: default the dataset's id (KeypointNet model_id, PartNet directory, a ShapeNet hash) else
    a content hash. max_faces: decimate above this many faces.
    """
    mesh_path = Path(mesh_path)
    if mesh_path.is_dir():
        return load_partnet(mesh_path, category=category, shape_id=shape_id, max_faces=max_faces)
    mesh, obj = read_mesh_and_groups(mesh_path)
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    face_labels, names = _labels_for(mesh_path, vertices, faces, labels, points, obj)
    kp = None
    kp_path = Path(keypoints) if keypoints is not None else _beside(mesh_path, (".keypoints.json", ".json"))
    if kp_path is not None:
        kp = load_keypoints(kp_path, mesh, model_id=model_id or _dataset_id(mesh_path))
    if shape_id is None:
        shape_id = model_id or (kp.model_id if kp is not None else None) or _dataset_id(mesh_path)
    if category is None and kp is not None and kp.class_id in SHAPENET_SYNSETS:
        category = SHAPENET_SYNSETS[kp.class_id]
    category = category or category_from_path(mesh_path)
    return _finish(vertices, faces, face_labels, names, kp, category, shape_id, mesh_path, max_faces)


def load_partnet(directory, *, category: str | None = None, shape_id: str | None = None,
                 max_faces: int | None = None) -> PartMesh:
    """A PartNet shape: ``result.json`` + ``objs/``; parts are the root's children, named."""
    directory = Path(directory)
    tree_path = directory / "result.json"
    try:
        tree = json.loads(tree_path.read_text())
    except OSError as exc:
        raise InputError(f"{tree_path}: cannot read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{tree_path}: not valid JSON ({exc})") from None
    root = tree[0] if isinstance(tree, list) and tree else tree
    if not isinstance(root, dict):
        raise InputError(f"{tree_path}: not a PartNet part tree")
    children = root.get("children") or [root]
    verts, faces, labels, names, offset = [], [], [], {}, 0
    for label, child in enumerate(children):
        names[label] = str(child.get("name", f"part{label}"))
        for obj in _leaf_objs(child):
            part = read_mesh(directory / "objs" / f"{obj}.obj")
            verts.append(np.asarray(part.vertices))
            faces.append(np.asarray(part.faces) + offset)
            labels.append(np.full(len(part.faces), label, np.int64))
            offset += len(part.vertices)
    if not faces:
        raise InputError(f"{tree_path}: the part tree names no OBJ files")
    vertices, all_faces = np.concatenate(verts), np.concatenate(faces)
    return _finish(vertices, all_faces, np.concatenate(labels), names, None,
                   category or str(root.get("name", "unknown")).lower(), shape_id or directory.name,
                   directory, max_faces)


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


def transfer_point_labels(pts_path, seg_path, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """ShapeNet-Part: (F,) int64 face labels from labelled points, by the nearest point to each face's
    centroid (points and mesh in the same file coordinates)."""
    from scipy.spatial import cKDTree

    try:
        pts = np.loadtxt(pts_path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(f"{pts_path}: not a point file ({exc})") from None
    if pts.ndim != 2 or pts.shape[1] < 3 or not np.all(np.isfinite(pts[:, :3])):
        raise InputError(f"{pts_path}: expected finite 'x y z' per line")
    point_labels = _read_int_column(seg_path)
    if len(point_labels) != len(pts):
        raise InputError(f"{seg_path}: has {len(point_labels)} labels, but {pts_path} has {len(pts)} points")
    centroids = vertices[faces].mean(axis=1)
    _, nearest = cKDTree(pts[:, :3]).query(centroids)
    return point_labels[nearest]


def category_from_path(path) -> str:
    """The category a file's directories suggest: a ShapeNet synset id or a known name anywhere up the
    path, else the parent directory's name."""
    path = Path(path)
    for part in reversed(path.parent.parts):
        if part in SHAPENET_SYNSETS:
            return SHAPENET_SYNSETS[part]
        if part.lower() in SHAPENET_SYNSETS.values():
            return part.lower()
    return path.parent.name.lower() or "unknown"


# ---------------------------------------------------------------------------------------------- helpers
def _labels_for(mesh_path: Path, vertices, faces, labels, points, obj=None):
    if labels is not None and points is not None:
        return transfer_point_labels(points, labels, vertices, faces), None
    if labels is not None:
        return read_labels(labels, len(faces), len(vertices), faces), None
    pts = _beside(mesh_path, (".pts",))
    seg = _beside(mesh_path, (".seg",))
    if pts is not None and seg is not None:
        return transfer_point_labels(pts, seg, vertices, faces), None
    found = _beside(mesh_path, LABEL_SUFFIXES)
    if found is not None:
        return read_labels(found, len(faces), len(vertices), faces), None
    if obj is not None:
        for ids, names in ((obj.groups, obj.group_names), (obj.materials, obj.material_names)):
            if len(names) > 1 and np.all(ids >= 0):
                return ids.copy(), dict(enumerate(names))
    return None, None


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
        from sketchgen.datagen.decimate import decimate

        shape = decimate(shape, max_faces)
    removed = shape.cleanup.get("degenerate", 0) + shape.cleanup.get("duplicate", 0)
    if removed:
        log.info("%s: removed %d degenerate and %d duplicate faces", source, shape.cleanup["degenerate"],
                 shape.cleanup["duplicate"])
    return shape
