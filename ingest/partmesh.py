"""``PartMesh``: one shape of a collection with its part labels, keypoints and normalising transform.

Frame: a PartMesh's ``vertices`` are in the *unit-sphere frame*: the file's coordinates translated so
the bounding-box centre is the origin and scaled (uniformly) so the farthest vertex is at distance 1.
``transform`` is the (4, 4) float64 matrix taking file coordinates to that frame; ``to_file_coords``
and ``from_file_coords`` map points both ways, so every output can be given back in the file's units.
Axes are not rotated: a collection keeps its own up/front convention (the bundled one: +Y up, front +Z).

Faces are the file's faces in file order, less degenerate and duplicate faces (``cleanup`` says how
many; ``file_face`` maps each face back to its index in the file), and less those removed by
decimation (then ``file_face`` is -1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sketchgen.ingest.keypoints import Keypoints, barycentric_points


@dataclass(frozen=True, eq=False)
class PartMesh:
    """A part-labelled mesh in the unit-sphere frame.

    vertices: (V, 3) float64 unit-sphere frame.   faces: (F, 3) int64.
    face_labels: (F,) int64 part label of each face (keys of ``part_names``).
    part_names: {label: name}.   keypoints: Keypoints on ``faces`` (face indices into this mesh).
    category: str.   shape_id: the dataset's id, else a content hash.   source: the file (or
    ``bundled:<id>``).   transform: (4, 4) float64, file coordinates -> unit-sphere frame.
    file_face: (F,) int64 index of each face in the source file (-1 when made by decimation).
    cleanup: counts of removed faces {"degenerate", "duplicate", "decimated"}.
    notes: warnings about the shape's data, one line each naming the file (a skipped PartNet leaf,
    labelled points off the surface); empty when nothing is in doubt (``ingest.loaders``).
    checks: measured label checks, e.g. {"points": {"file", "n", "median", "p90", "relative_p90"}}
    for labels transferred from points (distances in file units; relative to the bounding-box diagonal).
    label_semantics: "consistent" when a label names the same part on every shape of the category
    (ShapeNet-Part, PartNet names, COSEG, KeypointNet, the bundled shapes), "per-shape" when labels only
    segment this shape (PSB); ``ingest.collection.label_semantics`` decides it per row.
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_labels: np.ndarray
    part_names: dict[int, str]
    keypoints: Keypoints
    category: str
    shape_id: str
    source: str
    transform: np.ndarray
    file_face: np.ndarray | None = None
    cleanup: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    checks: dict = field(default_factory=dict)
    label_semantics: str = "consistent"

    # ------------------------------------------------------------------ derived
    @property
    def n_faces(self) -> int:
        return len(self.faces)

    @property
    def parts(self) -> np.ndarray:
        """(P,) int64 labels present on the faces, ascending."""
        return np.unique(self.face_labels)

    @cached_property
    def trimesh(self):
        """The mesh as a ``trimesh.Trimesh`` (unit-sphere frame, same face order), built once."""
        import trimesh

        return trimesh.Trimesh(self.vertices, self.faces, process=False, validate=False)

    @cached_property
    def face_areas(self) -> np.ndarray:
        """(F,) float64 face areas in the unit-sphere frame."""
        tri = self.vertices[self.faces]
        return 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)

    @property
    def bbox_diagonal(self) -> float:
        """Length of the axis-aligned bounding box's diagonal in the unit-sphere frame."""
        return float(np.linalg.norm(np.ptp(self.vertices, axis=0)))

    def points(self, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """(N, 3) float64 unit-frame points of (N,) int faces with (N, 3) barycentric weights."""
        return barycentric_points(self.vertices, self.faces, face, bary)

    def keypoint_points(self) -> np.ndarray:
        """(K, 3) float64 keypoints in the unit-sphere frame."""
        return self.keypoints.points(self.vertices, self.faces)

    # ------------------------------------------------------------------ frames
    def to_file_coords(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) unit-sphere-frame points -> (N, 3) float64 file coordinates."""
        inv = np.linalg.inv(self.transform)
        p = np.asarray(points, np.float64).reshape(-1, 3)
        return p @ inv[:3, :3].T + inv[:3, 3]

    def from_file_coords(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) file coordinates -> (N, 3) float64 unit-sphere-frame points."""
        p = np.asarray(points, np.float64).reshape(-1, 3)
        return p @ self.transform[:3, :3].T + self.transform[:3, 3]


def normalising_transform(vertices: np.ndarray) -> np.ndarray:
    """(4, 4) float64 taking (V, 3) ``vertices`` to the unit-sphere frame (bbox centre at the origin,
    farthest vertex at distance 1)."""
    vertices = np.asarray(vertices, np.float64)
    centre = 0.5 * (vertices.min(axis=0) + vertices.max(axis=0))
    radius = float(np.linalg.norm(vertices - centre, axis=1).max())
    scale = 1.0 / radius if radius > 0 else 1.0
    t = np.eye(4)
    t[:3, :3] *= scale
    t[:3, 3] = -scale * centre
    return t


def content_hash(vertices: np.ndarray, faces: np.ndarray) -> str:
    """A stable 12-hex-digit id from the mesh's (file-frame) vertices and faces."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(vertices, np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, np.int64).tobytes())
    return h.hexdigest()[:12]


def make_partmesh(vertices, faces, face_labels=None, *, part_names=None, keypoints: Keypoints | None = None,
                  category: str = "unknown", shape_id: str | None = None, source: str = "",
                  clean: bool = True) -> PartMesh:
    """Build a PartMesh from file-frame arrays: removes degenerate/duplicate faces (remapping labels and
    keypoints, each keypoint kept at its 3D point), then normalises.

    vertices: (V, 3) float64 file coordinates; faces: (F, 3) int; face_labels: (F,) int or None (one
    part, label 0); keypoints index ``faces``. Keypoint face indices must already be checked.
    """
    from sketchgen.render.cleanup import clean_faces

    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    labels = np.zeros(len(faces), np.int64) if face_labels is None else np.asarray(face_labels, np.int64)
    kp = keypoints if keypoints is not None else Keypoints.empty()
    file_face = np.arange(len(faces), dtype=np.int64)
    cleanup = {"degenerate": 0, "duplicate": 0, "decimated": 0}
    if clean:
        c = clean_faces(vertices, faces)
        if len(c.keep) < len(faces):
            kp = remap_keypoints(kp, vertices, faces, c.old_to_new, c.keep)
            faces, labels, file_face = faces[c.keep], labels[c.keep], file_face[c.keep]
        cleanup.update(degenerate=c.degenerate, duplicate=c.duplicate)
    # drop vertices no face uses so the unit sphere is the surface's, not a stray point's
    used = np.unique(faces)
    if len(used) < len(vertices):
        new_index = np.full(len(vertices), -1, np.int64)
        new_index[used] = np.arange(len(used))
        vertices, faces = vertices[used], new_index[faces]
    transform = normalising_transform(vertices)
    names = dict(part_names) if part_names else {}
    for label in np.unique(labels):
        names.setdefault(int(label), f"part{int(label)}")
    unit = vertices @ transform[:3, :3].T + transform[:3, 3]
    return PartMesh(unit, faces, labels, names, kp, category,
                    shape_id or content_hash(vertices, faces), str(source), transform, file_face, cleanup)


def remap_keypoints(kp: Keypoints, vertices, faces, old_to_new, keep) -> Keypoints:
    """Move keypoints to the faces that survive a face removal, keeping each keypoint's 3D point.

    A keypoint on a duplicate goes to its twin (weights re-ordered to the twin's corner order); one on a
    removed degenerate face (a point on a segment or at a vertex) goes to the nearest kept face.
    vertices: (V, 3); faces: (F, 3) before removal; old_to_new: (F,) int64 (-1 = removed); keep: (F',).
    """
    if len(kp) == 0:
        return kp
    new_face = old_to_new[kp.face].copy()
    bary = kp.bary.copy()
    for k in np.flatnonzero(new_face >= 0):
        old = faces[kp.face[k]]
        twin = faces[keep[new_face[k]]]
        weights = dict(zip(old.tolist(), kp.bary[k].tolist()))
        bary[k] = [weights[v] for v in twin.tolist()]
    lost = np.flatnonzero(new_face < 0)
    if len(lost):
        from sketchgen.ingest.sampling import closest_surface_points

        from types import SimpleNamespace

        kept = SimpleNamespace(vertices=vertices, faces=faces[keep])  # the mesh after removal
        points = barycentric_points(vertices, faces, kp.face[lost], kp.bary[lost])
        f, w, _ = closest_surface_points(kept, points)
        new_face[lost], bary[lost] = f, w
    return Keypoints(new_face, bary, kp.semantic_id.copy(), kp.xyz, kp.model_id, kp.class_id)


def face_components(mesh, faces: np.ndarray) -> list[np.ndarray]:
    """Connected components (faces sharing vertices) of the (M,) int ``faces`` of ``mesh`` (anything with
    ``vertices`` and ``faces``): a list of face index arrays, ordered by their smallest face index."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    faces = np.asarray(faces, np.int64)
    tri = np.asarray(mesh.faces)[faces]
    n = len(mesh.vertices)
    rows = np.concatenate([tri[:, 0], tri[:, 1]])
    cols = np.concatenate([tri[:, 1], tri[:, 2]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    face_comp = comp[tri[:, 0]]
    _, first = np.unique(face_comp, return_index=True)
    return [faces[face_comp == face_comp[i]] for i in np.sort(first)]
