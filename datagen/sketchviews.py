"""A shape's lines seen from one base camera, re-projected and re-rasterised for other cameras.

Lines (3D polylines on the surface, hidden parts already removed) are extracted once per (shape, base
camera). A camera at the same position sees exactly the same visible lines, so every zoom camera of
``render.views.zoom_cameras`` (which keeps the base position and only turns and narrows) is drawn by
projecting the stored 3D points and rasterising at its own resolution: the stroke width stays the same
number of pixels at every zoom, and straight 3D segments stay straight under perspective. This is
re-rasterising, never cropping.

Candidate points (anchors, negatives) are the stroke segments sampled every ``spacing_px`` pixels of
the base view: a segment lies on one face (the face its end vertex records), so a point interpolated
along it in 3D is an exact surface point of that face, and it projects onto the drawn segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.render.camera import Camera
from sketchgen.render.strokes import Drawing


@dataclass(frozen=True)
class LineConfig:
    """Which lines to draw and how wide. spacing_px: spacing of candidate points along the strokes in
    the base view; width: stroke width in pixels of every rasterised image."""

    kinds: tuple[str, ...] = ("contour", "boundary", "crease")
    crease_deg: float = 45.0
    spacing_px: float = 3.0
    width: float = 1.5


def extract(mesh, camera: Camera, config: LineConfig, prepared=None) -> Drawing:
    """The visible lines of ``mesh`` (trimesh.Trimesh) from ``camera``."""
    from sketchgen.render.lines import extract_lines

    return extract_lines(mesh, camera, kinds=config.kinds, crease_deg=config.crease_deg, prepared=prepared)


@dataclass(frozen=True)
class SketchView:
    """One shape's visible lines from one base camera, as flat segment arrays, and candidate points.

    vertices: (V, 3) float64 world stroke vertices; seg_a, seg_b: (M,) int64 vertex indices of each
    segment's ends; seg_face: (M,) int64 the face each segment lies on; seg_w: (M, 2) float64 width
    factors at both ends. Candidates: points (N, 3) float64 world, faces (N,) int64, xy (N, 2) float64
    base-camera pixels.
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

    @classmethod
    def from_drawing(cls, drawing: Drawing, spacing_px: float = 3.0) -> "SketchView":
        pts, sa, sb, sf, sw = [], [], [], [], []
        base = 0
        for s in drawing.strokes:
            n = len(s.xy)
            if n == 0:
                continue
            pts.append(np.asarray(s.points, np.float64).reshape(-1, 3))
            faces = np.asarray(s.faces, np.int64).reshape(-1)
            w = np.ones(n) if s.weight is None else np.asarray(s.weight, np.float64)
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
                       np.zeros((0, 2)))
        vertices = np.concatenate(pts)
        seg_a, seg_b, seg_face = np.concatenate(sa), np.concatenate(sb), np.concatenate(sf)
        points, faces = _sample_segments(vertices[seg_a], vertices[seg_b], seg_face, drawing.camera, spacing_px)
        xy, _ = drawing.camera.world_to_pixels(points)
        return cls(drawing.camera, vertices, seg_a, seg_b, seg_face, np.concatenate(sw), points, faces, xy)

    def __len__(self) -> int:
        """Number of candidate points."""
        return len(self.points)

    def ink(self, camera: Camera, width: float) -> np.ndarray:
        """(H, W) float32 ink of these lines seen by ``camera`` (same position as the base camera)."""
        return draw_ink([(self, camera)], width)[0]

    def image(self, camera: Camera, width: float) -> np.ndarray:
        """(H, W) uint8 grey drawing, 255 background."""
        from sketchgen.render.raster import ink_to_image

        return ink_to_image(self.ink(camera, width))

    def _segments(self, camera: Camera, width: float, uv=None):
        """(a, b, width_a, width_b) of the segments seen by ``camera`` that may touch its image.

        uv: ``_normalised(camera)`` when already known (zooms of one point share it)."""
        u, v = _normalised(self.vertices, camera) if uv is None else uv
        f = camera.focal_px  # Camera.world_to_pixels's arithmetic, step for step
        xy = np.stack([camera.width / 2.0 + f * u, camera.height / 2.0 - f * v], axis=1)
        a, b = xy[self.seg_a], xy[self.seg_b]
        # a zoom sees a small part of the drawing: drop the segments wholly off one side of the image
        # before the rasteriser clips the rest (the same pixels, a fraction of the work)
        m = width + 2.0
        lo, hi = np.fmin(a, b), np.fmax(a, b)  # fmin/fmax: a NaN end leaves the other to decide
        with np.errstate(invalid="ignore"):
            keep = ~((hi[:, 0] < -m) | (lo[:, 0] > camera.width + m) | (hi[:, 1] < -m) | (lo[:, 1] > camera.height + m))
        return a[keep], b[keep], self.seg_w[keep, 0] * width, self.seg_w[keep, 1] * width


