"""Per-mesh derived data that every view of a mesh reuses: edges, adjacency, normals, curvature, rays.

``prepare(mesh)`` builds a ``PreparedMesh`` once per mesh object (cached while the mesh lives and its
arrays are unchanged); line extraction and point projection for many views then cost only their
per-view work. Expensive parts (embree scene, curvatures) are built on first use.
"""

from __future__ import annotations

import weakref
from functools import cached_property

import numpy as np

from render.errors import InputError

# A mesh counts as smooth (contours from interpolated vertex normals) when at most this fraction of its
# interior edges are sharper than SMOOTH_SHARP_DEG; otherwise it is treated as faceted.
SMOOTH_SHARP_DEG = 30.0
SMOOTH_MAX_SHARP_FRACTION = 0.05


class PreparedMesh:
    """Cached geometry of one triangle mesh (world coordinates).

    vertices: (V, 3) float64; faces: (F, 3) int64; face_normals: (F, 3) float64 unit (zero if degenerate).
    edges: (E, 2) int64 unique undirected edges, lower vertex index first.
    face_edges: (F, 3) int64 edge id of face edge k (from corner k to corner k+1).
    edge_faces: (E, 2) int64 the first two faces using each edge, -1 where there is none (boundary).
    edge_count: (E,) int64 number of faces using each edge (1 boundary, 2 manifold, more non-manifold).
    edge_flip: (E,) bool, True where the two faces wind inconsistently across the edge (their normals
        are compared with one flipped).
    edge_angle_deg: (E,) float64 angle between the two faces' normals (0 = flat), NaN on boundaries.
    scale: float64 length of the bounding-box diagonal (tolerances are relative to it).
    """

    def __init__(self, mesh):
        vertices = np.asarray(mesh.vertices, dtype=np.float64)
        faces = np.asarray(mesh.faces, dtype=np.int64).reshape(-1, 3)
        if vertices.ndim != 2 or vertices.shape[1] != 3:
            raise InputError("mesh vertices must be an (V, 3) array")
        if not np.all(np.isfinite(vertices)):
            raise InputError("mesh has NaN or infinite vertex coordinates")
        if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise InputError("mesh faces index past its vertices")
        self.vertices = vertices
        self.faces = faces
        self._mesh_ref = weakref.ref(mesh)
        tri = vertices[faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(normal, axis=1)
        self.face_normals = normal / np.where(length > 0, length, 1.0)[:, None]
        self.face_offsets = np.einsum("ij,ij->i", self.face_normals, tri[:, 0])
        lo, hi = (vertices.min(0), vertices.max(0)) if len(vertices) else (np.zeros(3), np.zeros(3))
        self.centre = (lo + hi) / 2.0
        self.scale = float(np.linalg.norm(hi - lo)) or 1.0
        self._build_edges()

    def _build_edges(self):
        faces = self.faces
        n_faces = len(faces)
        half = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)  # half-edge k of face f at row 3f + k
        ordered = np.sort(half, axis=1)
        if len(ordered):
            self.edges, inverse, counts = np.unique(ordered, axis=0, return_inverse=True, return_counts=True)
        else:
            self.edges, inverse, counts = np.zeros((0, 2), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        inverse = inverse.reshape(-1)
        self.face_edges = inverse.reshape(n_faces, 3)
        self.edge_count = counts.astype(np.int64)
        n_edges = len(self.edges)
        order = np.argsort(inverse, kind="stable")
        first = np.zeros(n_edges, dtype=np.int64)
        if n_edges:
            first[1:] = np.cumsum(counts)[:-1]
        edge_faces = np.full((n_edges, 2), -1, dtype=np.int64)
        edge_faces[:, 0] = order[first] // 3
        two = counts >= 2
        edge_faces[two, 1] = order[first[two] + 1] // 3
        self.edge_faces = edge_faces
        # consistent winding walks a shared edge in opposite directions in its two faces
        fwd0 = half[order[first], 0] == self.edges[:, 0]
        flip = np.zeros(n_edges, dtype=bool)
        flip[two] = fwd0[two] == (half[order[first[two] + 1], 0] == self.edges[two, 0])
        self.edge_flip = flip
        angle = np.full(n_edges, np.nan)
        n0 = self.face_normals[edge_faces[two, 0]]
        n1 = self.face_normals[edge_faces[two, 1]] * np.where(flip[two], -1.0, 1.0)[:, None]
        angle[two] = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", n0, n1), -1.0, 1.0)))
        self.edge_angle_deg = angle

    # ------------------------------------------------------------------ lazily built
    @cached_property
    def vertex_normals(self) -> np.ndarray:
        """(V, 3) float64 unit vertex normals: area-weighted mean of the adjacent face normals."""
        tri = self.vertices[self.faces]
        weighted = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
        normals = np.zeros_like(self.vertices)
        for k in range(3):
            np.add.at(normals, self.faces[:, k], weighted)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        return normals / np.where(length > 0, length, 1.0)

    @cached_property
    def face_size(self) -> np.ndarray:
        """(F,) float64 length of each face's longest edge."""
        tri = self.vertices[self.faces]
        return np.linalg.norm(tri - tri[:, [1, 2, 0]], axis=2).max(axis=1)

    @cached_property
    def is_smooth(self) -> bool:
        """True when few interior edges are sharp (see SMOOTH_SHARP_DEG, SMOOTH_MAX_SHARP_FRACTION)."""
        interior = np.isfinite(self.edge_angle_deg)
        if not interior.any():
            return False
        sharp = np.count_nonzero(self.edge_angle_deg[interior] > SMOOTH_SHARP_DEG)
        return sharp <= SMOOTH_MAX_SHARP_FRACTION * np.count_nonzero(interior)

    @cached_property
    def is_closed(self) -> bool:
        """Watertight, consistently wound and outward-facing: back-facing faces are then always hidden."""
        if not len(self.faces) or np.any(self.edge_count != 2) or np.any(self.edge_flip):
            return False
        tri = self.vertices[self.faces] - self.centre
        volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
        return bool(volume > 0)

    @cached_property
    def curvature(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-vertex principal curvatures (libigl): (V, 3) dir1, (V, 3) dir2, (V,) k1, (V,) k2.

        libigl measures against its own per-vertex normals, which point the way the faces wind: on an
        outward-wound mesh a convex sphere has k1, k2 > 0.
        """
        import igl

        d1, d2, k1, k2 = igl.principal_curvature(self.vertices, self.faces)[:4]
        return np.asarray(d1), np.asarray(d2), np.asarray(k1), np.asarray(k2)

    @cached_property
    def ray_scene(self):
        """embree scene of the faces, in coordinates centred on ``centre`` (keeps float32 precise)."""
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        scene = rtcore_scene.EmbreeScene()
        if len(self.faces):
            TriangleMesh(scene, (self.vertices[self.faces] - self.centre).astype(np.float32))
        return scene


_CACHE: dict[int, tuple[tuple[int, int], PreparedMesh]] = {}


def prepare(mesh) -> PreparedMesh:
    """The PreparedMesh of ``mesh`` (trimesh.Trimesh), built once and reused while the mesh is unchanged."""
    key = (hash(mesh.vertices), hash(mesh.faces))
    hit = _CACHE.get(id(mesh))
    if hit is not None and hit[0] == key and hit[1]._mesh_ref() is mesh:
        return hit[1]
    prepared = PreparedMesh(mesh)
    if hit is None:
        weakref.finalize(mesh, _CACHE.pop, id(mesh), None)
    _CACHE[id(mesh)] = (key, prepared)
    return prepared
