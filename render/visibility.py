"""Visibility of 3D points by ray casting (embree): projection of points with their visibility flags.

A point is occluded when the ray from the eye towards it meets a face before it. One ray per point is
cast (from the eye, so a grazing ray never has to leave the surface it starts on); its first hit is an
occluder unless it is one of these, which can only be the point's own surface:

- a face whose plane passes through the point (within ``PLANE_TOL`` x the mesh size): a ray aimed at
  the point meets such a plane only at the point itself, so the hit is the point, seen. This covers
  the point's own face, every face through an edge or vertex the point lies on, and coplanar
  neighbours, at any grazing angle, without a depth tolerance;
- the faces listed by the caller (``faces``, the face each point lies on);
- for points of smooth contours only (``ring_faces``), faces with a vertex at most one edge away from
  a vertex of the point's face (its two-ring): an interpolated contour lies where the faceted surface
  is slightly turned away, so the grazing ray first touches the surface around it within a face or
  two. The rule is topological, so a thin wall's other side (far along the surface) still occludes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.prepared import PreparedMesh, prepare

PLANE_TOL = 1e-6  # x mesh bounding-box diagonal: distance from a face's plane that counts as on it
STOP_SHORT = 1e-6  # rays stop this fraction of their length short of their point
REFINE_SPLITS = (16,)  # a visibility change is located to spacing / 16 in one batched round of rays
MIN_FRAGMENT = 0.5  # x spacing: shorter visible fragments with a cut end are dropped
MARGIN_PX = 2.0  # lines are kept this far outside the image so cuts at its border are never drawn


@dataclass(frozen=True)
class PointProjection:
    """Projection of N world points by one camera.

    xy: (N, 2) float64 pixels (origin top-left corner, y down); NaN behind a perspective camera.
    depth: (N,) float64 depth along the view axis.
    visible: (N,) bool, inside the image, in front of the camera, within the camera's [znear, zfar]
    where given, and not occluded.
    """

    xy: np.ndarray
    depth: np.ndarray
    visible: np.ndarray


def project_points(mesh, camera: Camera, points, *, faces=None, prepared: PreparedMesh | None = None
                   ) -> PointProjection:
    """Pixel position, depth and visibility of ``points`` ((N, 3) float world coordinates).

    faces: optional (N,) int index of the face each point lies on (-1 for none); hits on it are ignored.
    Points exactly on a face that faces the camera, with nothing in front, are visible.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
        raise InputError("points must be an (N, 3) array of finite numbers")
    prep = prepared if prepared is not None else prepare(mesh)
    if mesh is not None and (len(prep.faces) != len(mesh.faces) or len(prep.vertices) != len(mesh.vertices)):
        raise InputError("prepared was made from another mesh (its face or vertex count differs)")
    face_arr = None
    if faces is not None:
        face_arr = np.asarray(faces, dtype=np.int64).reshape(-1)
        if len(face_arr) != len(pts):
            raise InputError(f"faces has {len(face_arr)} entries for {len(pts)} points")
        if np.any(face_arr >= len(prep.faces)):
            raise InputError("faces index past the mesh's faces")
    xy, depth = camera.world_to_pixels(pts)
    # planes left out clip nothing here: a point off the mesh is not cut by planes fitted to the mesh
    near = camera.znear if camera.znear is not None else 0.0
    far = camera.zfar if camera.zfar is not None else np.inf
    inside = ((depth >= near) & (depth <= far) & (depth > 0)
              & (xy[:, 0] >= 0) & (xy[:, 0] < camera.width) & (xy[:, 1] >= 0) & (xy[:, 1] < camera.height))
    visible = inside.copy()
    if inside.any():
        own = None if face_arr is None else face_arr[inside]
        visible[inside] = unoccluded(prep, camera, pts[inside], own_faces=own)
    return PointProjection(xy=xy, depth=depth, visible=visible)


