"""Warp-pretraining pairs: images A and B with the dense flow from A to B, masks and keypoints.

For one shape (a work unit), ``pairs`` samples, each of one kind drawn from ``kinds``:

- ``views``: the shape from two of the unit's base views (B among the views within ``max_angle_deg``
  of A, else the nearest); flow from the two G-buffers (``datagen.flow.dense_flow``);
- ``shapes``: the shape in A and another shape of its category and split in B, the flow carried through
  their correspondence (exact for the bundled collection, ``datagen.registration`` otherwise);
- ``deform``: a drawing and its random affine + thin-plate-spline deformation (``datagen.deform``):
  B's strokes are the deformed vector strokes rasterised again, so the flow is exact; B's camera is
  A's, and B's keypoint ``xy`` follow the deformation.

and of one modality from ``modalities``: ``sketch-sketch`` (both line drawings) or ``sketch-shaded``
(A is a shaded render with random lighting and material, ``render.shading``: numpy Blinn-Phong from
the G-buffer by default, pyrender's PBR with ``shading.renderer="pyrender"``; B a line drawing, as in
photo-sketch correspondence where A is the photo).

The flow is (H, W, 2) float32 (dx, dy) pixels from each pixel centre of A to B, NaN where A is
background or the point is hidden in (or outside) B. Masks are 255 on the object. Sample layout in
``datagen.schema``.
"""

from __future__ import annotations

import io
import json
import logging
from collections import Counter
from typing import Iterator
from dataclasses import dataclass, field

import numpy as np

from sketchgen.datagen.deform import DeformConfig, random_deformation
from sketchgen.datagen.execute import NotMade, failure_rows, gathering, made_or_counted
from sketchgen.datagen.flow import dense_flow, pixel_centres, restyle_flow, restyle_mask, shape_point_map
from sketchgen.datagen.plan import DatasetConfig, WorkUnit, config_shapes
from sketchgen.datagen.schema import sample_key, strokes_key
from sketchgen.datagen.sketchviews import ShapeViews, ViewConfig, base_cameras, draw_styled
from sketchgen.datagen.stylemix import pick_style
from sketchgen.render.camera import Camera
from sketchgen.render.draw import DrawConfig
from sketchgen.render.raster import encode_png
from sketchgen.render.shading import MATERIALS, RENDERERS, ShadeConfig
from sketchgen.render.strokearrays import draw_strokes
from sketchgen.render.threads import one_blas_thread
from sketchgen.render.style import CleanStyle

log = logging.getLogger(__name__)

PAIR_KINDS = ("views", "shapes", "deform")
MODALITIES = ("sketch-sketch", "sketch-shaded")


# what a resumed build compares (datagen.execute.unit_inputs): 2 since pairs take A's view from a per-unit
# order (no pair twice in a unit); shards of version 1 are built again, not kept beside version 2's
BUILD_VERSION = 3  # 3: a pair kind that cannot be made is counted, never replaced; --max-angle is kept


def sample_kind(sample: dict) -> str:
    """The kind of a built pair sample (``PAIR_KINDS``), for the build's summary."""
    return json.loads(sample["json"])["pair_kind"]


@dataclass(frozen=True)
class PairConfig(DatasetConfig):
    """Everything that defines a pair dataset (the manifest records it): the settings every dataset has
    (``datagen.plan.DatasetConfig``) and the pairs' own."""

    camera: ViewConfig = field(default_factory=lambda: ViewConfig(views=6, size=256))
    pairs: int = 8
    kinds: tuple[str, ...] = PAIR_KINDS
    modalities: tuple[str, ...] = MODALITIES
    max_angle_deg: float = 60.0
    deform: DeformConfig = field(default_factory=DeformConfig)
    shading: ShadeConfig = field(default_factory=ShadeConfig)

    def __post_init__(self):
        super().__post_init__()
        bad = [k for k in self.kinds if k not in PAIR_KINDS]
        if bad or not self.kinds:
            raise ValueError(f"pair kinds must be among {', '.join(PAIR_KINDS)}")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ValueError(f"modalities must be among {', '.join(MODALITIES)}")
        if self.camera.size < 16:
            raise ValueError(f"--size must be at least 16 pixels, got {self.camera.size}")
        if self.shading.renderer not in RENDERERS:
            raise ValueError(f"shading renderer must be one of {', '.join(RENDERERS)}, got {self.shading.renderer!r}")
        if self.shading.materials not in MATERIALS:
            raise ValueError(f"materials must be one of {', '.join(MATERIALS)}, got {self.shading.materials!r}")
        if self.pairs < 1 or self.camera.views < 2:
            raise ValueError("need at least 1 pair per shape and 2 views per shape")
        if not 0 <= self.max_angle_deg <= 180:
            raise ValueError(f"the largest angle between a pair's views must lie in [0, 180] degrees, "
                             f"got {self.max_angle_deg}")


