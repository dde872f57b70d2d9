"""Per-mesh derived data that every view of a mesh reuses: edges, adjacency, normals, curvature, rays.

``prepare(mesh)`` builds a ``PreparedMesh`` once per mesh object (cached while the mesh lives and its
arrays are unchanged); line extraction and point projection for many views then cost only their
per-view work. Expensive parts (embree scene, curvatures) are built on first use.
"""

from __future__ import annotations

import logging
import weakref
from functools import cached_property

import numpy as np

from sketchgen.errors import InputError

log = logging.getLogger(__name__)

# Vertex normals are split at edges sharper than this (degrees), as Blender's auto smooth does.
SMOOTH_SHARP_DEG = 30.0
# ... and all around a vertex where the mesh is too coarse for interpolated normals to stand for its
# shape: where an interpolated contour could stray from the faceted outline by more than this fraction
# of the bounding-box diagonal (under a pixel while the whole mesh spans less than 1000 pixels).
SMOOTH_MAX_DEVIATION = 1e-3


class PreparedMesh:
    """Cached geometry of one triangle mesh (world coordinates).

    vertices: (V, 3) float64; faces: (F, 3) int64, the mesh's faces in its order, rewound where needed so
    that neighbouring faces agree (``reoriented`` counts them); face_normals: (F, 3) float64 unit
    (zero if degenerate), from the rewound faces.
    edges: (E, 2) int64 unique undirected edges, lower vertex index first.
    face_edges: (F, 3) int64 edge id of face edge k (from corner k to corner k+1).
    edge_faces: (E, 2) int64 the first two faces using each edge, -1 where there is none (boundary).
    edge_count: (E,) int64 number of faces using each edge (1 boundary, 2 manifold, more non-manifold).
    edge_flip: (E,) bool, True where the two faces wind inconsistently across the edge (their normals
        are compared with one flipped).
    edge_angle_deg: (E,) float64 angle between the two faces' normals (0 = flat), NaN on boundaries.
    bounds: (2, 3) float64 bounding-box corners (min, max); centre: (3,) float64 its centre.
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
        self._mesh_ref = weakref.ref(mesh)
        lo, hi = (vertices.min(0), vertices.max(0)) if len(vertices) else (np.zeros(3), np.zeros(3))
        self.bounds = np.stack([lo, hi])
        self.centre = (lo + hi) / 2.0
        self.scale = float(np.linalg.norm(hi - lo)) or 1.0
        self._set_faces(faces)
        self.reoriented = self._orient()

    def _set_faces(self, faces):
        self.faces = faces
        tri = self.vertices[faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(normal, axis=1)
        self.face_normals = normal / np.where(length > 0, length, 1.0)[:, None]
        self.face_offsets = np.einsum("ij,ij->i", self.face_normals, tri[:, 0])
        self._build_edges()

    def _orient(self) -> int:
        """Rewind faces so that neighbours agree (meshes from the wild often mix windings).

        Each connected, orientable patch keeps the winding most of its faces already have, except
        that a closed patch is wound outwards; face indices never change, only the corner order
        inside a face (and so its normal's sign). Returns the number of faces rewound.
        """
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n = len(self.faces)
        two = np.flatnonzero(self.edge_count == 2)
        f0, f1, flip = self.edge_faces[two, 0], self.edge_faces[two, 1], self.edge_flip[two]
        # node f: face f as wound, node f + n: face f rewound; an edge ties the windings that agree
        rows = np.concatenate([f0, f0 + n])
        cols = np.concatenate([np.where(flip, f1 + n, f1), np.where(flip, f1, f1 + n)])
        _, label = connected_components(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(2 * n, 2 * n)),
                                        directed=False)
        as_is, rewound = label[:n], label[n:]
        votes = np.bincount(as_is, minlength=label.max() + 1)
        # rewind where the other winding has more faces as they are; never on a non-orientable patch
        turn = (as_is != rewound) & ((votes[rewound] > votes[as_is])
                                     | ((votes[rewound] == votes[as_is]) & (rewound < as_is)))
        # a closed patch (every edge shared by two faces) faces outwards: positive enclosed volume
        patch = np.minimum(as_is, rewound)
        tri = self.vertices[self.faces] - self.centre
        volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) * np.where(turn, -1.0, 1.0)
        open_edge = self.edge_count != 2
        open_patch = np.zeros(label.max() + 1, dtype=bool)
        open_patch[patch[np.repeat(np.arange(n), 3)[open_edge[self.face_edges.ravel()]]]] = True
        inward = ~open_patch & (np.bincount(patch, weights=volume, minlength=len(open_patch)) < 0)
        turn ^= inward[patch] & (as_is != rewound)
        if not turn.any():
            return 0
        faces = self.faces.copy()
        faces[turn] = faces[turn][:, [0, 2, 1]]
        self._set_faces(faces)
        return int(turn.sum())

    def _build_edges(self):
        faces = self.faces
        n_faces = len(faces)
        half = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)  # half-edge k of face f at row 3f + k
        ordered = np.sort(half, axis=1)
        # one integer per undirected edge; a stable sort keeps each edge's half-edges in face order
        keys = ordered[:, 0] * np.int64(max(len(self.vertices), 1)) + ordered[:, 1]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        new = np.ones(len(keys), dtype=bool)
        new[1:] = sorted_keys[1:] != sorted_keys[:-1]
        first = np.flatnonzero(new)  # where each edge's half-edges start in ``order``
        inverse = np.empty(len(keys), dtype=np.int64)
        inverse[order] = np.cumsum(new) - 1
        counts = np.diff(np.append(first, len(keys)))
        self.edges = ordered[order[first]] if len(keys) else np.zeros((0, 2), np.int64)
        self.face_edges = inverse.reshape(n_faces, 3)
        self.edge_count = counts.astype(np.int64)
        n_edges = len(self.edges)
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
    def edge_second_face(self) -> np.ndarray:
        """(E,) int64 edge_faces[:, 1] with -1 (boundary) replaced by 0, safe to index with; mask the
        boundary edges (edge_count == 1) yourself."""
        return np.maximum(self.edge_faces[:, 1], 0)

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
    def _vertex_pairs(self) -> np.ndarray:
        """Sorted int64 keys u * V + w of vertex pairs at most one edge apart (u == w included)."""
        n = len(self.vertices)
        u = np.concatenate([self.edges[:, 0], self.edges[:, 1], np.arange(n)])
        w = np.concatenate([self.edges[:, 1], self.edges[:, 0], np.arange(n)])
        return np.sort(u * n + w)

    @cached_property
    def face_edge_forward(self) -> np.ndarray:
        """(F, 3) bool: face edge k (corner k -> k + 1) runs from its edge's lower vertex (edges[:, 0])."""
        return self.faces == self.edges[self.face_edges, 0]

    @cached_property
    def _face_corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three (F,) int64 columns of ``faces``, contiguous (gathers per column are cheaper)."""
        return tuple(np.ascontiguousarray(self.faces[:, k]) for k in range(3))

    def faces_near(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N,) bool: face a[i] has a vertex at most one edge from a vertex of face b[i] (b's two-ring).
        Answered by a compiled loop (``_faces_near_kernel``: nine vertex comparisons, then binary
        searches of ``_vertex_pairs``) where numba is installed and there are ``COMPILED_MIN`` pairs or
        more (below that the numpy test costs less than starting numba in a process), else by the same
        test in numpy."""
        kernel = _compiled_faces_near() if len(a) >= COMPILED_MIN else None
        if kernel is not None:
            near = np.zeros(len(a), dtype=bool)
            kernel(np.ascontiguousarray(a, dtype=np.int64), np.ascontiguousarray(b, dtype=np.int64), self.faces,
                   self._vertex_pairs, np.int64(len(self.vertices)), near)
            return near
        fa = [corner[a] for corner in self._face_corners]
        fb = [corner[b] for corner in self._face_corners]
        near = np.zeros(len(fa[0]), dtype=bool)
        for u in fa:  # one-ring: a shared vertex
            for w in fb:
                near |= u == w
        rest = np.flatnonzero(~near)
        if len(rest):  # two-ring: a vertex of a one edge away from a vertex of b
            n = np.int64(len(self.vertices))
            keys = np.stack([u[rest] * n + w[rest] for u in fa for w in fb], axis=1).ravel()
            pairs = self._vertex_pairs
            pos = np.minimum(np.searchsorted(pairs, keys), len(pairs) - 1)
            near[rest] = (pairs[pos] == keys).reshape(len(rest), 9).any(axis=1)
        return near

    def smooth_groups(self, sharp_deg: float | None, max_deviation: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Split vertex normals: face corners around a vertex share a normal unless a sharp edge parts them.

        sharp_deg: edges whose face normals differ by more than this (and boundary, non-manifold or
        inconsistently wound edges) separate groups; None joins across every manifold edge (plain
        vertex normals). max_deviation: optionally, every corner at a coarse vertex (see
        ``coarse_vertices``) is a group of its own, with its face's normal. Returns corner_group (F, 3)
        int64 group of each face corner, normals (G, 3) float64 unit area-weighted group normals, points
        (G, 3) float64 the position of each group's vertex, split (E,) bool edges with two faces whose corners at
        either end lie in different groups (the sharp edges and those at coarse vertices; meaningless
        for boundary edges).
        """
        key = (None if sharp_deg is None else float(sharp_deg),
               None if max_deviation is None else float(max_deviation))
        cache = self.__dict__.setdefault("_groups", {})
        if key in cache:
            return cache[key]
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        n_faces = len(self.faces)
        joined = (self.edge_count == 2) & ~self.edge_flip
        if key[0] is not None:
            joined &= self.edge_angle_deg <= key[0]
        coarse = (self.coarse_vertices(joined, key[1]) if key[1] is not None
                  else np.zeros(len(self.vertices), dtype=bool))
        edges = np.flatnonzero(joined)
        f0, f1 = self.edge_faces[edges, 0], self.edge_faces[edges, 1]
        links = []
        for end in (0, 1):
            v = self.edges[edges, end]
            keep = ~coarse[v]  # corners at a coarse vertex stay apart
            c0 = 3 * f0 + np.argmax(self.faces[f0] == v[:, None], axis=1)
            c1 = 3 * f1 + np.argmax(self.faces[f1] == v[:, None], axis=1)
            links.append((c0[keep], c1[keep]))
        rows = np.concatenate([a for a, _ in links])
        cols = np.concatenate([b for _, b in links])
        graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(3 * n_faces, 3 * n_faces))
        _, label = connected_components(graph, directed=False)
        # number groups in order of first corner, so ids do not depend on scipy's labelling
        _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(len(first))
        corner_group = rank[inverse].reshape(n_faces, 3)
        tri = self.vertices[self.faces]
        weighted = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
        normals = np.zeros((len(first), 3))
        for k in range(3):
            np.add.at(normals, corner_group[:, k], weighted)
        length = np.linalg.norm(normals, axis=1, keepdims=True)
        normals /= np.where(length > 0, length, 1.0)
        vertex = np.zeros(len(first), dtype=np.int64)
        vertex[corner_group.ravel()] = self.faces.ravel()
        split = np.zeros(len(self.edges), dtype=bool)
        second = self.edge_second_face
        for end in (0, 1):  # split where either end of the edge has different groups in its two faces
            v = self.edges[:, end]
            g0 = corner_group[self.edge_faces[:, 0], np.argmax(self.faces[self.edge_faces[:, 0]] == v[:, None], axis=1)]
            g1 = corner_group[second, np.argmax(self.faces[second] == v[:, None], axis=1)]
            split |= g0 != g1
        cache[key] = (corner_group, normals, self.vertices[vertex], split)
        return cache[key]

    def coarse_vertices(self, joined: np.ndarray, max_deviation: float) -> np.ndarray:
        """(V,) bool vertices where interpolated normals could put a contour more than ``max_deviation``
        x ``scale`` away from the faceted outline.

        joined: (E,) bool edges across which normals would be shared. Across an edge with dihedral
        angle theta (radians) between faces of width h (the narrower triangle's height over the edge),
        the surface bends like a circle through the faces: a contour interpolated inside them lies up
        to theta * h / 8 (the sagitta of that arc) from the faceted one. A vertex is coarse when any
        joined edge at it exceeds the bound: fine meshes of smooth surfaces stay interpolated, large
        faces meeting at small angles (polyhedra, coarse tessellations) get their exact outline.
        """
        edges = np.flatnonzero(joined)
        tri = self.vertices[self.faces]
        twice_area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        a, b = self.vertices[self.edges[edges, 0]], self.vertices[self.edges[edges, 1]]
        length = np.linalg.norm(b - a, axis=1)
        width = np.minimum(twice_area[self.edge_faces[edges, 0]], twice_area[self.edge_faces[edges, 1]])
        width /= np.where(length > 0, length, 1.0)
        sagitta = np.radians(self.edge_angle_deg[edges]) * width / 8.0
        bad = edges[sagitta > max_deviation * self.scale]
        coarse = np.zeros(len(self.vertices), dtype=bool)
        coarse[self.edges[bad].ravel()] = True
        return coarse

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
        """Ray-cast scene of the faces, in coordinates centred on ``centre`` (keeps float32 precise):
        embree (the ``embreex`` wheel, installed on x86-64) or, where it is missing, trimesh's own
        triangle intersector behind the same ``run`` call (several times slower; a one-line note says so)."""
        try:
            from embreex import rtcore_scene
            from embreex.mesh_construction import TriangleMesh
        except ImportError:
            return TrimeshRayScene(self.vertices - self.centre, self.faces)
        scene = rtcore_scene.EmbreeScene()
        if len(self.faces):
            TriangleMesh(scene, (self.vertices[self.faces] - self.centre).astype(np.float32))
        return scene


COMPILED_MIN = 16384  # pairs from which faces_near runs compiled (a 20k-face PSB view asks ~4k, ogre ~30k)
_FACES_NEAR: list = []  # [compiled _faces_near_kernel, or None without numba], filled on first use


def _compiled_faces_near():
    if not _FACES_NEAR:
        try:
            import numba
        except ImportError:
            _FACES_NEAR.append(None)
        else:
            _FACES_NEAR.append(numba.njit(cache=True, nogil=True)(_faces_near_kernel))
    return _FACES_NEAR[0]


def _faces_near_kernel(a, b, faces, pairs, n, near):
    """``PreparedMesh.faces_near`` pair by pair: near[i] when a corner of face a[i] equals one of face
    b[i], or when some key ``u * n + w`` (u a corner of a[i], w of b[i]) is in the sorted ``pairs``."""
    for i in range(len(a)):
        fa, fb = faces[a[i]], faces[b[i]]
        hit = False
        for x in range(3):
            for y in range(3):
                if fa[x] == fb[y]:
                    hit = True
        if not hit:
            for x in range(3):
                for y in range(3):
                    key = fa[x] * n + fb[y]
                    pos = np.searchsorted(pairs, key)
                    if pos < len(pairs) and pairs[pos] == key:
                        hit = True
        near[i] = hit


class TrimeshRayScene:
    """Stand-in for embree's scene where ``embreex`` is not installed: ``run(origins, dirs, dists)``
    answers, per ray, the first face hit with ray parameter t <= ``dists`` (t in units of the
    unnormalised direction, as embree's ``tfar``), as ``{"primID": (N,) int64, -1 for no hit}``."""

    _noted = False

    def __init__(self, vertices: np.ndarray, faces: np.ndarray):
        import trimesh

        if not TrimeshRayScene._noted:
            log.info("embreex is not installed: ray casting uses trimesh's triangle intersector (slower)")
            TrimeshRayScene._noted = True
        self._mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int64), process=False)
        self._n_faces = len(faces)

    def run(self, origins, dirs, dists=None, output=1) -> dict:
        origins = np.asarray(origins, np.float64)
        dirs = np.asarray(dirs, np.float64)
        prim = np.full(len(origins), -1, np.int64)
        if not self._n_faces or not len(origins):
            return {"primID": prim}
        length = np.linalg.norm(dirs, axis=1)
        tri, ray, where = self._mesh.ray.intersects_id(origins, dirs, multiple_hits=False, return_locations=True)
        t = np.einsum("ij,ij->i", where - origins[ray], dirs[ray]) / np.maximum(length[ray], 1e-300) ** 2
        limit = np.inf if dists is None else np.asarray(dists, np.float64)[ray]
        keep = (t >= 0) & (t <= limit)
        prim[ray[keep]] = tri[keep]
        return {"primID": prim}


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