def unoccluded(prep: PreparedMesh, camera: Camera, points: np.ndarray, *, own_faces=None,
               ring_faces=None) -> np.ndarray:
    """(N,) bool: no face lies between each point and the eye (see the module's docstring).

    points: (N, 3) float64 world points in front of the camera.
    own_faces: optional (N,) int64 faces to ignore (-1: none).
    ring_faces: optional (N,) int64; hits on this face's two-ring are ignored (-1: none).
    """
    n = len(points)
    free = np.ones(n, dtype=bool)
    if n == 0 or len(prep.faces) == 0:
        return free
    # one ray per point, from the eye (or the image plane) towards it, stopping just short of it:
    # its first hit decides. Directions are not normalised: the point is at t = 1.
    if camera.is_ortho:
        reach = -camera.world_to_cam(points)[:, 2]  # to the image plane through the eye
        dirs = camera.forward[None, :] * reach[:, None]
        origins = points - dirs
    else:
        dirs = points - camera.position
        origins = np.broadcast_to(camera.position, points.shape)
        reach = np.sqrt(np.einsum("ij,ij->i", dirs, dirs))
    active = np.flatnonzero(reach > 0)
    if len(active) < n:
        origins, dirs = origins[active], dirs[active]
    if len(active) == 0:
        return free
    hit = prep.ray_scene.run((origins - prep.centre).astype(np.float32), dirs.astype(np.float32),
                             dists=np.full(len(active), 1.0 - STOP_SHORT, dtype=np.float32), output=1)
    prim = np.asarray(hit["primID"], dtype=np.int64)
    found = prim >= 0
    active, prim = active[found], prim[found]
    skip = _on_plane(prep, prim, points[active])
    if own_faces is not None:
        skip |= prim == own_faces[active]
    if ring_faces is not None:
        ring = ring_faces[active]
        mine = np.flatnonzero((ring >= 0) & ~skip)
        skip[mine] = prep.faces_near(prim[mine], ring[mine])
    free[active[~skip]] = False
    return free