class ShapeRenders(ShapeViews):
    """A shape's lines and G-buffers from each base camera, made on first use."""

    def __init__(self, shape, cameras: list[Camera], drawing: DrawConfig):
        super().__init__(shape, cameras, drawing)
        self._gbuffers: dict[int, object] = {}

    def gbuffer(self, i: int):
        if i not in self._gbuffers:
            from sketchgen.render.gbuffer import get_renderer

            self._gbuffers[i] = get_renderer().render(self.shape.trimesh, self.cameras[i], normals=False)
        return self._gbuffers[i]

    def keypoints(self, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ids (K,), points (K, 3), xy (K, 2), visible (K,)) of the shape's keypoints in ``camera``."""
        from sketchgen.render.visibility import project_points

        kp = self.shape.keypoints
        if len(kp) == 0:
            return np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, 2)), np.zeros(0, bool)
        pts = self.shape.keypoint_points()
        proj = project_points(self.shape.trimesh, camera, pts, faces=kp.face, prepared=self.prepared)
        return kp.semantic_id, pts, proj.xy, proj.visible


_APPEARANCES: dict[int, tuple] = {}  # id(shape) -> (shape, appearance, notes); the shape keeps the id alive


def shape_look(shape):
    """(Appearance or None, notes) of a PartMesh's own materials (``ingest.materials``), read once."""
    from sketchgen.ingest.materials import shape_appearance

    key = id(shape)
    if key not in _APPEARANCES:
        if len(_APPEARANCES) > 8:  # a unit touches a shape and a partner
            _APPEARANCES.clear()
        _APPEARANCES[key] = (shape, *shape_appearance(shape))
    return _APPEARANCES[key][1:]