def draw_ink(jobs, width: float) -> np.ndarray:
    """(len(jobs), H, W) float32 ink of several (SketchView, Camera) drawings of one image size.

    One rasteriser call for all of them: a zoom image holds a few hundred short pieces, so drawing a
    triplet's nine zooms together costs far less than nine calls.
    """
    from sketchgen.render.raster import segment_ink_batch

    return _draw(jobs, width, segment_ink_batch)


def draw_images(jobs, width: float) -> np.ndarray:
    """(len(jobs), H, W) uint8 grey drawings (255 background) of (SketchView, Camera) pairs, as
    ``ink_to_image(draw_ink(jobs, width))``."""
    from sketchgen.render.raster import segment_image_batch

    return _draw(jobs, width, segment_image_batch)


def _draw(jobs, width: float, rasterise):
    if not jobs:
        raise ValueError("nothing to draw")
    w, h = jobs[0][1].width, jobs[0][1].height
    parts, normalised = [], {}
    for k, (view, camera) in enumerate(jobs):
        if (camera.width, camera.height) != (w, h):
            raise ValueError("draw_ink needs cameras of one image size")
        if len(view.seg_a):
            # the zooms of one point share a pose and differ only in focal length: project once
            key = (id(view), camera.is_ortho, camera.pose.tobytes())
            if key not in normalised:
                normalised[key] = _normalised(view.vertices, camera)
            a, b, wa, wb = view._segments(camera, width, normalised[key])
            parts.append((a, b, wa, wb, np.full(len(a), k, np.int64)))
    if not parts:
        parts.append((np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0, np.int64)))
    a, b, wa, wb, image = (np.concatenate(p) for p in zip(*parts))
    return rasterise(a, b, wa, wb, image, len(jobs), w, h)


def _normalised(points: np.ndarray, camera: Camera):
    """((N,), (N,)) float64 (u, v) of world ``points`` such that ``camera.world_to_pixels`` gives
    x = W/2 + f u, y = H/2 - f v (f = focal_px): camera X and Y, over depth for a perspective camera
    (NaN behind it)."""
    cam = camera.world_to_cam(points)
    if camera.is_ortho:
        return cam[:, 0], cam[:, 1]
    depth = -cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        safe = np.where(depth > 0, depth, np.nan)
        return cam[:, 0] / safe, cam[:, 1] / safe


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


def face_barycentric(vertices: np.ndarray, faces: np.ndarray, face: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 3) float64 barycentric weights of (N, 3) ``points`` lying on faces ``face`` (N,).

    Points a rounding error off the face are projected onto its plane; weights are clipped to >= 0 and
    renormalised, so the weights always name a point of the triangle.
    """
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)[np.asarray(face, np.int64)]]
    p = np.asarray(points, np.float64).reshape(-1, 3)
    v0, v1 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    v2 = p - tri[:, 0]
    d00 = (v0 * v0).sum(1)
    d01 = (v0 * v1).sum(1)
    d11 = (v1 * v1).sum(1)
    d20 = (v2 * v0).sum(1)
    d21 = (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) > 1e-300, den, 1e-300)
    b1 = (d11 * d20 - d01 * d21) / den
    b2 = (d00 * d21 - d01 * d20) / den
    bary = np.clip(np.stack([1.0 - b1 - b2, b1, b2], axis=1), 0.0, None)
    return bary / np.maximum(bary.sum(1, keepdims=True), 1e-300)


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
    """A shape's lines from each base camera, extracted on first use."""

    def __init__(self, shape, cameras: list[Camera], lines: LineConfig):
        self.shape = shape
        self.cameras = cameras
        self.lines = lines
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
            drawing = extract(self.shape.trimesh, self.cameras[i], self.lines, self.prepared)
            self._views[i] = SketchView.from_drawing(drawing, self.lines.spacing_px)
        return self._views[i]

    def visible(self, points: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(V, N) bool: each of N points visible from each base camera."""
        from sketchgen.render.visibility import project_points

        out = np.zeros((len(self.cameras), len(points)), dtype=bool)
        if len(points):
            for j, cam in enumerate(self.cameras):
                out[j] = project_points(self.shape.trimesh, cam, points, faces=faces, prepared=self.prepared).visible
        return out
