"""A shape's lines seen from one base camera, re-projected and re-rasterised for other cameras.

Lines (3D polylines on the surface, hidden parts already removed) are extracted once per (shape, base
camera). A camera at the same position sees exactly the same visible lines, so every zoom camera of
``render.views.zoom_cameras`` (which keeps the base position and only turns and narrows) is drawn by
projecting the stored 3D points and rasterising at its own resolution: the stroke width stays the same
number of pixels at every zoom, and straight 3D segments stay straight under perspective. This is
re-rasterising, never cropping.

Which lines, and how wide, is ``render.draw.DrawConfig`` (``lines``, ``crease_deg``, ``width``), the one
drawing configuration of ``sketchgen draw`` and of the dataset builders.

Candidate points (anchors, negatives) are the stroke segments sampled every ``spacing_px`` pixels of
the base view (a builder's setting, ``SPACING_PX`` by default): a segment lies on one face (the face
its end vertex records), so a point interpolated along it in 3D is an exact surface point of that face,
and it projects onto the drawn segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.render.camera import Camera
from sketchgen.render.draw import DrawConfig, visible_lines
from sketchgen.render.strokearrays import StrokeArrays, styled
from sketchgen.render.style import CleanStyle, make_style
from sketchgen.render.views import random_views
from sketchgen.render.strokes import Drawing

SPACING_PX = 3.0  # candidate points along the strokes, base-view pixels apart


@dataclass(frozen=True)
class ViewConfig:
    """Base cameras: ``views`` random views per shape looking at the origin of the unit-sphere frame."""

    views: int = 4
    size: int = 512
    distance: float = 3.0
    yfov_deg: float = 40.0
    elevation: tuple[float, float] = (-10.0, 50.0)


def base_cameras(config: ViewConfig, rng: np.random.Generator) -> list[Camera]:
    """``config.views`` random cameras around the unit-sphere frame's origin."""
    return random_views(config.views, rng, elevation_range=config.elevation, distance=config.distance,
                        width=config.size, height=config.size, yfov_deg=config.yfov_deg)


