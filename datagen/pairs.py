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
(A is a shaded render with random lighting and material, ``datagen.shaded``: numpy Blinn-Phong from
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
from dataclasses import dataclass, field

import numpy as np

from sketchgen.datagen.deform import DeformConfig, random_deformation
from sketchgen.datagen.flow import dense_flow, shape_point_map
from sketchgen.datagen.plan import WorkUnit, load_shapes
from sketchgen.datagen.schema import sample_key
from sketchgen.datagen.shaded import ShadeConfig
from sketchgen.datagen.sketchviews import LineConfig, ShapeViews
from sketchgen.datagen.triplets import ViewConfig, base_cameras
from sketchgen.render.camera import Camera
from sketchgen.render.raster import encode_png, ink_to_image, segment_ink

log = logging.getLogger(__name__)

PAIR_KINDS = ("views", "shapes", "deform")
MODALITIES = ("sketch-sketch", "sketch-shaded")


@dataclass(frozen=True)
class PairConfig:
    """Everything that defines a pair dataset (the manifest records it)."""

    collection: str | None = None
    seed: int = 0
    shapes: int | None = None
    strict: bool = False  # shapes whose data is in doubt fail instead of loading with a note
    camera: ViewConfig = field(default_factory=lambda: ViewConfig(views=6, size=256))
    lines: LineConfig = field(default_factory=LineConfig)
    pairs: int = 8
    kinds: tuple[str, ...] = PAIR_KINDS
    modalities: tuple[str, ...] = MODALITIES
    max_angle_deg: float = 60.0
    deform: DeformConfig = field(default_factory=DeformConfig)
    shading: ShadeConfig = field(default_factory=ShadeConfig)

    def __post_init__(self):
        bad = [k for k in self.kinds if k not in PAIR_KINDS]
        if bad or not self.kinds:
            raise ValueError(f"pair kinds must be among {', '.join(PAIR_KINDS)}")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities:
            raise ValueError(f"modalities must be among {', '.join(MODALITIES)}")
        if self.shapes is not None and self.shapes < 1:
            raise ValueError(f"--shapes must be at least 1, got {self.shapes}")
        if self.camera.size < 16:
            raise ValueError(f"--size must be at least 16 pixels, got {self.camera.size}")
        if self.shading.renderer not in ("gbuffer", "pyrender"):
            raise ValueError(f"shading renderer must be 'gbuffer' or 'pyrender', got {self.shading.renderer!r}")
        if self.pairs < 1 or self.camera.views < 2:
            raise ValueError("need at least 1 pair per shape and 2 views per shape")


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


def _near_view(cams: list[Camera], i: int, max_angle: float, rng: np.random.Generator, *, allow_same: bool) -> int:
    angles = np.array([_angle(cams[i], c) for c in cams])
    ok = np.flatnonzero(angles <= max_angle)
    if not allow_same:
        ok = ok[ok != i]
    if len(ok):
        return int(ok[rng.integers(len(ok))])
    angles[i] = np.inf
    return int(np.argmin(angles))


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


def _side_image(renders: ShapeRenders, i: int, camera: Camera, shaded: bool, rng, config: "PairConfig") -> np.ndarray:
    if not shaded:
        return renders.view(i).image(camera, config.lines.width)
    from sketchgen.datagen.shaded import shade_gbuffer, shaded_render

    if config.shading.renderer == "pyrender":
        return shaded_render(renders.shape.trimesh, camera, rng, config.shading)
    return shade_gbuffer(renders.shape, renders.gbuffer(i), rng, config.shading)


def build_unit(unit: WorkUnit, config: PairConfig):
    """The pair samples of one shape and the failures met, as (samples, failures)."""
    rng = unit.rng(config.seed)
    shapes, _ = load_shapes(config.collection, strict=config.strict)
    shape = shapes[unit.shape_id]
    partner_ids = [p for p in unit.partners if p in shapes]
    # None when the partner's mesh does not load (its own unit reports why)
    partner = shapes.get(partner_ids[int(rng.integers(len(partner_ids)))]) if partner_ids else None
    cams = base_cameras(config.camera, rng)
    own = ShapeRenders(shape, cams, config.lines)
    other = ShapeRenders(partner, cams, config.lines) if partner is not None else None
    width = config.lines.width
    samples, problems = [], Counter()
    for index in range(config.pairs):
        kind = config.kinds[int(rng.integers(len(config.kinds)))]
        if kind == "shapes" and other is None:
            kind = "views"
            problems["no partner shape: a views pair instead"] += 1
        modality = config.modalities[int(rng.integers(len(config.modalities)))]
        shaded = modality == "sketch-shaded"
        i = int(rng.integers(len(cams)))
        cam_a = cams[i]
        gb_a = own.gbuffer(i)
        if not gb_a.mask.any():
            problems["shape not in view"] += 1
            continue
        image_a = _side_image(own, i, cam_a, shaded, rng, config)
        kp_a = own.keypoints(cam_a)
        extra = {}
        if kind == "deform":
            deformation = random_deformation(rng, cam_a.width, cam_a.height, config.deform)
            view = own.view(i)
            xy_b = deformation.apply(cam_a.world_to_pixels(view.vertices)[0])
            image_b = ink_to_image(segment_ink(xy_b[view.seg_a], xy_b[view.seg_b], view.seg_w[:, 0] * width,
                                               view.seg_w[:, 1] * width, cam_a.width, cam_a.height))
            flow = deformation.flow(gb_a.mask)
            target = flow + _centres(cam_a)
            with np.errstate(invalid="ignore"):
                inside = (target[..., 0] >= 0) & (target[..., 0] < cam_a.width) & \
                         (target[..., 1] >= 0) & (target[..., 1] < cam_a.height)
            flow[~inside] = np.nan
            flow = flow.astype(np.float32)
            mask_b = deformation.warp_mask(gb_a.mask)
            kxy_b = deformation.apply(kp_a[2]) if len(kp_a[0]) else np.zeros((0, 2))
            kin = (kxy_b[:, 0] >= 0) & (kxy_b[:, 0] < cam_a.width) & (kxy_b[:, 1] >= 0) & (kxy_b[:, 1] < cam_a.height)
            kp_b = (kp_a[0], kp_a[1], kxy_b, kp_a[3] & kin)
            side_b = {"shape": shape.shape_id, "category": shape.category, "camera": cam_a.to_json()}
            extra["deformation"] = {"matrix": deformation.matrix.tolist(), "offset": deformation.offset.tolist(),
                                    "tps_src": deformation.tps.src.tolist() if deformation.tps else None,
                                    "tps_dst": deformation.tps.dst.tolist() if deformation.tps else None}
        else:
            holder = other if kind == "shapes" else own
            j = _near_view(cams, i, config.max_angle_deg, rng, allow_same=kind == "shapes")
            cam_b = cams[j]
            gb_b = holder.gbuffer(j)
            image_b = holder.view(j).image(cam_b, width)
            point_map = shape_point_map(shape, holder.shape) if kind == "shapes" else None
            flow = dense_flow(gb_a.depth, cam_a, gb_b.depth, cam_b, faces_a=gb_a.face_id, point_map=point_map)
            mask_b = gb_b.mask.astype(np.uint8) * 255
            kp_b = holder.keypoints(cam_b)
            side_b = {"shape": holder.shape.shape_id, "category": holder.shape.category, "camera": cam_b.to_json()}
        if not np.isfinite(flow[..., 0]).any():
            problems["no pixel of A visible in B"] += 1
            continue
        side_a = {"shape": shape.shape_id, "category": shape.category, "camera": cam_a.to_json(),
                  "keypoints": _keypoints_json(*kp_a)}
        side_b["keypoints"] = _keypoints_json(*kp_b)
        record = {"kind": "pair", "pair_kind": kind, "modality": modality, "split": unit.split,
                  "a": side_a, "b": side_b, **extra}
        samples.append({"__key__": sample_key(unit.shape_id, unit.unit, index),
                        "json": json.dumps(record, sort_keys=True),
                        "a.png": _png(image_a), "b.png": _png(image_b), "flow.npy": _npy(flow),
                        "amask.png": _png(gb_a.mask.astype(np.uint8) * 255), "bmask.png": _png(mask_b)})
    failures = [{"shape": unit.shape_id, "reason": reason, "count": n} for reason, n in sorted(problems.items())]
    return samples, failures


def _centres(camera: Camera) -> np.ndarray:
    """(H, W, 2) float64 pixel centres."""
    ys, xs = np.mgrid[0:camera.height, 0:camera.width]
    return np.stack([xs + 0.5, ys + 0.5], axis=-1)
