"""Dense flow between two views (of one shape, or of two corresponding shapes) from their G-buffers.

Each pixel centre of A that sees the object is lifted to its surface point with A's depth buffer
(``Camera.pixels_to_world``), optionally carried to the corresponding point of another shape, and
projected with B's camera. It counts as visible in B when it lies inside B's image and in front of,
or on, the surface B's depth buffer holds at that pixel (within a tolerance that grows with the
depth slope there, capped so that a thin occluder still hides what is behind it).

All flows are (H, W, 2) float32 displacements (dx, dy) in pixels from A's pixel centre to its position
in B, NaN where A is background or the point is hidden in B, in the pixel convention of
``render/camera.py``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sketchgen.render.camera import Camera, pixel_centres

# visibility tolerance: a fraction of the depth, plus the local depth slope capped at this fraction
REL_TOL = 0.005
SLOPE_CAP = 0.03

PointMap = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def undisplace(displace: Callable[[np.ndarray], np.ndarray], xy: np.ndarray, iterations: int = 12) -> np.ndarray:
    """(N, 2) positions q with ``displace(q) == xy`` for a style's smooth displacement field (the
    sketchy wobble: q + a field whose Jacobian stays well under 1, so the fixed-point iteration
    q <- xy - (displace(q) - q) contracts; 12 rounds reach far below a thousandth of a pixel)."""
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    q = xy.copy()
    for _ in range(iterations):
        q = xy - (displace(q) - q)
    return q


def drawn_source(mask: np.ndarray, displace) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel centre p of a drawing whose positions were moved by ``displace``: (H*W,) int64 the
    flat index of the undisplaced pixel holding the surface point drawn at p (-1 outside the image),
    and (H*W, 2) float64 that point's exact position."""
    h, w = mask.shape
    centres = pixel_centres(w, h)
    q = undisplace(displace, centres)
    col, row = np.floor(q[:, 0]).astype(np.int64), np.floor(q[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return np.where(inside, row * w + col, -1), q


def restyle_mask(mask: np.ndarray, displace) -> np.ndarray:
    """(H, W) bool object mask of a drawing moved by ``displace``: each pixel takes the mask at the point
    drawn there (nearest pixel)."""
    source, _ = drawn_source(mask, displace)
    return np.where(source >= 0, mask.ravel()[np.maximum(source, 0)], False).reshape(mask.shape)


def restyle_flow(flow: np.ndarray, mask_a: np.ndarray, displace_a, displace_b) -> tuple[np.ndarray, np.ndarray]:
    """The flow between two drawings whose positions their styles moved, from the exact flow.

    flow: (H, W, 2) exact flow A -> B (NaN invalid); mask_a: (H, W) bool exact object mask of A;
    displace_a, displace_b: the styles' ``displace`` of A and B. Returns ((H, W, 2) float32 flow from
    each pixel centre of the drawn A to the drawn position in B, NaN where invalid or outside B, and
    (H, W) bool drawn A mask). The point drawn at pixel p of A is found by undoing A's displacement;
    its exact flow is the nearest pixel's, shifted by its offset from that pixel centre (the flow taken
    as locally a translation over half a pixel).
    """
    h, w = mask_a.shape
    source, q = drawn_source(mask_a, displace_a)
    ok = source >= 0
    src = np.maximum(source, 0)
    centres = pixel_centres(w, h)
    target = centres[src] + flow.reshape(-1, 2)[src] + (q - centres[src])
    mask = ok & mask_a.ravel()[src]
    drawn = displace_b(np.where(np.isfinite(target), target, 0.0))
    with np.errstate(invalid="ignore"):
        inside = (drawn[:, 0] >= 0) & (drawn[:, 0] < w) & (drawn[:, 1] >= 0) & (drawn[:, 1] < h)
    valid = mask & np.isfinite(target).all(axis=1) & inside
    out = np.where(valid[:, None], drawn - centres, np.nan)
    return out.reshape(h, w, 2).astype(np.float32), mask.reshape(h, w)


def lift(depth: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Surface points seen by each pixel centre.

    depth: (H, W) float depth along the view axis, inf (or non-finite) on the background.
    Returns (points, mask): (H*W, 3) float64 world points (NaN on background), (H, W) bool object mask.
    """
    h, w = depth.shape
    mask = np.isfinite(depth)
    idx = np.flatnonzero(mask)
    points = np.full((h * w, 3), np.nan)
    # only object pixels: arithmetic on the background's inf/NaN runs many times slower
    centres = pixel_centres(w, h)[idx]
    points[idx] = camera.pixels_to_world(centres, depth.ravel()[idx].astype(np.float64))
    return points, mask


def visible_in(points: np.ndarray, camera: Camera, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points into a view and test them against its depth buffer.

    points: (N, 3) world (NaN rows allowed). depth: (H, W) depth buffer of that view, inf on background.
    Returns (xy, visible): (N, 2) float64 pixels (NaN for NaN points) and (N,) bool.
    """
    h, w = depth.shape
    xy = np.full((len(points), 2), np.nan)
    z = np.full(len(points), np.nan)
    finite = np.isfinite(points).all(axis=1)
    xy[finite], z[finite] = camera.world_to_pixels(points[finite])
    with np.errstate(invalid="ignore"):
        inside = finite & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h) & (z > 0)
    visible = np.zeros(len(xy), dtype=bool)
    if not inside.any():
        return xy, visible
    col = np.clip(np.floor(xy[inside, 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.floor(xy[inside, 1]).astype(np.int64), 0, h - 1)
    buf = depth.astype(np.float64)
    finite_buf = np.isfinite(buf)
    # depth change per pixel, a tolerance for the point not lying at the pixel centre
    filled = np.where(finite_buf, buf, np.nan)
    with np.errstate(invalid="ignore"):
        gy = np.abs(np.diff(filled, axis=0, prepend=filled[:1]))
        gx = np.abs(np.diff(filled, axis=1, prepend=filled[:, :1]))
    slope = np.nan_to_num(np.fmax(gx, gy), nan=0.0)
    here = buf[row, col]
    zi = z[inside]
    tol = REL_TOL * zi + np.minimum(slope[row, col], SLOPE_CAP * zi)
    # a background pixel next to the point's projection: the point sits on B's silhouette, so it is seen
    visible[inside] = ~np.isfinite(here) | (zi <= here + tol)
    return xy, visible


def dense_flow(depth_a: np.ndarray, camera_a: Camera, depth_b: np.ndarray, camera_b: Camera, *,
               faces_a: np.ndarray | None = None, point_map: PointMap | None = None) -> np.ndarray:
    """(H, W, 2) float32 flow from view A to view B; NaN where A is background or hidden in B.

    depth_a, depth_b: (H, W) depth buffers (inf background) of the two views.
    faces_a: (H, W) int face id buffer of A (-1 background), needed by ``point_map``.
    point_map: (face ids (N,), points (N, 3)) on A's shape -> (points (N, 3) on B's shape, (N,) bool
    valid); None when A and B show the same shape.
    """
    h, w = depth_a.shape
    points, mask = lift(depth_a, camera_a)
    valid = mask.ravel().copy()
    if point_map is not None:
        if faces_a is None:
            raise ValueError("point_map needs the face id buffer of A")
        idx = np.flatnonzero(valid)
        mapped = np.full_like(points, np.nan)
        out, ok = point_map(faces_a.ravel()[idx], points[idx])
        mapped[idx] = out
        valid[idx] &= ok
        points = mapped
    xy_b, vis = visible_in(points, camera_b, depth_b)
    valid &= vis
    flow = (xy_b - pixel_centres(w, h)).reshape(h, w, 2)
    flow[~valid.reshape(h, w)] = np.nan
    return flow.astype(np.float32)


def sample_flow(flow: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear flow at sub-pixel positions of A.

    flow: (H, W, 2). xy: (N, 2) pixels. Returns (N, 2) float64; NaN when a contributing pixel is NaN.
    Falls back to the nearest pixel where the bilinear neighbourhood touches NaN but that pixel is not.
    """
    h, w = flow.shape[:2]
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    fx = np.clip(xy[:, 0] - 0.5, 0, w - 1)
    fy = np.clip(xy[:, 1] - 0.5, 0, h - 1)
    x0 = np.clip(np.floor(fx).astype(int), 0, w - 1)
    y0 = np.clip(np.floor(fy).astype(int), 0, h - 1)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    tx, ty = (fx - x0)[:, None], (fy - y0)[:, None]
    f = flow.astype(np.float64)
    out = ((1 - ty) * ((1 - tx) * f[y0, x0] + tx * f[y0, x1]) + ty * ((1 - tx) * f[y1, x0] + tx * f[y1, x1]))
    near = f[np.clip(np.floor(xy[:, 1]).astype(int), 0, h - 1), np.clip(np.floor(xy[:, 0]).astype(int), 0, w - 1)]
    bad = ~np.isfinite(out).all(axis=1)
    out[bad] = near[bad]
    return out


def correspondence_method(a, b) -> str:
    """How PartMesh ``a``'s points are carried to ``b`` (``datagen.registration``'s names): ``EXACT``
    for bundled instances of one category, ``PART_LABELS`` when both shapes' labels are consistent
    across the category, else ``LABEL_FREE``: per-shape labels are never matched by id."""
    from sketchgen.datagen.registration import EXACT, LABEL_FREE, PART_LABELS
    from sketchgen.ingest.procedural import is_bundled

    if is_bundled(a) and is_bundled(b) and a.category == b.category and np.array_equal(a.faces, b.faces):
        return EXACT
    if getattr(a, "label_semantics", "consistent") == "consistent" == getattr(b, "label_semantics", "consistent"):
        return PART_LABELS
    return LABEL_FREE


def correspond(a, b, face: np.ndarray, bary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface points of PartMesh ``a`` carried to PartMesh ``b`` of the same category, by
    ``correspondence_method(a, b)``.

    face: (N,) int64 faces of ``a``; bary: (N, 3) float64. Returns (face_b (N,) int64, bary_b (N, 3)
    float64, confidence (N,) float64 in [0, 1]). Bundled shapes correspond exactly by construction
    (confidence 1); other collections go through ``datagen.registration``.
    """
    from sketchgen.datagen.registration import EXACT, register_points
    from sketchgen.ingest.procedural import exact_correspondence

    face = np.asarray(face, np.int64).reshape(-1)
    bary = np.asarray(bary, np.float64).reshape(-1, 3)
    method = correspondence_method(a, b)
    if method == EXACT:
        fb, bb = exact_correspondence(a, b, face, bary)
        return fb, bb, np.ones(len(fb))
    return register_points(a, b, face, bary, method)


def shape_point_map(a, b, *, min_confidence: float = 0.5, confidences: list | None = None) -> PointMap:
    """A ``dense_flow`` point map from PartMesh ``a`` to ``b`` (both in their unit-sphere frames):
    points whose correspondence confidence is below ``min_confidence`` are not carried. confidences:
    a list each call appends its (N,) float64 confidences to (what a pair records)."""
    from sketchgen.render.gbuffer import face_barycentric

    def point_map(faces: np.ndarray, points: np.ndarray):
        bary = face_barycentric(a.vertices, a.faces, faces, points)
        fb, bb, conf = correspond(a, b, faces, bary)
        if confidences is not None:
            confidences.append(conf)
        return b.points(fb, bb), conf >= min_confidence

    return point_map


def partner_trouble(a, b) -> str | None:
    """Why no point of PartMesh ``a`` may be carried to ``b`` (one line naming both), or None.

    Per-shape labels: a label-free registration whose segments do not pair up (``SegmentMatch.trust``
    0) gives every point confidence 0. Consistent labels: the two shapes are aligned without labels
    (``datagen.consistency.compare_pair``) and, where their segments pair up cleanly yet pair a label
    with another label (two labels swapped on one of them), their labels are not matched by id.
    Registers or aligns the pair (cached per process)."""
    from sketchgen.datagen.registration import LABEL_FREE, PART_LABELS, TRUSTED_AGREEMENT, cached_registration

    method = correspondence_method(a, b)
    if method == PART_LABELS:
        from sketchgen.datagen.consistency import cached_comparison

        match = cached_comparison(a, b)
        crossed = [(la, lb) for la, lb in match.pairs if la != lb]
        if match.trust > 0 and crossed:
            return (f"labels of {a.shape_id} and {b.shape_id}, declared consistent, disagree when the shapes are "
                    f"aligned without them ({', '.join(f'{la}->{lb}' for la, lb in crossed)})")
        return None
    if method != LABEL_FREE:
        return None
    match = cached_registration(a, b, LABEL_FREE).match
    if match.trust > 0:
        return None
    return (f"label-free registration of {a.shape_id} to {b.shape_id} not trusted: its segments pair up with "
            f"agreement {match.agreement:.2f} (< {TRUSTED_AGREEMENT[0]:g})")