def shaded_image(renders: ShapeRenders, i: int, camera: Camera, rng: np.random.Generator, config: ShadeConfig,
                 problems: Counter | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB "photo" side A of base view ``i`` of ``renders`` seen by ``camera``, drawn by
    the shader ``config.renderer`` names (``render.shading``, ``render.photo``), with the shape's own
    materials (``shape_look``) and the user's background photos (``datagen.backgrounds``) where the config
    asks for them. problems: where the photo renderer counts what it could not use of the shape's files
    (a missing texture: the material's colour instead), one line each naming the file."""
    from sketchgen.render.shading import shade_gbuffer, shaded_render

    if config.renderer == "pyrender":
        return shaded_render(renders.shape.trimesh, camera, rng, config)
    if config.renderer == "gbuffer":
        return shade_gbuffer(renders.shape, renders.gbuffer(i), rng, config)
    from sketchgen.render.photo import render_photo

    appearance, notes = shape_look(renders.shape) if config.materials == "own" else (None, [])
    if problems is not None:
        for note in notes:
            problems[note] += 1
    background = None
    if config.background_files:
        from sketchgen.datagen.backgrounds import load_background

        name = config.background_files[int(rng.integers(len(config.background_files)))]
        background = load_background(config.backgrounds, name, max(camera.width, camera.height))
    return render_photo(renders.shape, renders.gbuffer(i), rng, config.photo, appearance=appearance,
                        background=background, prepared=renders.prepared)


def _angle(a: Camera, b: Camera) -> float:
    """Degrees between the directions from the origin to the two cameras."""
    da, db = a.position / np.linalg.norm(a.position), b.position / np.linalg.norm(b.position)
    return float(np.degrees(np.arccos(np.clip(np.dot(da, db), -1.0, 1.0))))


def _near_view(cams: list[Camera], i: int, max_angle: float, rng: np.random.Generator, *,
               allow_same: bool) -> int | None:
    """B's view among ``cams`` for A's view ``i``: a random one within ``max_angle`` degrees, or None."""
    angles = np.array([_angle(cams[i], c) for c in cams])
    ok = np.flatnonzero(angles <= max_angle)
    if not allow_same:
        ok = ok[ok != i]
    return int(ok[rng.integers(len(ok))]) if len(ok) else None


def _keypoints_json(ids, points, xy, visible) -> list[dict]:
    return [{"id": int(k), "point": [float(c) for c in p], "xy": [float(c) for c in q], "visible": bool(v)}
            for k, p, q, v in zip(ids, points, xy, visible)]


def _png(image: np.ndarray) -> bytes:
    # shaded images are RGB; OpenCV writes BGR
    return encode_png(image[..., ::-1] if image.ndim == 3 else image)


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _drawn(renders: ShapeRenders, i: int, camera: Camera, style: str, rng, width: float):
    """(StrokeArrays, the style object) of base view i of ``renders`` seen by ``camera`` in ``style``."""
    return draw_styled(renders.view(i), camera, style, rng, width, renders.shape.face_labels)


def _drawn_mask(mask: np.ndarray, drawer) -> np.ndarray:
    """The object mask of a drawing drawn by ``drawer`` (a style): moved with its strokes."""
    return mask if isinstance(drawer, CleanStyle) else restyle_mask(mask, drawer.displace)


@dataclass(frozen=True)
class UnitRenders:
    """What one unit draws from: its shape (``own``) and, where one loads and can correspond, a partner
    shape of its category and split (``other``; ``no_partner`` says why there is none), both seen from
    the unit's base cameras; ``order``: (V,) the base view each pair takes as A, cycled."""

    own: ShapeRenders
    other: ShapeRenders | None
    cameras: list[Camera]
    order: np.ndarray
    no_partner: str


@dataclass(frozen=True)
class ImageA:
    """Image A of a pair: its strokes (None where A is shaded: ``image``) and the style that drew them
    (``drawer``: a deformed B is drawn from them), what moved the positions of A's image (``shown``: the
    drawer, or no style for a shaded A), its (H, W) bool object mask and its keypoints as A's camera sees
    them, before any style moves them: (ids (K,), points (K, 3), xy (K, 2) px, visible (K,))."""

    strokes: object  # render.strokearrays.StrokeArrays | None
    drawer: object
    image: np.ndarray | None
    shown: object
    mask: np.ndarray
    keypoints: tuple

    def keypoints_json(self) -> list[dict]:
        """A's keypoints where A's image shows them."""
        ids, points, xy, visible = self.keypoints
        return _keypoints_json(ids, points, self.shown.displace(xy), visible)


@dataclass(frozen=True)
class ImageB:
    """Image B of a pair and how A maps onto it: B's strokes, the (H, W, 2) float32 ``flow`` from A's pixel
    centres in pixels (NaN: no match), B's (H, W) uint8 object mask (255 on the object), its keypoints, its
    side of the sample's json (shape, category, camera) and the sample's ``extra`` records (the
    deformation, or the shapes' correspondence)."""

    strokes: object  # render.strokearrays.StrokeArrays
    flow: np.ndarray
    mask: np.ndarray
    keypoints: tuple
    side: dict
    extra: dict


@one_blas_thread
def unit_samples(unit: WorkUnit, config: PairConfig, failures: list, only: int | None = None) -> Iterator[dict]:
    """The pair samples of one shape, yielded one at a time as they are made; the failures met are
    appended to ``failures`` (dicts ``{"shape", "reason", "count"}``) when the generator is exhausted.

    Pair ``index`` draws every random choice from ``unit.sample_rng(seed, index)`` (the cameras, the
    partner shape and the order in which pairs take their A view from the unit's generator), so
    ``only=index`` builds that one sample alone, byte-identical to the one in the full unit
    (``datagen.regenerate``). Pair ``index`` takes A's view ``order[index % views]``: no two pairs of a unit
    share A's view while there are views left, so a unit never holds the same pair twice (drawn
    independently, 10 of the demo's 360 pairs were byte-identical copies of another of their unit)."""
    from sketchgen.render.raster import compile_kernels

    compile_kernels()  # a worker draws two drawings a pair, unit after unit: compiled (the same pixels)
    unit_renders = _unit_renders(unit, config)
    problems = Counter()
    for index in range(config.pairs):
        if only is not None and only != index:
            continue
        sample = made_or_counted(lambda: _sample(unit_renders, unit, config, index, problems), problems)
        if sample is not None:
            yield sample
    failures.extend(failure_rows(unit.shape_id, problems))


def _unit_renders(unit: WorkUnit, config: PairConfig) -> UnitRenders:
    """The unit's shape, its partner and base cameras, drawn from the unit's generator in that order, and
    the order in which pairs take A's view."""
    from sketchgen.datagen.flow import partner_trouble

    rng = unit.rng(config.seed)
    shapes, _ = config_shapes(config)
    shape = shapes[unit.shape_id]
    partner_ids = [p for p in unit.partners if p in shapes]
    # None when the partner's mesh does not load (its own unit reports why)
    partner = shapes.get(partner_ids[int(rng.integers(len(partner_ids)))]) if partner_ids else None
    no_partner = "the partner shape did not load" if partner_ids else "no other shape of the category in the split"
    if partner is not None and "shapes" in config.kinds:
        trouble = partner_trouble(shape, partner)
        if trouble:  # every point's confidence is 0: no shapes pair can be made
            partner, no_partner = None, trouble
    cams = base_cameras(config.camera, rng)
    order = rng.permutation(len(cams))  # A's view of each pair, cycled: every view before any twice
    return UnitRenders(own=ShapeRenders(shape, cams, config.drawing),
                       other=ShapeRenders(partner, cams, config.drawing) if partner is not None else None,
                       cameras=cams, order=order, no_partner=no_partner)


def _sample(unit_renders: UnitRenders, unit: WorkUnit, config: PairConfig, index: int, problems: Counter) -> dict:
    """Pair ``index``: its kind and modality drawn, A from base view ``order[index % views]``, then B; the
    photo renderer counts what it could not use in ``problems``. Raises NotMade when the pair cannot be made."""
    srng = unit.sample_rng(config.seed, index)
    style = pick_style(config.style, srng)
    kind = config.kinds[int(srng.integers(len(config.kinds)))]
    if kind == "shapes" and unit_renders.other is None:  # counted, not replaced by another kind
        raise NotMade("not-made", kind, unit_renders.no_partner)
    modality = config.modalities[int(srng.integers(len(config.modalities)))]
    shaded = modality == "sketch-shaded"
    i = int(unit_renders.order[index % len(unit_renders.cameras)])
    own, cam_a = unit_renders.own, unit_renders.cameras[i]
    if not own.gbuffer(i).mask.any():
        raise NotMade("dropped", kind, "shape not in view")
    a = _image_a(own, i, cam_a, kind, shaded, style, srng, config, problems)
    if kind == "deform":
        b = _deformed_b(a, own, cam_a, shaded, srng, config)
    else:
        b = _viewed_b(a, unit_renders, i, kind, style, srng, config)
    if not np.isfinite(b.flow[..., 0]).any():
        raise NotMade("dropped", kind, "no pixel of A visible in B")
    records = [b.strokes] if shaded else [a.strokes, b.strokes]
    drawn = draw_strokes(records, cam_a.width, cam_a.height)
    members = {"b.png": _png(drawn[-1]), strokes_key("b.png"): b.strokes.to_npz()}
    image_a = a.image
    if not shaded:
        image_a = drawn[0]
        members[strokes_key("a.png")] = a.strokes.to_npz()
    shape = own.shape
    side_a = {"shape": shape.shape_id, "category": shape.category, "camera": cam_a.to_json(),
              "keypoints": a.keypoints_json()}
    side_b = {**b.side, "keypoints": _keypoints_json(*b.keypoints)}
    record = {"kind": "pair", "pair_kind": kind, "modality": modality, "split": unit.split, "style": style,
              "a": side_a, "b": side_b, **b.extra}
    return {"__key__": sample_key(unit.shape_id, unit.unit, index),
            "json": json.dumps(record, sort_keys=True),
            "a.png": _png(image_a), "flow.npy": _npy(b.flow),
            "amask.png": _png(a.mask.astype(np.uint8) * 255), "bmask.png": _png(b.mask), **members}


def _image_a(own: ShapeRenders, i: int, cam_a: Camera, kind: str, shaded: bool, style: str,
             srng: np.random.Generator, config: PairConfig, problems: Counter) -> ImageA:
    """A: base view ``i`` of the unit's shape, drawn in the sample's ``style``, or shaded."""
    # A's strokes in the sample's style (also the source of a deformed B when A is shaded; a shaded
    # A of another kind needs none, but its style's seed is drawn all the same)
    if shaded and kind != "deform":
        srng.integers(0, 2**63 - 1)
        strokes, drawer = None, CleanStyle()
    else:
        strokes, drawer = _drawn(own, i, cam_a, style, srng, config.drawing.width)
    image = shaded_image(own, i, cam_a, srng, config.shading, problems) if shaded else None
    shown = CleanStyle() if shaded else drawer  # what moved the positions of A's image
    mask = own.gbuffer(i).mask
    return ImageA(strokes, drawer, image, shown, mask if shaded else _drawn_mask(mask, drawer),
                  own.keypoints(cam_a))


def _deformed_b(a: ImageA, own: ShapeRenders, cam_a: Camera, shaded: bool, srng: np.random.Generator,
                config: PairConfig) -> ImageB:
    """B of a ``deform`` pair: A's drawn strokes moved by a random deformation (with their 3D points,
    offsets and widths), the flow exact where B lies in the frame."""
    width, height = cam_a.width, cam_a.height
    deformation = random_deformation(srng, width, height, config.deform)
    strokes = a.strokes.moved(deformation.apply(a.strokes.xy.astype(np.float64)))
    if shaded:  # the shaded A is unstyled: its pixel p is drawn in B at deform(style(p))
        centres = pixel_centres(width, height)[a.mask.ravel()]
        flow = np.full((height, width, 2), np.nan)
        flow[a.mask] = deformation.apply(a.drawer.displace(centres)) - centres
        mask = deformation.warp_mask(_drawn_mask(a.mask, a.drawer))  # a shaded A's mask: the G-buffer's
    else:
        flow = deformation.flow(a.mask)
        mask = deformation.warp_mask(a.mask)
    target = flow + pixel_centres(width, height).reshape(height, width, 2)
    with np.errstate(invalid="ignore"):
        inside = (target[..., 0] >= 0) & (target[..., 0] < width) & (target[..., 1] >= 0) & (target[..., 1] < height)
    flow[~inside] = np.nan
    ids, pts, kxy, kvis = a.keypoints
    kxy_b = deformation.apply(a.drawer.displace(kxy)) if len(ids) else np.zeros((0, 2))
    kin = (kxy_b[:, 0] >= 0) & (kxy_b[:, 0] < width) & (kxy_b[:, 1] >= 0) & (kxy_b[:, 1] < height)
    side = {"shape": own.shape.shape_id, "category": own.shape.category, "camera": cam_a.to_json()}
    extra = {"deformation": {"matrix": deformation.matrix.tolist(), "offset": deformation.offset.tolist(),
                             "tps_src": deformation.tps.src.tolist() if deformation.tps else None,
                             "tps_dst": deformation.tps.dst.tolist() if deformation.tps else None}}
    return ImageB(strokes, flow.astype(np.float32), mask, (ids, pts, kxy_b, kvis & kin), side, extra)


def _viewed_b(a: ImageA, unit_renders: UnitRenders, i: int, kind: str, style: str, srng: np.random.Generator,
              config: PairConfig) -> ImageB:
    """B of a ``views`` pair (the unit's shape) or a ``shapes`` pair (its partner): a base view within
    ``config.max_angle_deg`` of A's, drawn in ``style``; the flow from the two G-buffers, through the
    shapes' correspondence for a ``shapes`` pair. Raises NotMade when no view is near enough."""
    from sketchgen.datagen.flow import correspondence_method

    own, cams = unit_renders.own, unit_renders.cameras
    holder = unit_renders.other if kind == "shapes" else own
    j = _near_view(cams, i, config.max_angle_deg, srng, allow_same=kind == "shapes")
    if j is None:  # --max-angle is kept: no pair rather than a wider one
        raise NotMade("not-made", kind, f"no other view within {config.max_angle_deg:g} degrees")
    cam_a, cam_b = cams[i], cams[j]
    gb_a, gb_b = own.gbuffer(i), holder.gbuffer(j)
    strokes, drawer = _drawn(holder, j, cam_b, style, srng, config.drawing.width)
    confidences: list = []
    point_map = shape_point_map(own.shape, holder.shape, min_confidence=config.min_confidence,
                                confidences=confidences) if kind == "shapes" else None
    flow = dense_flow(gb_a.depth, cam_a, gb_b.depth, cam_b, faces_a=gb_a.face_id, point_map=point_map)
    extra = {}
    if kind == "shapes":
        conf = np.concatenate(confidences) if confidences else np.zeros(0)
        kept = conf[conf >= config.min_confidence]
        extra["correspondence"] = {"method": correspondence_method(own.shape, holder.shape),
                                   "confidence": float(kept.mean()) if len(kept) else 0.0,
                                   "carried": float(len(kept) / max(len(conf), 1))}
    if not (isinstance(a.shown, CleanStyle) and isinstance(drawer, CleanStyle)):
        flow, _ = restyle_flow(flow, gb_a.mask, a.shown.displace, drawer.displace)
    mask = _drawn_mask(gb_b.mask, drawer).astype(np.uint8) * 255
    ids, pts, kxy, kvis = holder.keypoints(cam_b)
    side = {"shape": holder.shape.shape_id, "category": holder.shape.category, "camera": cam_b.to_json()}
    return ImageB(strokes, flow, mask, (ids, pts, drawer.displace(kxy), kvis), side, extra)


# (samples, failures) of one shape, every sample held in memory (datagen.execute.gathering)
build_unit = gathering(unit_samples)
