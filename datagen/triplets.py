"""SketchZooms triplets: anchor, positive and negative points, each drawn at several zooms.

For one shape (a work unit), from ``views`` random base cameras:

- anchors: Poisson-disk samples (``poisson_px`` apart in the base view) over the visible stroke
  vertices of each view, or the shape's visible keypoints (``anchors="keypoints"``);
- positive: the same surface point seen from another view of the same shape (with ``positive_px``, one
  where it lies on a stroke, as a person marking correspondences would mark it; with ``max_angle_deg``,
  one within that angle of the anchor's view where there is one, as the pairs' B views), or, with probability
  ``other_shape``, the corresponding point on another shape of the category and split (exact for the
  bundled collection, ``datagen.registration`` otherwise; one partner shape per unit, drawn from the
  unit's generator, seen from the same base cameras), in a view where it is visible (with
  ``other_same_view``, the anchor's own view where it is visible there);
- negative: a stroke vertex of the positive's drawing, by one of ``negatives`` (picked per triplet):
  ``random``; ``same-part`` (same part label as the positive, among the farthest on the surface);
  ``hard`` (near the positive in the image, yet at least ``min_distance`` away on the surface). The
  surface distance from the positive point (the anchor's correspondence on that shape) to the negative
  is stored (``surface_distance``; mesh-graph geodesic, Euclidean between parts that do not touch);
- more negatives per anchor after that one, ``extra_negatives`` (kind, count): strokes near the positive
  in the image, same-part, random, hard or other-shape ones, chosen by ``datagen.negatives`` and stored
  with their kind, pixel distance and surface distance (``negatives`` in the sample JSON);
- every role is seen at each SketchZooms zoom (``render.views.sketchzooms_factors``, jitter per role,
  ``zoom_jitter``): a square window of its base view around the point. The sample stores the strokes of
  each (shape, base view) it uses once, in that view's pixels and the sample's style, and every zoom names
  its view and window; the zoom images are redrawn from them at ``size`` x ``size`` with the same stroke
  width in pixels (``datagen.schema.triplet_images``): never cropped from one image.

All points and cameras are in the collection's unit-sphere frame. The sample layout is in
``datagen.schema``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Iterator
from dataclasses import dataclass, field

import numpy as np

from sketchgen.datagen.execute import NotMade, failure_rows, gathering, made_or_counted
from sketchgen.datagen.flow import correspond
from sketchgen.datagen.negatives import NEGATIVE_KINDS, Candidates, NegativeRules, choose_negatives
from sketchgen.datagen.plan import DatasetConfig, WorkUnit, config_shapes
from sketchgen.datagen.schema import ROLE_NAMES, sample_key, view_key
from sketchgen.datagen.sketchviews import (SPACING_PX, ShapeViews, SketchView, ViewConfig, base_cameras,  # noqa: F401
                                           draw_styled, poisson_pick)
from sketchgen.datagen.stylemix import pick_style
from sketchgen.render.camera import Camera
from sketchgen.render.gbuffer import face_barycentric
from sketchgen.render.threads import one_blas_thread
from sketchgen.render.views import SKETCHZOOMS_JITTER, SKETCHZOOMS_Z, sketchzooms_factors

log = logging.getLogger(__name__)

NEGATIVE_STRATEGIES = ("random", "same-part", "hard")
# a triplet's kind is where its positive comes from
POSITIVE_KINDS = ("view", "other-shape")
# what a resumed build compares (datagen.execute.unit_inputs): 2 since a positive of the kind drawn is
# never replaced by the other kind, and per-shape labels are registered without labels
BUILD_VERSION = 2


def check_request(config: TripletConfig, shapes) -> None:
    """Raise InputError, before any unit runs, when ``config`` cannot be met on the collection at all:
    keypoint anchors where no shape has keypoints. shapes: ``datagen.plan.load_shapes``'s mapping."""
    from sketchgen.errors import InputError

    if config.anchors != "keypoints":
        return
    index = getattr(shapes, "index", None)
    if index is not None:  # from the index: a keypoint file named by the row or found beside the mesh
        from sketchgen.ingest.index import row_files

        found = any("keypoints" in e.row or any(str(f).endswith(".json") and str(f) != str(e.mesh)
                                                 for f in row_files(e.row)) for e in index.entries)
    else:
        found = any(len(shapes[sid].keypoints) for sid, _ in shapes.members())
    if not found:
        where = config.collection or "the bundled collection"
        raise InputError(f"{where}: --anchors keypoints, but no shape of the collection has keypoints "
                         "(a KeypointNet annotation, a keypoints column or a <mesh>.keypoints.json beside it)")


