"""Keypoints on a mesh surface: (face index, barycentric weights, semantic id), read from files.

Two file formats are read:

- KeypointNet (``annotations/<class>.json``): a list of entries ``{"class_id", "model_id",
  "keypoints": [{"xyz", "semantic_id", "mesh_info": {"face_index", "face_uv"}}, ...]}`` (a single
  entry as a bare object is also accepted). ``face_uv`` are barycentric weights on the faces of the
  model's PLY *in file order* (``ingest.meshfile.read_mesh`` keeps that order). When the file holds
  several models, the one whose ``model_id`` is given (or equals the mesh file's stem) is used.
- sketchgen's own format::

      {"keypoints": [{"face": 12, "bary": [0.2, 0.3, 0.5], "semantic_id": 0}, ...]}

  ``face`` indexes the mesh file's faces in file order; ``bary`` weights the face's three corners
  (they must be >= 0 and are renormalised to sum to 1); an optional ``"xyz"`` is the annotated point.

A keypoint's 3D point is ``sum_k bary[k] * vertices[faces[face, k]]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError


@dataclass(frozen=True)
class Keypoints:
    """K keypoints on a mesh. face: (K,) int64 face indices; bary: (K, 3) float64 barycentric weights
    (rows sum to 1); semantic_id: (K,) int64; xyz: (K, 3) float64 annotated points in the file's
    coordinates or None when the file gives none; model_id, class_id: KeypointNet's ids when given."""

    face: np.ndarray
    bary: np.ndarray
    semantic_id: np.ndarray
    xyz: np.ndarray | None = None
    model_id: str | None = None
    class_id: str | None = None

    def __len__(self) -> int:
        return len(self.face)

    def points(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(K, 3) float64 surface points, in the frame of ``vertices`` ((V, 3)); ``faces`` (F, 3)."""
        return barycentric_points(vertices, faces, self.face, self.bary)

    def to_json(self) -> dict:
        """sketchgen's keypoint format (see the module docstring)."""
        return {"keypoints": [{"face": int(f), "bary": [float(x) for x in b], "semantic_id": int(s)}
                              for f, b, s in zip(self.face, self.bary, self.semantic_id)]}

    @staticmethod
    def empty() -> "Keypoints":
        return Keypoints(np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0, np.int64))


def barycentric_points(vertices, faces, face_index, bary) -> np.ndarray:
    """(N, 3) float64 points ``sum_k bary[:, k] * vertices[faces[face_index, k]]``.

    vertices: (V, 3) float64; faces: (F, 3) int64; face_index: (N,) int; bary: (N, 3) float64.
    """
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)[np.asarray(face_index, np.int64)]]
    return np.einsum("nk,nkd->nd", np.asarray(bary, np.float64), tri)


def load_keypoints(path: str | Path, mesh=None, model_id: str | None = None) -> Keypoints:
    """Read keypoints from a KeypointNet or sketchgen JSON file.

    mesh: optional ``trimesh.Trimesh`` (file face order) or anything with ``faces``; when given, every
    keypoint's face must exist on it. Raises InputError naming the file and the reason.
    """
    path = Path(path)
    data = _read_json(path)
    entries = data if isinstance(data, list) else [data]
    if not entries or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"{path}: expected a keypoint object or a list of KeypointNet entries")
    entry = _pick_entry(entries, path, model_id)
    raw = entry.get("keypoints")
    if not isinstance(raw, list):
        raise InputError(f"{path}: no \"keypoints\" list")
    faces, barys, ids, xyzs = [], [], [], []
    for k, item in enumerate(raw):
        try:
            if "mesh_info" in item:  # KeypointNet
                face = item["mesh_info"]["face_index"]
                bary = item["mesh_info"]["face_uv"]
            else:
                face, bary = item["face"], item["bary"]
            sid = item.get("semantic_id", k)
            face, sid = int(face), int(sid)
            bary = np.asarray(bary, dtype=np.float64)
            xyz = item.get("xyz")
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: keypoint {k} lacks a face index and barycentric weights") from None
        if bary.shape != (3,) or not np.all(np.isfinite(bary)) or bary.min() < -1e-9 or bary.sum() <= 0:
            raise InputError(f"{path}: keypoint {k} has invalid barycentric weights {bary.tolist()}")
        if face < 0:
            raise InputError(f"{path}: keypoint {k} on face {face}, which does not exist")
        faces.append(face)
        barys.append(np.clip(bary, 0.0, None) / np.clip(bary, 0.0, None).sum())
        ids.append(sid)
        xyzs.append(xyz)
    kp = Keypoints(
        face=np.asarray(faces, np.int64).reshape(-1),
        bary=np.asarray(barys, np.float64).reshape(-1, 3),
        semantic_id=np.asarray(ids, np.int64).reshape(-1),
        xyz=(np.asarray(xyzs, np.float64).reshape(-1, 3) if xyzs and all(x is not None for x in xyzs) else None),
        model_id=None if entry.get("model_id") is None else str(entry["model_id"]),
        class_id=None if entry.get("class_id") is None else str(entry["class_id"]),
    )
    if mesh is not None:
        check_faces(kp, len(mesh.faces), path)
    return kp


def is_keypoint_file(path: str | Path) -> bool:
    """Whether ``path`` is a keypoint file of either format (an object with ``"keypoints"``, or a list
    of such entries); False for any other or unreadable file, e.g. ShapeNet's model metadata JSON."""
    try:
        data = _read_json(Path(path))
    except InputError:
        return False
    entries = data if isinstance(data, list) else [data]
    return bool(entries) and all(isinstance(e, dict) and "keypoints" in e for e in entries)


def check_faces(kp: Keypoints, n_faces: int, path) -> None:
    """Raise InputError naming ``path`` when a keypoint's face index is not below ``n_faces``."""
    bad = np.flatnonzero(kp.face >= n_faces)
    if len(bad):
        k = int(bad[0])
        raise InputError(f"{path}: keypoint {k} on face {int(kp.face[k])}, but the mesh has {n_faces} faces")


def _read_json(path: Path):
    """Parsed JSON of ``path``, kept for the few files last read: a KeypointNet annotation file holds a
    whole class, read once for all its models rather than once per model. Callers must not mutate it."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _read_json_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read_json_cached(path: str, mtime_ns: int, size: int):
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def _pick_entry(entries: list[dict], path: Path, model_id: str | None) -> dict:
    if len(entries) == 1 and model_id is None:
        return entries[0]
    wanted = model_id
    for entry in entries:
        if wanted is not None and str(entry.get("model_id")) == wanted:
            return entry
    if model_id is None:
        raise InputError(f"{path}: holds {len(entries)} models; say which model_id")
    raise InputError(f"{path}: no entry with model_id {model_id!r}")
