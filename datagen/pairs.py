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
from sketchgen.datagen.flow import dense_flow, pixel_centres, restyle_flow, restyle_mask, shape_point_map
from sketchgen.datagen.plan import DatasetConfig, WorkUnit, config_shapes
from sketchgen.datagen.schema import sample_key, strokes_key
from sketchgen.datagen.shaded import MATERIALS, RENDERERS, ShadeConfig, shaded_image
from sketchgen.datagen.sketchviews import LineConfig, ShapeViews, ViewConfig, base_cameras, draw_styled
from sketchgen.datagen.stylemix import pick_style
from sketchgen.render.camera import Camera
from sketchgen.render.raster import encode_png
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

    def __init__(self, shape, cameras: list[Camera], lines: LineConfig):
        super().__init__(shape, cameras, lines)
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


def build_unit(unit: WorkUnit, config: PairConfig, only: int | None = None) -> tuple[list[dict], list[dict]]:
    """``unit_samples`` gathered: (samples, failures) of one shape, every sample held in memory (a run
    streams ``unit_samples`` to its shard instead)."""
    from sketchgen.datagen.execute import gather

    return gather(unit_samples, unit, config, only=only)


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
    from sketchgen.datagen.flow import correspondence_method, partner_trouble

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
    own = ShapeRenders(shape, cams, config.lines)
    other = ShapeRenders(partner, cams, config.lines) if partner is not None else None
    width = config.lines.width
    problems = Counter()
    for index in range(config.pairs):
        if only is not None and only != index:
            continue
        srng = unit.sample_rng(config.seed, index)
        style = pick_style(config.style, srng)
        kind = config.kinds[int(srng.integers(len(config.kinds)))]
        if kind == "shapes" and other is None:  # counted, not replaced by another kind
            problems[("not-made", kind, no_partner)] += 1
            continue
        modality = config.modalities[int(srng.integers(len(config.modalities)))]
        shaded = modality == "sketch-shaded"
        i = int(order[index % len(cams)])
        cam_a = cams[i]
        gb_a = own.gbuffer(i)
        if not gb_a.mask.any():
            problems[("dropped", kind, "shape not in view")] += 1
            continue
        # A's strokes in the sample's style (also the source of a deformed B when A is shaded; a shaded
        # A of another kind needs none, but its style's seed is drawn all the same)
        if shaded and kind != "deform":
            srng.integers(0, 2**63 - 1)
            record_a, drawer_a = None, CleanStyle()
        else:
            record_a, drawer_a = _drawn(own, i, cam_a, style, srng, width)
        image_a = shaded_image(own, i, cam_a, srng, config.shading, problems) if shaded else None
        shown_a = CleanStyle() if shaded else drawer_a  # what moved the positions of A's image
        ids, pts, kxy, kvis = own.keypoints(cam_a)
        kp_a = (ids, pts, shown_a.displace(kxy), kvis)
        mask_a = gb_a.mask if shaded else _drawn_mask(gb_a.mask, drawer_a)
        extra = {}
        record_b = None
        if kind == "deform":
            deformation = random_deformation(srng, cam_a.width, cam_a.height, config.deform)
            # B: A's drawn strokes moved by the deformation (with their 3D points, offsets and widths)
            record_b = record_a.moved(deformation.apply(record_a.xy.astype(np.float64)))
            if shaded:  # the shaded A is unstyled: its pixel p is drawn in B at deform(style(p))
                centres = pixel_centres(cam_a.width, cam_a.height)[mask_a.ravel()]
                flow = np.full((cam_a.height, cam_a.width, 2), np.nan)
                flow[mask_a] = deformation.apply(drawer_a.displace(centres)) - centres
                mask_b = deformation.warp_mask(_drawn_mask(gb_a.mask, drawer_a))
            else:
                flow = deformation.flow(mask_a)
                mask_b = deformation.warp_mask(mask_a)
            target = flow + pixel_centres(cam_a.width, cam_a.height).reshape(cam_a.height, cam_a.width, 2)
            with np.errstate(invalid="ignore"):
                inside = (target[..., 0] >= 0) & (target[..., 0] < cam_a.width) & \
                         (target[..., 1] >= 0) & (target[..., 1] < cam_a.height)
            flow[~inside] = np.nan
            flow = flow.astype(np.float32)
            kxy_b = deformation.apply(drawer_a.displace(kxy)) if len(ids) else np.zeros((0, 2))
            kin = (kxy_b[:, 0] >= 0) & (kxy_b[:, 0] < cam_a.width) & (kxy_b[:, 1] >= 0) & (kxy_b[:, 1] < cam_a.height)
            kp_b = (ids, pts, kxy_b, kvis & kin)
            side_b = {"shape": shape.shape_id, "category": shape.category, "camera": cam_a.to_json()}
            extra["deformation"] = {"matrix": deformation.matrix.tolist(), "offset": deformation.offset.tolist(),
                                    "tps_src": deformation.tps.src.tolist() if deformation.tps else None,
                                    "tps_dst": deformation.tps.dst.tolist() if deformation.tps else None}
        else:
            holder = other if kind == "shapes" else own
            j = _near_view(cams, i, config.max_angle_deg, srng, allow_same=kind == "shapes")
            if j is None:  # --max-angle is kept: no pair rather than a wider one
                problems[("not-made", kind, f"no other view within {config.max_angle_deg:g} degrees")] += 1
                continue
            cam_b = cams[j]
            gb_b = holder.gbuffer(j)
            record_b, drawer_b = _drawn(holder, j, cam_b, style, srng, width)
            confidences: list = []
            point_map = shape_point_map(shape, holder.shape, min_confidence=config.min_confidence,
                                        confidences=confidences) if kind == "shapes" else None
            flow = dense_flow(gb_a.depth, cam_a, gb_b.depth, cam_b, faces_a=gb_a.face_id, point_map=point_map)
            if kind == "shapes":
                conf = np.concatenate(confidences) if confidences else np.zeros(0)
                kept = conf[conf >= config.min_confidence]
                extra["correspondence"] = {"method": correspondence_method(shape, holder.shape),
                                           "confidence": float(kept.mean()) if len(kept) else 0.0,
                                           "carried": float(len(kept) / max(len(conf), 1))}
            if not (isinstance(shown_a, CleanStyle) and isinstance(drawer_b, CleanStyle)):
                flow, _ = restyle_flow(flow, gb_a.mask, shown_a.displace, drawer_b.displace)
            mask_b = _drawn_mask(gb_b.mask, drawer_b).astype(np.uint8) * 255
            ids_b, pts_b, kxy_b, kvis_b = holder.keypoints(cam_b)
            kp_b = (ids_b, pts_b, drawer_b.displace(kxy_b), kvis_b)
            side_b = {"shape": holder.shape.shape_id, "category": holder.shape.category, "camera": cam_b.to_json()}
        if not np.isfinite(flow[..., 0]).any():
            problems[("dropped", kind, "no pixel of A visible in B")] += 1
            continue
        records = [record_b] if shaded else [record_a, record_b]
        drawn = draw_strokes(records, cam_a.width, cam_a.height)
        image_b = drawn[-1]
        members = {"b.png": _png(image_b), strokes_key("b.png"): record_b.to_npz()}
        if not shaded:
            image_a = drawn[0]
            members[strokes_key("a.png")] = record_a.to_npz()
        side_a = {"shape": shape.shape_id, "category": shape.category, "camera": cam_a.to_json(),
                  "keypoints": _keypoints_json(*kp_a)}
        side_b["keypoints"] = _keypoints_json(*kp_b)
        record = {"kind": "pair", "pair_kind": kind, "modality": modality, "split": unit.split, "style": style,
                  "a": side_a, "b": side_b, **extra}
        yield {"__key__": sample_key(unit.shape_id, unit.unit, index),
               "json": json.dumps(record, sort_keys=True),
               "a.png": _png(image_a), "flow.npy": _npy(flow),
               "amask.png": _png(mask_a.astype(np.uint8) * 255), "bmask.png": _png(mask_b), **members}
    failures.extend({"shape": unit.shape_id, "reason": reason, "count": n, "kind": kind, "outcome": outcome}
                    for (outcome, kind, reason), n in sorted(problems.items()))