def sample_kind(sample: dict) -> str:
    """The kind of a built triplet sample (``POSITIVE_KINDS``), for the build's summary."""
    return "other-shape" if json.loads(sample["json"])["positive_source"] == "shape" else "view"


@dataclass(frozen=True)
class TripletConfig(DatasetConfig):
    """Everything that defines a triplet dataset (the manifest records it): the settings every dataset
    has (``datagen.plan.DatasetConfig``) and the triplets' own."""

    camera: ViewConfig = field(default_factory=ViewConfig)
    points: int = 8
    anchors: str = "poisson"
    poisson_px: float = 24.0
    spacing_px: float = SPACING_PX  # candidate points (anchors, negatives) along the strokes, base-view px
    size: int = 224
    other_shape: float = 0.5
    negatives: tuple[str, ...] = NEGATIVE_STRATEGIES
    hard_px: float = 48.0
    min_distance: float = 0.15
    # negatives n1.. after the classic one (``datagen.negatives``): (kind, count), in order
    extra_negatives: tuple[tuple[str, int], ...] = (("near", 4), ("other-shape", 1))
    near_px: tuple[float, float] = (16.0, 96.0)
    near_surface: float = 0.05
    # positives: a view within this many degrees of the anchor's (None: any view), as pairs choose B
    max_angle_deg: float | None = None
    # positives only where the point lies within this many base-view pixels of a stroke of the positive's
    # view (None: wherever the point is visible)
    positive_px: float | None = None
    # other-shape positives from the anchor's own view where the point is seen there (as a ``shapes`` pair
    # shows two shapes from one camera); else from the views ``max_angle_deg`` allows
    other_same_view: bool = False
    # each role's zooms z - u, u ~ U(-zoom_jitter, zoom_jitter) (``render.views.sketchzooms_factors``)
    zoom_jitter: float = SKETCHZOOMS_JITTER

    def __post_init__(self):
        super().__post_init__()
        if not self.spacing_px > 0:
            raise ValueError(f"candidate point spacing must be > 0 pixels, got {self.spacing_px}")
        bad_extra = [k for k, n in self.extra_negatives if k not in NEGATIVE_KINDS or n < 1]
        if bad_extra:
            raise ValueError(f"extra negatives must be kinds among {', '.join(NEGATIVE_KINDS)} with counts >= 1")
        if not 0 <= self.near_px[0] <= self.near_px[1]:
            raise ValueError(f"near-negative range must be 0 <= low <= high pixels, got {self.near_px}")
        if self.anchors not in ("poisson", "keypoints"):
            raise ValueError(f"anchors must be 'poisson' or 'keypoints', got {self.anchors!r}")
        bad = [n for n in self.negatives if n not in NEGATIVE_STRATEGIES]
        if bad or not self.negatives:
            raise ValueError(f"negative strategies must be among {', '.join(NEGATIVE_STRATEGIES)}")
        if not 0.0 <= self.other_shape <= 1.0:
            raise ValueError(f"other-shape ratio must lie in [0, 1], got {self.other_shape}")
        if self.size < 16 or self.camera.size < 16:
            raise ValueError(f"image sizes must be at least 16 pixels, got {self.size} and {self.camera.size}")
        if self.positive_px is not None and not self.positive_px > 0:
            raise ValueError(f"positive stroke distance must be > 0 pixels, got {self.positive_px}")
        if not 0.0 <= self.zoom_jitter < min(SKETCHZOOMS_Z):
            raise ValueError(f"zoom jitter must lie in [0, {min(SKETCHZOOMS_Z)}), got {self.zoom_jitter}")
        if self.points < 1 or self.camera.views < 2:
            raise ValueError("need at least 1 point per view and 2 views per shape")
        if self.max_angle_deg is not None and not 0 <= self.max_angle_deg <= 180:
            raise ValueError(f"the largest angle between an anchor's and its positive's views must lie in "
                             f"[0, 180] degrees, got {self.max_angle_deg}")


