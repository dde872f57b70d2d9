"""Drawing a mesh from cameras: lines -> style -> raster image and SVG, with projected points.

One ``prepare``d mesh serves every view, and line extraction reuses the process's one GL context, so a
list of cameras costs only the per-view work. Each view's style is seeded from (config.seed, view
index), so any view can be redrawn alone and the same config gives byte-identical output.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.strokearrays import draw_strokes, from_drawing
from sketchgen.render.strokes import DEFAULT_LINES, LINE_TYPES, Drawing, Stroke
from sketchgen.render.style import STYLES, make_style
from sketchgen.render.svg import drawing_svg


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DrawConfig:
    """How to draw: the one drawing configuration, of ``draw_views`` (``sketchgen draw``) and of the dataset
    builders (``datagen.plan.DatasetConfig.drawing``, whose samples take their style from the dataset's
    style mix and their seeds from the dataset's seed).

    lines: line types to extract (a subset of LINE_TYPES); crease_deg: edges whose face normals differ by
    more are creases, degrees; width: stroke width in pixels; style: one of STYLES; seed: seeds the
    sketchy style (per view). Raises ValueError naming the first bad field."""

    lines: tuple[str, ...] = DEFAULT_LINES
    crease_deg: float = 45.0
    width: float = 1.0
    style: str = "clean"
    seed: int = 0

    def __post_init__(self):
        lines = tuple(self.lines)
        unknown = [k for k in lines if k not in LINE_TYPES]
        if unknown or not lines:
            raise ValueError(f"line types must be among {', '.join(LINE_TYPES)}, got {', '.join(lines) or 'none'}")
        object.__setattr__(self, "lines", lines)
        if not (np.isfinite(self.width) and self.width > 0):
            raise ValueError(f"width must be a positive number of pixels, got {self.width}")
        if not (0.0 <= self.crease_deg <= 180.0):
            raise ValueError(f"crease angle must lie in [0, 180] degrees, got {self.crease_deg}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")


@dataclass(frozen=True)
class PointViews:
    """Points seen by one camera. xy: (N, 2) float64 pixels (moved with the strokes by the style; NaN
    behind a perspective camera); depth: (N,) float64 along the view axis; visible: (N,) bool (inside
    the image, in front of the camera, not occluded), decided on the projection before the style moved
    it (the sketchy style moves points by at most ``SketchyConfig.wobble_px``)."""

    xy: np.ndarray
    depth: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True)
class DrawnView:
    """One camera's output. drawing: styled strokes; image: (H, W) uint8, 255 background, the raster of
    ``strokes``; svg: the SVG document; points: the projected points or None; style: the view's style,
    whose ``displace(xy)`` moves any other pixel positions (flow, keypoints) of this view with its
    strokes; strokes: the drawing as a ``render.strokearrays.StrokeArrays`` record (what datasets store
    beside their images); seconds: wall time per stage (lines, style, points, raster, svg)."""

    camera: Camera
    drawing: Drawing
    image: np.ndarray
    svg: str
    points: PointViews | None = None
    style: object = field(default=None, compare=False)
    seconds: dict[str, float] = field(default_factory=dict, compare=False)
    strokes: object = field(default=None, compare=False)
    # why the camera sees nothing of the mesh (``unseen_reason``), or None: set by ``draw_views``
    unseen: str | None = field(default=None, compare=False)


def draw_views(mesh, cameras: Iterable[Camera], config: DrawConfig = DrawConfig(), points=None,
               point_faces=None) -> Iterator[DrawnView]:
    """Draw ``mesh`` (a trimesh.Trimesh, in its own coordinates) from each camera, in order.

    points: optional (N, 3) float64 world points to project in every view; point_faces: optional (N,)
    int64 faces they lie on (sharper visibility at silhouettes). Degenerate faces and faces stored
    twice (double-sided surfaces) are left out first, by the rule collections apply
    (render.cleanup.clean_faces); strokes' ``faces`` still index ``mesh.faces``. Camera clip planes
    left out are fitted to the mesh (Camera.fitted).
    Yields one DrawnView per camera, so callers can write each view before the next is drawn. A camera
    that sees nothing of the mesh (``unseen_reason``: outside its view, behind it, or the camera inside a
    closed mesh) is logged as a warning and its view's ``unseen`` says why.
    """
    from sketchgen.render.cleanup import without_duplicates
    from sketchgen.render.prepared import prepare

    mesh, cleanup = without_duplicates(mesh)
    if len(cleanup.keep) == 0:
        raise InputError(f"all {len(cleanup.old_to_new)} faces are degenerate (zero area): nothing to draw")
    if cleanup.degenerate or cleanup.duplicate:
        log.info("drawing without %d degenerate and %d duplicate faces", cleanup.degenerate, cleanup.duplicate)
    if point_faces is not None and len(cleanup.keep) < len(cleanup.old_to_new):
        point_faces = cleanup.old_to_new[np.asarray(point_faces, dtype=np.int64)]
    prepared = prepare(mesh)
    for index, camera in enumerate(cameras):
        view = draw_view(mesh, camera, config, index=index, points=points, point_faces=point_faces,
                         prepared=prepared)
        if len(cleanup.keep) < len(cleanup.old_to_new):  # strokes name the caller's faces
            strokes = view.drawing.strokes
            if strokes:  # one gather for all strokes, each rebuilt directly (dataclasses.replace costs more)
                faces = np.split(cleanup.keep[np.concatenate([s.faces for s in strokes])],
                                 np.cumsum([len(s.faces) for s in strokes[:-1]]))
                strokes = [Stroke(s.xy, s.depth, s.points, f, s.kind, s.weight, s.offset, s.source, s.retrace)
                           for s, f in zip(strokes, faces)]
            record = view.strokes.of(**{**view.strokes.fields(), "face": cleanup.keep[view.strokes.face]})
            view = replace(view, drawing=replace(view.drawing, strokes=strokes), strokes=record)
        reason = unseen_reason(mesh, camera, view.drawing, prepared)
        if reason is not None:
            log.warning("camera %d sees nothing of the mesh: %s", index, reason)
            view = replace(view, unseen=reason)
        yield view


def unseen_reason(mesh, camera: Camera, drawing: Drawing, prepared) -> str | None:
    """Why ``camera`` sees nothing of ``mesh``'s outside, or None when it does.

    A view with strokes sees the mesh, unless the camera is inside a closed mesh (``prepared.is_closed``),
    looking at the inside of its surface: its lines are the inside's. That is decided, for a camera
    within the mesh's bounding box, by the camera position's generalised winding number
    (``winding_number``). A view with no stroke is looked at in a
    G-buffer (``render.gbuffer``): no face covers any pixel (the mesh lies behind the camera, beyond its
    clip planes, or beside its field of view); faces cover every pixel and none of them faces the camera
    (inside a surface that is not closed); or the faces it sees hold no line of the kinds drawn, which
    leaves a blank image. mesh: the trimesh drawn; prepared: its ``render.prepared.prepare``.
    """
    inside = "the camera is inside the mesh: it sees only the inside of the surface"
    if drawing.strokes:
        lo, hi = prepared.bounds
        in_box = bool(np.all(camera.position >= lo) and np.all(camera.position <= hi))
        if in_box and prepared.is_closed and not camera.is_ortho and winding_number(prepared, camera.position) > 0.5:
            return inside
        return None
    from sketchgen.render.gbuffer import get_renderer

    fitted = camera.fitted(*prepared.bounds)
    face_id = get_renderer().render(mesh, fitted, normals=False).face_id
    seen = np.unique(face_id[face_id >= 0])
    if len(seen) == 0:
        depth = (np.asarray(mesh.vertices) - camera.position) @ camera.forward
        if not camera.is_ortho and np.all(depth <= 0):
            return "the whole mesh lies behind the camera, which faces away from it"
        if np.all(depth < fitted.znear) or np.all(depth > fitted.zfar):
            return f"the whole mesh lies outside its clip planes (znear {fitted.znear:g}, zfar {fitted.zfar:g})"
        return "the mesh lies outside its field of view"
    if camera.is_ortho:
        facing = prepared.face_normals[seen] @ (-camera.forward)
    else:
        facing = prepared.face_normals[seen] @ camera.position - prepared.face_offsets[seen]
    if np.all(face_id >= 0) and not np.any(facing > 0):
        return inside
    return "the surface it sees holds no line of the kinds drawn: the image is blank"


def winding_number(prepared, point) -> float:
    """Generalised winding number of the mesh at ``point`` ((3,) world): the sum of the solid angles its
    triangles subtend there, over 4 pi (Jacobson, Kavan and Sorkine-Hornung 2013, "Robust inside-outside
    segmentation using generalized winding numbers"; each triangle's signed solid angle by Van Oosterom
    and Strackee 1983). 1 inside a closed outward-wound mesh, 0 outside, in between near holes."""
    # direct sum, not igl.winding_number (the same value): libigl builds its hierarchy on every call,
    # about 20x the time for the one point a view asks about
    rel = prepared.vertices[prepared.faces] - np.asarray(point, np.float64)  # (F, 3 corners, 3)
    a, b, c = rel[:, 0], rel[:, 1], rel[:, 2]
    la, lb, lc = (np.sqrt(np.einsum("ij,ij->i", v, v)) for v in (a, b, c))
    det = np.einsum("ij,ij->i", a, np.cross(b, c))
    div = (la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
           + np.einsum("ij,ij->i", c, a) * lb)
    return float(2.0 * np.arctan2(det, div).sum() / (4.0 * np.pi))


def visible_lines(mesh, camera: Camera, config: DrawConfig, prepared=None) -> Drawing:
    """The unstyled visible lines of ``mesh`` (trimesh.Trimesh) from ``camera``: the types ``config.lines``,
    creases from ``config.crease_deg`` (``render.lines.extract_lines``). prepared: ``prepare(mesh)`` when
    already made."""
    from sketchgen.render.lines import extract_lines

    return extract_lines(mesh, camera, kinds=config.lines, crease_deg=config.crease_deg, prepared=prepared)


def draw_view(mesh, camera: Camera, config: DrawConfig = DrawConfig(), *, index: int = 0, points=None,
              point_faces=None, prepared=None, face_labels=None) -> DrawnView:
    """Draw one view; ``index`` seeds the style with (config.seed, index). See ``draw_views``.

    The one drawing path: lines -> style -> stroke record (``render.strokearrays``) -> raster and SVG.
    face_labels: optional (F,) part label per face, for the record's ``part``."""
    from sketchgen.render.prepared import prepare

    if prepared is None:
        prepared = prepare(mesh)
    seconds = {}
    t0 = time.perf_counter()
    drawing = visible_lines(mesh, camera, config, prepared)
    t1 = time.perf_counter()
    style = make_style(config.style, np.random.default_rng([config.seed, index]), line_width=config.width)
    drawing = style.apply(drawing)
    # the image is the raster of the record, as a dataset's PNG is of the strokes stored beside it
    record = from_drawing(drawing, line_width=config.width, face_labels=face_labels)
    t2 = time.perf_counter()
    projected = None
    if points is not None:
        projected = project(mesh, camera, points, point_faces, style, prepared)
    t3 = time.perf_counter()
    image = draw_strokes([record], camera.width, camera.height)[0]
    t4 = time.perf_counter()
    svg = drawing_svg(drawing, line_width=config.width)
    t5 = time.perf_counter()
    seconds = {"lines": t1 - t0, "style": t2 - t1, "points": t3 - t2, "raster": t4 - t3, "svg": t5 - t4}
    return DrawnView(camera, drawing, image, svg, projected, style, seconds, record)


def project(mesh, camera: Camera, points, point_faces, style, prepared) -> PointViews:
    """Project (N, 3) world points and move them with ``style``'s displacement field."""
    from sketchgen.render.visibility import project_points

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    kwargs = {} if point_faces is None else {"faces": np.asarray(point_faces, dtype=np.int64)}
    result = project_points(mesh, camera, pts, prepared=prepared, **kwargs)
    xy = style.displace(result.xy)
    return PointViews(xy=xy, depth=np.asarray(result.depth, dtype=np.float64),
                      visible=np.asarray(result.visible, dtype=bool))