def _on_plane(prep: PreparedMesh, prim: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) bool: each point lies on the plane of face ``prim`` (within PLANE_TOL x mesh size)."""
    dist = np.einsum("ij,ij->i", prep.face_normals[prim], points) - prep.face_offsets[prim]
    return np.abs(dist) <= PLANE_TOL * prep.scale


@dataclass(frozen=True)
class VisiblePieces:
    """Visible parts of 3D segments p0 -> p1, in segment order, then along each segment.

    seg: (K,) int64 index of the segment; t0, t1: (K,) float64 start and end as 3D parameters
    (point = p0 + t (p1 - p0)), t0 < t1; whole0, whole1: (K,) bool where the piece's start/end is the
    segment's own start/end (t = 0 / t = 1), i.e. where it may join the next segment of its polyline.
    """

    seg: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    whole0: np.ndarray
    whole1: np.ndarray


def visible_pieces(prep: PreparedMesh, camera: Camera, p0: np.ndarray, p1: np.ndarray, *,
                   ring_faces: np.ndarray | None = None, spacing_px: float = 1.0) -> VisiblePieces:
    """Hidden-line removal for (S, 3) float64 world segments p0 -> p1.

    Each segment is clipped to the camera's depth range and to the image (plus MARGIN_PX), sampled
    every ``spacing_px`` pixels in the image (and at its ends), each sample is tested with
    ``unoccluded`` and the segment is cut where visibility changes, the cut located to
    spacing_px / 16 (REFINE_SPLITS). ring_faces: (S,) int64 passed on per segment (smooth contours).
    """
    d = p1 - p0
    depth0 = -camera.world_to_cam(p0)[:, 2]
    depth1 = -camera.world_to_cam(p1)[:, 2]
    tlo, thi = _clip_depth(depth0, depth1, camera.znear, camera.zfar)
    keep = np.flatnonzero(tlo < thi)
    q0 = p0[keep] + tlo[keep, None] * d[keep]
    q1 = p0[keep] + thi[keep, None] * d[keep]
    xy0, dq0 = camera.world_to_pixels(q0)
    xy1, dq1 = camera.world_to_pixels(q1)
    ulo, uhi = _clip_rect(xy0, xy1, -MARGIN_PX, -MARGIN_PX, camera.width + MARGIN_PX, camera.height + MARGIN_PX)
    inside = ulo <= uhi
    keep, xy0, xy1, dq0, dq1, ulo, uhi = (a[inside] for a in (keep, xy0, xy1, dq0, dq1, ulo, uhi))
    length = np.linalg.norm(xy1 - xy0, axis=1) * (uhi - ulo)
    steps = np.maximum(1, np.ceil(length / spacing_px)).astype(np.int64)
    # samples: segment (row of keep) and screen parameter u in [ulo, uhi]
    row = np.repeat(np.arange(len(keep)), steps + 1)
    start_of_row = (np.cumsum(steps + 1) - (steps + 1)).astype(np.int64)  # empty when nothing is in view
    k = np.arange(len(row)) - np.repeat(start_of_row, steps + 1)
    u = ulo[row] + (uhi[row] - ulo[row]) * k / steps[row]

    q0, dq = q0[inside], q1[inside] - q0[inside]
    ring_kept = None if ring_faces is None else ring_faces[keep]

    def tq_at(r, uu):
        """3D parameter between q0 and q1 of screen parameter uu on kept rows r (perspective-correct)."""
        if camera.is_ortho:
            return uu
        return uu * dq0[r] / ((1.0 - uu) * dq1[r] + uu * dq0[r])

    def t_at(r, uu):
        """Parameter between p0 and p1 (the caller's segment) of screen parameter uu on kept rows r."""
        kr = keep[r]
        return tlo[kr] + tq_at(r, uu) * (thi[kr] - tlo[kr])

    def vis_at(r, uu):
        pts = q0[r] + tq_at(r, uu)[:, None] * dq[r]
        return unoccluded(prep, camera, pts, ring_faces=None if ring_kept is None else ring_kept[r])

    vis = vis_at(row, u)
    same_next = np.zeros(len(row), dtype=bool)
    same_next[:-1] = row[1:] == row[:-1]
    change = np.flatnonzero(same_next[:-1] & (vis[:-1] != vis[1:])) if len(row) > 1 else np.zeros(0, np.int64)
    lo, hi = u[change], u[change + 1]
    lo_vis = vis[change]
    index = np.arange(len(change))
    for parts in REFINE_SPLITS:
        # test parts - 1 inner points of every change interval in one batch; keep the first sub-interval
        # whose far end differs from the near end's visibility
        grid = lo[:, None] + (hi - lo)[:, None] * (np.arange(parts + 1) / parts)
        inner = grid[:, 1:-1]
        v = vis_at(np.repeat(row[change], parts - 1), inner.ravel()).reshape(inner.shape)
        differs = v != lo_vis[:, None]
        j = np.where(differs.any(axis=1), differs.argmax(axis=1), parts - 1)
        lo, hi = grid[index, j], grid[index, j + 1]
    cut = np.full(len(row), np.nan)  # cut[i]: where visibility changes between sample i and i + 1
    cut[change] = 0.5 * (lo + hi)
    same_prev = np.zeros(len(row), dtype=bool)
    same_prev[1:] = same_next[:-1]
    prev_vis = np.zeros(len(row), dtype=bool)
    prev_vis[1:] = vis[:-1]
    next_vis = np.zeros(len(row), dtype=bool)
    next_vis[:-1] = vis[1:]
    starts = np.flatnonzero(vis & ~(same_prev & prev_vis))
    ends = np.flatnonzero(vis & ~(same_next & next_vis))
    u_start = np.where(same_prev[starts], cut[np.maximum(starts - 1, 0)], u[starts])
    u_end = np.where(same_next[ends], cut[ends], u[ends])
    r = row[starts]
    t0 = t_at(r, u_start)
    t1 = t_at(r, u_end)
    whole0 = ~same_prev[starts] & (ulo[r] == 0.0) & (tlo[keep[r]] == 0.0)
    whole1 = ~same_next[ends] & (uhi[r] == 1.0) & (thi[keep[r]] == 1.0)
    t0 = np.where(whole0, 0.0, t0)
    t1 = np.where(whole1, 1.0, t1)
    # a fragment cut by visibility shorter than half the sample spacing is below what the samples
    # resolve (typically a hidden edge showing only at the silhouette vertex it ends on): drop it
    span_px = (u_end - u_start) * np.linalg.norm(xy1[r] - xy0[r], axis=1)
    good = (t1 > t0) & ((whole0 & whole1) | (span_px >= MIN_FRAGMENT * spacing_px))
    return VisiblePieces(seg=keep[r][good], t0=t0[good], t1=t1[good], whole0=whole0[good], whole1=whole1[good])


def _clip_depth(d0, d1, near, far):
    """Parameter range [tlo, thi] of segments whose depth runs d0 -> d1 that lies within [near, far]."""
    return _clip_coordinate(np.zeros(len(d0)), np.ones(len(d0)), d0, d1 - d0, near, far)


def _clip_rect(a, b, xmin, ymin, xmax, ymax):
    """Liang-Barsky: parameter range [ulo, uhi] of 2D segments a -> b inside the rectangle (empty: ulo > uhi)."""
    ulo = np.zeros(len(a))
    uhi = np.ones(len(a))
    delta = b - a
    for axis, low, high in ((0, xmin, xmax), (1, ymin, ymax)):
        ulo, uhi = _clip_coordinate(ulo, uhi, a[:, axis], delta[:, axis], low, high)
    return ulo, uhi


def _clip_coordinate(tlo, thi, x0, delta, low, high):
    """One coordinate of Liang-Barsky clipping: the parameter range [tlo, thi] of segments narrowed to
    where x0 + t * delta lies within [low, high] (tlo, thi, x0, delta: (S,) float64). A segment that runs
    parallel to the bounds outside them gets thi = -1 (empty)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_low = (low - x0) / delta  # where the segment crosses the low bound
        t_high = (high - x0) / delta
    rising = delta > 0
    falling = delta < 0
    tlo = np.where(rising, np.maximum(tlo, t_low), tlo)
    thi = np.where(rising, np.minimum(thi, t_high), thi)
    thi = np.where(falling, np.minimum(thi, t_low), thi)
    tlo = np.where(falling, np.maximum(tlo, t_high), tlo)
    outside = (delta == 0) & ((x0 < low) | (x0 > high))
    return tlo, np.where(outside, -1.0, thi)