class SurfaceDistance:
    """Approximate geodesic distance on a mesh: Dijkstra over its edges, Euclidean across gaps."""

    def __init__(self, shape):
        from scipy.sparse import coo_matrix

        v, f = shape.vertices, shape.faces
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        edges = np.unique(np.sort(edges, axis=1), axis=0)
        length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
        n = len(v)
        self.graph = coo_matrix((length, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
        self.vertices, self.faces = v, f

    def from_point(self, face: int, point: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(N,) float64 distances from ``point`` (on ``face``) to (N, 3) ``points`` on (N,) ``faces``."""
        from scipy.sparse.csgraph import dijkstra

        corners = self.faces[face]
        d = dijkstra(self.graph, directed=False, indices=corners)              # (3, V)
        to_vertex = (np.linalg.norm(self.vertices[corners] - point, axis=1)[:, None] + d).min(axis=0)
        cf = self.vertices[self.faces[faces]]                                   # (N, 3, 3)
        via = (to_vertex[self.faces[faces]] + np.linalg.norm(cf - points[:, None, :], axis=2)).min(axis=1)
        euclid = np.linalg.norm(points - point, axis=1)
        via = np.where(faces == face, euclid, via)
        return np.where(np.isfinite(via), np.maximum(via, euclid), euclid)


@dataclass(frozen=True)
class RolePoint:
    """One role of a triplet (anchor, positive or a negative): a point of ``shape`` on ``face`` at
    barycentric ``bary`` ((3,) float64), ``point`` (3,) float64 in the unit-sphere frame, shown in base view
    ``view`` of the unit, whose lines are ``drawing``."""

    shape: object  # ingest.partmesh.PartMesh
    face: int
    bary: np.ndarray
    point: np.ndarray
    drawing: SketchView
    view: int

    @property
    def drawn_as(self) -> tuple[str, int]:
        """(shape id, base view): the drawing a sample stores once for every role shown in it."""
        return self.shape.shape_id, self.view


@dataclass
class UnitShapes:
    """What one unit draws from: its shape (``own``) and, where one loads and can correspond, a partner
    shape of its category and split (``other``), both seen from the unit's base cameras."""

    own: ShapeViews
    other: ShapeViews | None
    cameras: list[Camera]
    cameras_json: list[dict]
    geodesic: dict[str, "SurfaceDistance"]  # shape id -> its surface distances
    method: str | None  # how the partner's points correspond (``datagen.flow.correspondence_method``)
    no_partner: str     # why ``other`` is None
    # (shape id, view) -> npz bytes of its clean strokes, the same in every sample of the unit
    clean: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Sightings:
    """K points on one shape and the base views that show them: (K,) int64 ``faces``, (K, 3) ``bary`` and
    ``points``, (V, K) bool ``seen``, (K,) float64 ``confidence`` of their correspondence with the anchors."""

    faces: np.ndarray
    bary: np.ndarray
    points: np.ndarray
    seen: np.ndarray
    confidence: np.ndarray

    def role(self, k: int, holder: ShapeViews, view: int) -> RolePoint:
        """Point ``k`` as a role shown in base ``view`` of ``holder`` (the views of this points' shape)."""
        return RolePoint(holder.shape, int(self.faces[k]), self.bary[k], self.points[k], holder.view(view), view)


@dataclass(frozen=True)
class ViewAnchors:
    """The anchors of base view ``view`` (``own``; never seen from ``view`` itself there, a positive's view
    being another one) and their corresponding points on the partner shape (``other``, None without one);
    ``angles``: (V,) degrees between ``view`` and each base view."""

    view: int
    own: Sightings
    other: Sightings | None
    angles: np.ndarray

    def __len__(self) -> int:
        return len(self.own.faces)


@dataclass(frozen=True)
class Positive:
    """A triplet's positive: its ``kind`` (``POSITIVE_KINDS``), ``source`` ("view" or "shape", as the sample
    records it), the shape views it comes from (``holder``), the point and its correspondence record."""

    kind: str
    source: str
    holder: ShapeViews
    role: RolePoint
    correspondence: dict


def _role_json(role: RolePoint, unit_shapes: UnitShapes, slot: int, factors: list[float]) -> tuple[dict, np.ndarray]:
    """(json dict, (2,) float64 exact pixel of the point in its base view) of one role: its zooms are the
    windows of half-size ``factor * height / 2`` base-view pixels around that pixel, in view ``slot`` of
    the sample (their ``xy`` is filled in once the view's strokes are drawn)."""
    base = unit_shapes.cameras[role.view]
    centre = base.world_to_pixels(np.asarray(role.point, np.float64).reshape(1, 3))[0][0]
    views = [{"view": int(slot), "window": [float(centre[0]), float(centre[1]), float(f * base.height / 2.0)]}
             for f in factors]
    shape = role.shape
    label = int(shape.face_labels[role.face])
    meta = {"shape": shape.shape_id, "category": shape.category, "part": shape.part_names.get(label, str(label)),
            "face": int(role.face), "bary": [float(b) for b in role.bary], "point": [float(c) for c in role.point],
            "base_view": int(role.view), "base_camera": unit_shapes.cameras_json[role.view], "views": views}
    return meta, centre


def _view_strokes(role: RolePoint, unit_shapes: UnitShapes, style: str, rng: np.random.Generator, width: float,
                  keep: np.ndarray):
    """(npz bytes of the strokes of ``role``'s drawing seen by its base camera in ``style``, the style
    object): ``draw_styled``, keeping the ink at the (K, 2) pixels ``keep``. Clean strokes do not depend
    on the sample: they are made once per (shape, view) and kept in ``unit_shapes.clean``."""
    camera, face_labels = unit_shapes.cameras[role.view], role.shape.face_labels
    if style == "clean":
        rng.integers(0, 2**63 - 1)  # the seed ``draw_styled`` draws whatever the style
        clean = unit_shapes.clean
        if role.drawn_as not in clean:
            clean[role.drawn_as] = role.drawing.strokes(camera, width, face_labels=face_labels).to_npz()
        return clean[role.drawn_as], None
    record, drawer = draw_styled(role.drawing, camera, style, rng, width, face_labels, keep=keep)
    return record.to_npz(), drawer


def view_angles(cams: list[Camera], i: int) -> np.ndarray:
    """(V,) degrees between the directions from the origin to base camera ``i`` and to each camera."""
    d = np.array([c.position / np.linalg.norm(c.position) for c in cams])
    return np.degrees(np.arccos(np.clip(d @ d[i], -1.0, 1.0)))


def near_views(views: np.ndarray, angles: np.ndarray, max_angle: float | None) -> np.ndarray:
    """The ``views`` (indices) within ``max_angle`` degrees (``angles`` per view), possibly none; all of
    them when ``max_angle`` is None."""
    if max_angle is None or len(views) == 0:
        return views
    return views[angles[views] <= max_angle]


def on_strokes(holder: ShapeViews, views: np.ndarray, point: np.ndarray, px: float | None) -> np.ndarray:
    """The ``views`` (indices) of ``holder`` in which ``point`` (3,) world projects within ``px`` base-view
    pixels of a stroke point (``SketchView.xy``, spaced ``TripletConfig.spacing_px`` along the strokes); all
    of them when ``px`` is None."""
    if px is None:
        return views
    keep = []
    for j in views:
        strokes = holder.view(int(j)).xy
        xy = holder.cameras[int(j)].world_to_pixels(point[None])[0][0]
        if len(strokes) and np.min(np.sum((strokes - xy) ** 2, axis=1)) <= px * px:
            keep.append(j)
    return np.asarray(keep, dtype=np.int64)


def negative_rules(config: TripletConfig) -> NegativeRules:
    return NegativeRules(min_distance=config.min_distance, hard_px=config.hard_px, near_px=tuple(config.near_px),
                         near_surface=config.near_surface)


def _candidates(role: RolePoint, camera: Camera, geodesic: dict) -> Candidates:
    """The stroke points of ``role``'s drawing measured from its point for ``datagen.negatives``."""
    shape, view = role.shape, role.drawing
    return Candidates(xy=view.xy,
                      surface=geodesic[shape.shape_id].from_point(role.face, role.point, view.faces, view.points),
                      labels=shape.face_labels[view.faces], ref_xy=camera.world_to_pixels(role.point[None])[0][0],
                      ref_label=int(shape.face_labels[role.face]))


@one_blas_thread
def unit_samples(unit: WorkUnit, config: TripletConfig, failures: list, only: int | None = None) -> Iterator[dict]:
    """The triplet samples of one shape, yielded one at a time as they are made; the failures met are
    appended to ``failures`` (dicts ``{"shape", "reason", "count"}``) when the generator is exhausted.

    Sample ``i * config.points + k`` is the k-th anchor of base view i (its key's index); its random
    choices come from ``unit.sample_rng(seed, index)``, the view's anchors from the view's own stream,
    and the cameras and partner shape from the unit's generator, so ``only=index`` builds that one
    sample alone, byte-identical to the one in the full unit (``datagen.regenerate``)."""
    unit_shapes = _unit_shapes(unit, config)
    problems = Counter()
    for i in range(len(unit_shapes.cameras)):
        if only is not None and only // config.points != i:
            continue
        anchors = made_or_counted(lambda: _view_anchors(unit_shapes, unit, config, i), problems)
        if anchors is None:
            continue
        for k in range(len(anchors)):
            index = i * config.points + k
            if only is not None and only != index:
                continue
            sample = made_or_counted(lambda: _sample(unit_shapes, anchors, k, unit, config, index), problems)
            if sample is not None:
                yield sample
    failures.extend(failure_rows(unit.shape_id, problems))


def _unit_shapes(unit: WorkUnit, config: TripletConfig) -> UnitShapes:
    """The unit's shape, its partner (drawn from the unit's generator, before the base cameras) and their views."""
    from sketchgen.datagen.flow import correspondence_method, partner_trouble

    rng = unit.rng(config.seed)
    shapes, _ = config_shapes(config)
    shape = shapes[unit.shape_id]
    partner_ids = [p for p in unit.partners if p in shapes]
    partner = None
    no_partner = "no other shape of the category in the split"
    if partner_ids and config.other_shape > 0:
        # None when the partner's mesh does not load (its own unit reports why)
        partner = shapes.get(partner_ids[int(rng.integers(len(partner_ids)))])
        no_partner = "the partner shape did not load"
        if partner is not None:
            trouble = partner_trouble(shape, partner)
            if trouble:  # every point's confidence is 0: no other-shape positive can be made
                partner, no_partner = None, trouble
    cams = base_cameras(config.camera, rng)
    geodesic = {shape.shape_id: SurfaceDistance(shape)}
    if partner is not None:
        geodesic[partner.shape_id] = SurfaceDistance(partner)
    own = ShapeViews(shape, cams, config.drawing, config.spacing_px)
    other = ShapeViews(partner, cams, config.drawing, config.spacing_px) if partner is not None else None
    return UnitShapes(own=own, other=other,
                      cameras=cams, cameras_json=[c.to_json() for c in cams], geodesic=geodesic,
                      method=correspondence_method(shape, partner) if partner is not None else None,
                      no_partner=no_partner)


def _view_anchors(unit_shapes: UnitShapes, unit: WorkUnit, config: TripletConfig, i: int) -> ViewAnchors:
    """The anchors of base view ``i`` (``config.anchors``: Poisson-disk stroke points drawn from the view's
    own stream, or the visible keypoints), the views that show them and their partner's points. Raises
    NotMade when the view has none."""
    own, other = unit_shapes.own, unit_shapes.other
    shape, view = own.shape, own.view(i)
    if config.anchors == "keypoints":
        if len(shape.keypoints) == 0:
            raise NotMade("not-made", "any", "keypoint anchors: the shape has no keypoints", config.points)
        kp = shape.keypoints
        pts = shape.keypoint_points()
        vis = own.visible(pts, kp.face)[i] if len(pts) else np.zeros(0, bool)
        take = np.flatnonzero(vis)[:config.points]
        faces, points, bary = kp.face[take].astype(np.int64), pts[take], kp.bary[take]
    else:
        pick = poisson_pick(view.xy, config.poisson_px, config.points, unit.sample_rng(config.seed, i, stream=1))
        faces, points = view.faces[pick], view.points[pick]
        bary = face_barycentric(shape.vertices, shape.faces, faces, points)
    if len(faces) == 0:
        why = "no keypoint visible in a view" if config.anchors == "keypoints" else "no visible lines in a view"
        raise NotMade("dropped", "any", why)
    seen = own.visible(points, faces)
    seen[i] = False
    mine = Sightings(faces, bary, points, seen, np.ones(len(faces)))
    theirs = None
    if other is not None:
        o_faces, o_bary, conf = correspond(shape, other.shape, faces, bary)
        o_points = other.shape.points(o_faces, o_bary)
        o_seen = other.visible(o_points, o_faces) & (conf >= config.min_confidence)[None, :]
        theirs = Sightings(o_faces, o_bary, o_points, o_seen, conf)
    return ViewAnchors(i, mine, theirs, view_angles(unit_shapes.cameras, i))


def _sample(unit_shapes: UnitShapes, anchors: ViewAnchors, k: int, unit: WorkUnit, config: TripletConfig,
            index: int) -> dict:
    """Sample ``index``: anchor ``k`` of ``anchors``, its positive and negatives, every role drawn. Raises
    NotMade when the positive or a negative cannot be had."""
    srng = unit.sample_rng(config.seed, index)
    style = pick_style(config.style, srng)
    anchor = anchors.own.role(k, unit_shapes.own, anchors.view)
    positive = _positive(unit_shapes, anchors, k, config, srng)
    negs, negative_roles = _negatives(unit_shapes, anchors, k, positive, config, srng)
    metas, members, drawings = _draw_roles(unit_shapes, [anchor, positive.role, *negative_roles], style, srng,
                                           config)
    negatives = [{**meta, "kind": neg.kind, "pixel_distance": neg.pixel_distance,
                  "surface_distance": neg.surface_distance} for meta, neg in zip(metas[2:], negs)]
    roles = {ROLE_NAMES[role]: meta for role, meta in zip("apn", metas)}  # the first negative as "negative"
    record = {"kind": "triplet", "split": unit.split, **roles, "negatives": negatives, "style": style,
              "zoom_size": config.size, "drawings": drawings,
              "surface_distance": negs[0].surface_distance, "negative_strategy": negs[0].kind,
              "positive_source": positive.source, "correspondence": positive.correspondence}
    key = sample_key(unit.shape_id, unit.unit, index)
    return {"__key__": key, "json": json.dumps(record, sort_keys=True), **members}


def _positive(unit_shapes: UnitShapes, anchors: ViewAnchors, k: int, config: TripletConfig,
              srng: np.random.Generator) -> Positive:
    """Anchor ``k``'s positive: of the kind drawn (another shape with probability ``config.other_shape``,
    else another view), in a view drawn among those that show it (on a stroke within
    ``config.positive_px``, within ``config.max_angle_deg`` of the anchor's). The kind drawn is made or
    NotMade is raised, never the other kind instead."""
    use_other = config.other_shape > 0 and srng.random() < config.other_shape
    kind = "other-shape" if use_other else "view"
    if use_other and unit_shapes.other is None:
        raise NotMade("not-made", kind, unit_shapes.no_partner)
    holder = unit_shapes.other if use_other else unit_shapes.own
    where = anchors.other if use_other else anchors.own
    views_ok = on_strokes(holder, np.flatnonzero(where.seen[:, k]), where.points[k], config.positive_px)
    if not len(views_ok):
        why = (f"no view shows the corresponding point with confidence >= {config.min_confidence:g}"
               if use_other else "no other view shows the point")
        raise NotMade("not-made", kind, why)
    views_ok = near_views(views_ok, anchors.angles, config.max_angle_deg)
    if not len(views_ok):
        raise NotMade("not-made", kind, f"no view within {config.max_angle_deg:g} degrees shows the positive")
    if use_other and config.other_same_view and anchors.view in views_ok:
        views_ok = np.array([anchors.view])
    j = int(views_ok[srng.integers(len(views_ok))])
    role = where.role(k, holder, j)
    if use_other:
        correspondence = {"method": unit_shapes.method, "confidence": float(where.confidence[k])}
    else:
        correspondence = {"method": "same-shape", "confidence": 1.0}
    if len(role.drawing) == 0:
        raise NotMade("dropped", kind, "positive view has no lines")
    return Positive(kind, "shape" if use_other else "view", holder, role, correspondence)


def _negatives(unit_shapes: UnitShapes, anchors: ViewAnchors, k: int, positive: Positive, config: TripletConfig,
               srng: np.random.Generator) -> tuple[list, list[RolePoint]]:
    """(``datagen.negatives.Negative`` list, their roles): stroke points of the positive's view, of the
    positive's drawing or (other-shape negatives) of the other shape's, measured from the positive and
    from its counterpart there; the first by a strategy drawn from ``config.negatives``, then
    ``config.extra_negatives``. Raises NotMade when none is far enough."""
    own, other, holder = unit_shapes.own, unit_shapes.other, positive.holder
    j, camera = positive.role.view, unit_shapes.cameras[positive.role.view]
    # the positive's counterpart on the other shape: the partner's correspondence of the anchor, or the anchor
    ref = anchors.other if holder is own and other is not None else anchors.own
    cands = _candidates(positive.role, camera, unit_shapes.geodesic)
    o_holder = other if holder is own else own
    o_cands = None
    if o_holder is not None and len(o_holder.view(j)):
        o_cands = _candidates(ref.role(k, o_holder, j), camera, unit_shapes.geodesic)
    strategy = config.negatives[int(srng.integers(len(config.negatives)))]
    negs = choose_negatives(((strategy, 1), *config.extra_negatives), cands, srng, negative_rules(config), o_cands)
    if negs is None:
        raise NotMade("dropped", positive.kind, "no negative far enough")
    roles = []
    for neg in negs:
        n_holder = holder if neg.source == "positive" else o_holder
        n_view = n_holder.view(j)
        n_face, n_point = int(n_view.faces[neg.index]), n_view.points[neg.index]
        n_bary = face_barycentric(n_holder.shape.vertices, n_holder.shape.faces, [n_face], n_point[None])[0]
        roles.append(RolePoint(n_holder.shape, n_face, n_bary, n_point, n_view, j))
    return negs, roles


def _draw_roles(unit_shapes: UnitShapes, roles: list[RolePoint], style: str, srng: np.random.Generator,
                config: TripletConfig) -> tuple[list[dict], dict[str, bytes], list[dict]]:
    """(each role's json dict, the sample's stroke members, its ``drawings`` records): every role's zooms
    are windows of its base view (their factors drawn in role order), and each (shape, view) is drawn
    once per sample, in ``style``, with each role's zoom ``xy`` where its point's ink went."""
    slots: dict[tuple[str, int], int] = {}
    metas, centres = [], []
    for role in roles:
        slot = slots.setdefault(role.drawn_as, len(slots))
        meta, centre = _role_json(role, unit_shapes, slot, sketchzooms_factors(srng, config.zoom_jitter))
        metas.append(meta)
        centres.append(centre)
    members, drawings = {}, []
    for (shape_id, view), slot in slots.items():
        first = next(role for role in roles if role.drawn_as == (shape_id, view))
        mine = [r for r, meta in enumerate(metas) if meta["views"][0]["view"] == slot]
        keep = np.array([centres[r] for r in mine])
        npz, drawer = _view_strokes(first, unit_shapes, style, srng, config.drawing.width, keep)
        members[view_key(slot)] = npz
        drawings.append({"shape": shape_id, "base_view": int(view), "camera": unit_shapes.cameras_json[view],
                         "member": view_key(slot)})
        moved = keep if style == "clean" else drawer.displace(keep)
        for r, xy in zip(mine, moved):
            for zoom in metas[r]["views"]:
                cx, cy, half = zoom["window"]
                scale = config.size / (2.0 * half)
                zoom["xy"] = [float((xy[0] - cx) * scale + config.size / 2.0),
                              float((xy[1] - cy) * scale + config.size / 2.0)]
    return metas, members, drawings


# (samples, failures) of one shape, every sample held in memory (datagen.execute.gathering)
build_unit = gathering(unit_samples)