@dataclass(frozen=True)
class SketchView:
    """One shape's visible lines from one base camera, as flat segment arrays, and candidate points.

    vertices: (V, 3) float64 world stroke vertices; seg_a, seg_b: (M,) int64 vertex indices of each
    segment's ends; seg_face: (M,) int64 the face each segment lies on; seg_w: (M, 2) float64 width
    factors at both ends. Per vertex: stroke (V,) int64 the base stroke it belongs to (strokes
    contiguous, in order), face (V,) int64, kind (V,) uint8 line-type code
    (``render.strokearrays.KIND_CODES``), weight (V,) float64. Candidates: points (N, 3) float64 world,
    faces (N,) int64, xy (N, 2) float64 base-camera pixels.
    """

    camera: Camera
    vertices: np.ndarray
    seg_a: np.ndarray
    seg_b: np.ndarray
    seg_face: np.ndarray
    seg_w: np.ndarray
    points: np.ndarray
    faces: np.ndarray
    xy: np.ndarray
    stroke: np.ndarray = None
    face: np.ndarray = None
    kind: np.ndarray = None
    weight: np.ndarray = None

    @classmethod
    def from_drawing(cls, drawing: Drawing, spacing_px: float = SPACING_PX) -> "SketchView":
        from sketchgen.render.strokearrays import KIND_CODES

        pts, sa, sb, sf, sw = [], [], [], [], []
        vs, vf, vk, vw = [], [], [], []
        base = 0
        for s in drawing.strokes:
            n = len(s.xy)
            if n == 0:
                continue
            pts.append(np.asarray(s.points, np.float64).reshape(-1, 3))
            faces = np.asarray(s.faces, np.int64).reshape(-1)
            w = np.ones(n) if s.weight is None else np.asarray(s.weight, np.float64)
            vs.append(np.full(n, len(vs), np.int64))
            vf.append(faces)
            vk.append(np.full(n, KIND_CODES[s.kind], np.uint8))
            vw.append(w)
            if n == 1:  # a dot: a zero-length segment
                idx = np.array([base, base])
                sa.append(idx[:1])
                sb.append(idx[1:])
                sf.append(faces[:1])
                sw.append(np.array([[w[0], w[0]]]))
            else:
                idx = np.arange(base, base + n)
                sa.append(idx[:-1])
                sb.append(idx[1:])
                sf.append(faces[1:])  # vertex k > 0 records the face of the piece that ends there
                sw.append(np.stack([w[:-1], w[1:]], axis=1))
            base += n
        if not pts:
            z = np.zeros(0, np.int64)
            return cls(drawing.camera, np.zeros((0, 3)), z, z, z, np.zeros((0, 2)), np.zeros((0, 3)), z,
                       np.zeros((0, 2)), z, z, np.zeros(0, np.uint8), np.zeros(0))
        vertices = np.concatenate(pts)
        seg_a, seg_b, seg_face = np.concatenate(sa), np.concatenate(sb), np.concatenate(sf)
        points, faces = _sample_segments(vertices[seg_a], vertices[seg_b], seg_face, drawing.camera, spacing_px)
        xy, _ = drawing.camera.world_to_pixels(points)
        return cls(drawing.camera, vertices, seg_a, seg_b, seg_face, np.concatenate(sw), points, faces, xy,
                   np.concatenate(vs), np.concatenate(vf), np.concatenate(vk), np.concatenate(vw))

    def strokes(self, camera: Camera, width: float, *, face_labels=None, margin: float = 2.0,
                xy: np.ndarray | None = None) -> "StrokeArrays":
        """The clean strokes of these lines seen by ``camera`` (same position as the base camera), cut
        to the pieces that come within ``width + margin`` px of its image, as a record for
        ``render.strokearrays`` with ``width`` px lines. A stroke leaving and re-entering the image
        becomes two. face_labels: optional (F,) part label per face. xy: the vertices'
        ``camera.world_to_pixels`` when already known."""
        n = len(self.vertices)
        if n == 0:
            return StrokeArrays.empty()
        if xy is None:
            xy, _ = camera.world_to_pixels(self.vertices)
        m = width + margin
        x, y = xy[:, 0], xy[:, 1]
        with np.errstate(invalid="ignore"):
            # which side of the grown image each vertex lies beyond (NaN: none, caught by ``finite``)
            left, right = x < -m, x > camera.width + m
            above, below = y < -m, y > camera.height + m
        finite = np.isfinite(x) & np.isfinite(y)
        # piece k joins vertices k and k + 1 of one stroke; kept unless both ends lie beyond one side
        piece = self._joined & finite[:-1] & finite[1:] & ~(
            (left[:-1] & left[1:]) | (right[:-1] & right[1:]) | (above[:-1] & above[1:]) | (below[:-1] & below[1:]))
        into = np.zeros(n, bool)  # the piece ending at each vertex is kept
        into[1:] = piece
        keep = into.copy()
        keep[:-1] |= piece        # or the piece starting there
        keep |= self._alone & finite & ~(left | right | above | below)
        new_run = keep & ~into
        run = np.cumsum(new_run) - 1
        idx = np.flatnonzero(keep)
        point, face, part, weight = self._columns(face_labels)
        # built directly (every array already of its stored dtype): a zoom is drawn many times a second
        return StrokeArrays(xy=xy[idx].astype(np.float32), offset=np.zeros((len(idx), 2), np.float32),
                            stroke=run[idx].astype(np.int32), point=point[idx], face=face[idx], part=part[idx],
                            kind=self.kind[idx], weight=weight[idx], width=np.full(int(new_run.sum()), width, np.float32))

    def _columns(self, face_labels):
        """(point float32, face int32, part int32, weight float32) per vertex, in the record's dtypes,
        made once per (view, face labels)."""
        # the array itself is kept and compared by identity: an id() alone could be reused by another array
        if "columns" not in self._cache or self._cache["labels"] is not face_labels:
            part = (np.full(len(self.face), -1) if face_labels is None else np.asarray(face_labels)[self.face])
            self._cache["labels"] = face_labels
            self._cache["columns"] = (self.vertices.astype(np.float32), self.face.astype(np.int32),
                                      part.astype(np.int32), self.weight.astype(np.float32))
        return self._cache["columns"]

    def __post_init__(self):
        # static per view: which consecutive vertices one piece joins, which vertices are whole strokes
        if self.stroke is not None:
            joined = self.stroke[1:] == self.stroke[:-1]
            alone = np.ones(len(self.stroke), bool)
            alone[1:] &= ~joined
            alone[:-1] &= ~joined
            object.__setattr__(self, "_joined", joined)
            object.__setattr__(self, "_alone", alone)
        object.__setattr__(self, "_cache", {})

    def __len__(self) -> int:
        """Number of candidate points."""
        return len(self.points)


_CLEAN = CleanStyle()
STYLE_MARGIN_PX = 12.0  # strokes kept this far outside a styled image: the style moves and extends them


def draw_styled(view: "SketchView", camera: Camera, style: str, rng: np.random.Generator, width: float,
                face_labels=None, xy=None, keep=None):
    """(StrokeArrays of ``view``'s lines seen by ``camera`` drawn in ``style``, the style object, whose
    ``displace`` moves any other pixel position with the strokes).

    The style gets a generator seeded from one draw of ``rng``, whatever the style (so the draws that
    follow do not depend on it). Clean strokes are kept within 2 px of the image, styled ones within
    ``STYLE_MARGIN_PX``. xy: the vertices' ``camera.world_to_pixels`` when already known. keep: (K, 2)
    pixel positions of correspondences that must stay on ink (no gap or dropped stroke takes it).
    """
    seed = int(rng.integers(0, 2**63 - 1))  # drawn whatever the style
    if style == "clean":
        return view.strokes(camera, width, face_labels=face_labels, xy=xy), _CLEAN
    drawer = make_style(style, np.random.default_rng(seed), line_width=width)
    clean = view.strokes(camera, width, face_labels=face_labels, margin=STYLE_MARGIN_PX, xy=xy)
    return styled(clean, camera, drawer, line_width=width, face_labels=face_labels, keep=keep), drawer


def styled_strokes(view: "SketchView", cameras, point: np.ndarray, style: str, rng: np.random.Generator,
                   width: float, face_labels=None):
    """For each of ``cameras`` (of one pose, as a point's zooms are), (camera, ``draw_styled`` record,
    (2,) float64 pixel position of the world ``point`` moved with the strokes)."""
    cameras = list(cameras)
    if not cameras:
        return
    # the zooms share the pose: one projection to the image plane serves them all (point last)
    world = np.concatenate([view.vertices, np.asarray(point, np.float64).reshape(1, 3)])
    first = cameras[0]
    uv, _ = first.world_to_image_plane(world)
    for cam in cameras:
        same_pose = cam.is_ortho == first.is_ortho and np.array_equal(cam.pose, first.pose)
        xy = cam.image_plane_to_pixels(uv) if same_pose else cam.world_to_pixels(world)[0]
        # the point is the zoom's correspondence: the style keeps its ink
        record, drawer = draw_styled(view, cam, style, rng, width, face_labels, xy[:-1], keep=xy[-1:])
        yield cam, record, (xy[-1:] if style == "clean" else drawer.displace(xy[-1:]))[0]


def _sample_segments(p0: np.ndarray, p1: np.ndarray, face: np.ndarray, camera: Camera, spacing_px: float):
    """Points every ``spacing_px`` base-view pixels along (M, 3) segments p0 -> p1, start points included,
    as ((N, 3) float64 world points, (N,) int64 faces)."""
    xy0, _ = camera.world_to_pixels(p0)
    xy1, _ = camera.world_to_pixels(p1)
    length = np.nan_to_num(np.linalg.norm(xy1 - xy0, axis=1))
    count = np.maximum(np.ceil(length / spacing_px), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(p0)), count)
    t = (np.arange(len(seg)) - np.repeat(np.cumsum(count) - count, count)) / count[seg]
    return p0[seg] + t[:, None] * (p1[seg] - p0[seg]), face[seg]


def poisson_pick(xy: np.ndarray, radius: float, count: int, rng: np.random.Generator,
                 allowed: np.ndarray | None = None) -> np.ndarray:
    """Indices of up to ``count`` of the (N, 2) ``xy`` at least ``radius`` apart (dart throwing).

    Candidates are visited in a random order from ``rng``; a grid of cell size radius/sqrt(2) makes each
    test O(1). allowed: optional (N,) bool mask of candidates that may be picked.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    order = rng.permutation(len(xy))
    if allowed is not None:
        order = order[np.asarray(allowed, bool)[order]]
    cell = radius / np.sqrt(2.0)
    grid: dict[tuple[int, int], int] = {}
    chosen: list[int] = []
    r2 = radius * radius
    for i in order:
        if len(chosen) >= count:
            break
        if not np.all(np.isfinite(xy[i])):
            continue
        cx, cy = int(np.floor(xy[i, 0] / cell)), int(np.floor(xy[i, 1] / cell))
        ok = True
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                j = grid.get((cx + dx, cy + dy))
                if j is not None and ((xy[j] - xy[i]) ** 2).sum() < r2:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            grid[(cx, cy)] = int(i)
            chosen.append(int(i))
    return np.asarray(chosen, np.int64)


class ShapeViews:
    """A shape's lines from each base camera, extracted on first use. drawing: the lines to extract;
    spacing_px: of the candidate points along them (``SketchView.from_drawing``)."""

    def __init__(self, shape, cameras: list[Camera], drawing: DrawConfig, spacing_px: float = SPACING_PX):
        self.shape = shape
        self.cameras = cameras
        self.drawing = drawing
        self.spacing_px = spacing_px
        self._views: dict[int, SketchView] = {}
        self._prepared = None

    @property
    def prepared(self):
        if self._prepared is None:
            from sketchgen.render.lines import prepare

            self._prepared = prepare(self.shape.trimesh)
        return self._prepared

    def view(self, i: int) -> SketchView:
        if i not in self._views:
            drawing = visible_lines(self.shape.trimesh, self.cameras[i], self.drawing, self.prepared)
            self._views[i] = SketchView.from_drawing(drawing, self.spacing_px)
        return self._views[i]

    def visible(self, points: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(V, N) bool: each of N points visible from each base camera."""
        from sketchgen.render.visibility import project_points

        out = np.zeros((len(self.cameras), len(points)), dtype=bool)
        if len(points):
            for j, cam in enumerate(self.cameras):
                out[j] = project_points(self.shape.trimesh, cam, points, faces=faces, prepared=self.prepared).visible
        return out
