"""Evaluation on held-out shapes: descriptors by matching accuracy, warps by PCK, against baselines.

Descriptors are evaluated on the pair samples of a split (sketch-sketch pairs; the flow gives the true
correspondence of every pixel). In each pair, anchors are stroke pixels of drawing A, thinned to one per
``anchor_px`` cell, whose true correspondence (A's position plus the flow) lies within ``on_stroke_px``
of a stroke of drawing B (a point a person could mark in both drawings); candidates are B's stroke
pixels thinned to one per ``candidate_px`` cell. Each anchor is matched to the candidate with the
nearest descriptor; the error is that candidate's distance to the true correspondence, and acc@d is the
fraction of anchors with error <= d px. Network descriptors see SketchZooms' three zoom windows of each
point (half-sizes ``sketchzooms_factors() x H / 2`` px of the 256 px drawing, the triplets' framing),
re-rasterised from the drawing's stored strokes (``train.zooms.StrokeZooms``) at the size and stroke width
of the zooms the network was trained on (``zoom_drawing``: a triplet set's, or a pair set's points');
Shape Context and HOG see the drawing itself.

Warps are evaluated on the pairs' keypoints visible in both images (or, for pairs without keypoints, 8
pixels of A's object with valid flow, seeded), in both directions, by PCK with alpha x image size (PSC)
and alpha x the keypoints' bounding box (SFNet).

``evaluate_run`` evaluates a training run folder as ``sketchgen eval`` and ``sketchgen demo`` do (the
metrics, their details and a plot); the commands print what it returns.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from tqdm import tqdm

from sketchgen.datagen.shards import read_shard
from sketchgen.errors import InputError
from sketchgen.render.views import sketchzooms_factors
from sketchgen.train.baselines import affine_grid, hog_descriptors, identity_transfer, shape_context_descriptors
from sketchgen.train.descriptor import describe
from sketchgen.train.images import to_ink
from sketchgen.train.config import TrainConfig
from sketchgen.train.loop import seed_everything
from sketchgen.train.models import build_model, input_channels
from sketchgen.train.runs import load_run
from sketchgen.train.metrics import (DEFAULT_THRESHOLDS_PX, accuracy_curve, matching_errors, mean_records,
                           nearest_neighbours, pck_both_refs)
from sketchgen.datagen.manifest import read_dataset_manifest
from sketchgen.train.pairs import decode_pair_arrays, network_inputs, pair_domains, resize_flow
from sketchgen.train.plots import bar_plot, curve_plot, write_png
from sketchgen.train.points import correspondence_points
from sketchgen.train.shards import dataset_kind, list_shards
from sketchgen.train.triplets import triplet_stream
from sketchgen.train.warp import sample_grid_at
from sketchgen.train.zooms import TRIPLET_DRAWING, StrokeZooms, zoom_drawing_of

log = logging.getLogger(__name__)

DESCRIPTOR_METHODS = ("model", "shape_context", "hog", "untrained")
WARP_METHODS = ("model", "identity", "affine")


def iter_pairs(root, split: str = "test", *, limit: int | None = None, sketch_only: bool = False,
               rgb: bool = False):
    """Decoded pair samples of a split (stored resolution), at most ``limit``; ``rgb``: with their RGB
    images (``decode_pair_arrays``)."""
    n = 0
    for shard in list_shards(root, split):
        for sample in read_shard(shard):
            try:
                pair = decode_pair_arrays(sample, rgb=rgb)
            except InputError as exc:
                raise InputError(f"{shard}: sample {sample.get('__key__')}: {exc}") from None
            if sketch_only and pair["meta"].get("modality", "sketch-sketch") != "sketch-sketch":
                continue
            yield pair
            n += 1
            if limit is not None and n >= limit:
                return


def split_shapes(root, split: str) -> set[str]:
    """Shape ids of a dataset's ``split``, from its manifest's shard list (empty without a manifest)."""
    try:
        shards = read_dataset_manifest(root, required=False).get("shards", [])
    except InputError:
        return set()
    return {s["shape"] for s in shards if isinstance(s, dict) and "shape" in s
            and str(s.get("shard", "")).startswith(f"{split}/")}


def trained_on(cfg: TrainConfig, data, split: str) -> list[str]:
    """Shapes of ``data``'s ``split`` that a run trained on (its own data's train split), sorted.

    Splits are drawn per build: a shape can be a test shape of one build and a train shape of another
    built with other options (``--shapes``), so a run evaluated on another build's test split may have
    seen some of its shapes."""
    return sorted(split_shapes(cfg.data, "train") & split_shapes(data, split))


def zoom_drawing(cfg: TrainConfig) -> tuple[int, float]:
    """(image size px, stroke width px) at which the zooms a descriptor trained on were drawn: as its run
    recorded (``TrainConfig.drawing``), else (runs from before it was recorded) from its data's manifest."""
    if cfg.recorded.drawing:
        return int(cfg.recorded.drawing[0]), float(cfg.recorded.drawing[1])
    try:
        return zoom_drawing_of(cfg.data, cfg.network.size)
    except InputError:
        return TRIPLET_DRAWING


def evaluate_descriptor(model, cfg: TrainConfig, data, split: str = "test", *, max_pairs: int = 20,
                        anchors: int = 40, thresholds=DEFAULT_THRESHOLDS_PX, seed: int = 0,
                        device: str = "cpu") -> dict:
    """Matching accuracy of the trained descriptor, Shape Context, HOG and the untrained network.

    Returns {"methods": {name: {"acc@10px": ..., ...}}, "thresholds_px": [...], "curves": {name: [...]},
    "pairs": P, "anchors": N, "by_kind": {pair_kind: {name: {"acc@10px": ..., ...}}}}.
    """
    seed_everything(cfg.run.seed)  # the untrained network is the trained one's initial state
    untrained = build_model(cfg.with_settings(weights=None)).to(device).eval()
    model = model.to(device).eval()
    rng = np.random.default_rng(seed)
    native, width = zoom_drawing(cfg)
    errors: dict[str, list[np.ndarray]] = {m: [] for m in DESCRIPTOR_METHODS}
    by_kind: dict[str, dict[str, list[np.ndarray]]] = {}
    n_pairs = 0
    for pair in tqdm(iter_pairs(data, split, limit=max_pairs, sketch_only=True), desc="eval descriptor",
                     total=max_pairs, leave=False):
        a_xy, true_xy, cands = correspondence_points(pair, rng, anchors=anchors)
        if len(a_xy) == 0 or len(cands) == 0:
            continue
        n_pairs += 1
        h = pair["a_grey"].shape[0]
        halves = [f * h / 2.0 for f in sketchzooms_factors()]
        size = cfg.network.size
        za = StrokeZooms(pair["a_strokes"], native=native, width=width).zooms(a_xy, halves, size).to(device)
        zb = StrokeZooms(pair["b_strokes"], native=native, width=width).zooms(cands, halves, size).to(device)
        descs = {"model": (describe(model, za).cpu().numpy(), describe(model, zb).cpu().numpy()),
                 "untrained": (describe(untrained, za).cpu().numpy(), describe(untrained, zb).cpu().numpy()),
                 "shape_context": (shape_context_descriptors(pair["a"], a_xy, halves[1]),
                                   shape_context_descriptors(pair["b"], cands, halves[1])),
                 "hog": (hog_descriptors(pair["a_grey"], a_xy, halves[1]),
                         hog_descriptors(pair["b_grey"], cands, halves[1]))}
        kind = by_kind.setdefault(pair["meta"].get("pair_kind", "?"), {m: [] for m in DESCRIPTOR_METHODS})
        for name, (da, db) in descs.items():
            errs = matching_errors(cands[nearest_neighbours(da, db)], true_xy)
            errors[name].append(errs)
            kind[name].append(errs)
    if n_pairs == 0:
        raise InputError(f"{data}: no sketch-sketch pairs with matchable points in split {split!r}")
    out = {"methods": {}, "curves": {}, "thresholds_px": list(thresholds), "pairs": n_pairs,
           "anchors": int(sum(len(e) for e in errors["model"]))}
    def curve(errs: list[np.ndarray]) -> np.ndarray:
        return accuracy_curve(np.concatenate(errs), thresholds)

    def named(values: np.ndarray) -> dict[str, float]:
        return {f"acc@{t}px": float(v) for t, v in zip(thresholds, values)}

    for name, errs in errors.items():
        out["curves"][name] = [float(v) for v in curve(errs)]
        out["methods"][name] = named(curve(errs))
    out["by_kind"] = {k: {name: named(curve(errs)) for name, errs in v.items()} for k, v in sorted(by_kind.items())}
    return out


def triplet_accuracy(model, cfg: TrainConfig, split: str = "test", *, data=None, limit: int = 400,
                     device: str = "cpu") -> dict:
    """Fraction of the triplets of ``data`` (default: the descriptor's own training data; ``split``, no
    augmentation) whose anchor is nearer to its positive than to every one of its negatives (a set with
    several negatives per anchor asks more than one with one), for the trained and the
    untrained network: {"model": f, "untrained": f, "triplets": n}; {} when the split has no shards or
    the data is not a triplet set. A descriptor trained on a pair set's points is measured here on the
    triplet set's own zooms (drawn at 224 px with 1.5 px strokes, then resampled), not on zooms drawn
    like its training points."""
    data = cfg.data if data is None else data
    try:
        if dataset_kind(data) != "triplets":
            return {}
        stream = triplet_stream(data, split, size=cfg.network.size, augment=False)
        zooms = [s["zooms"] for _, s in zip(range(limit), stream)]
    except InputError:
        return {}
    if not zooms:
        return {}
    z = torch.stack(zooms).to(device)
    seed_everything(cfg.run.seed)
    untrained = build_model(cfg.with_settings(weights=None)).to(device).eval()
    out = {"triplets": len(z)}
    for name, net in (("model", model.to(device).eval()), ("untrained", untrained)):
        e = describe(net, z.flatten(0, 1)).view(*z.shape[:2], -1)
        nearest = (e[:, :1] - e[:, 2:]).norm(dim=2).min(dim=1).values
        out[name] = float(((e[:, 0] - e[:, 1]).norm(dim=1) < nearest).float().mean())
    return out


def pair_keypoints_or_flow(pair: dict, rng: np.random.Generator, n: int = 8):
    """Keypoints visible in both images, (K, 2) in A and (K, 2) in B; falls back to ``n`` object pixels
    of A with valid flow when the pair has fewer than 2."""
    if len(pair["kp_a"]) >= 2:
        return pair["kp_a"], pair["kp_b"]
    rows, cols = np.nonzero(pair["amask"] & np.isfinite(pair["flow"]).all(-1))
    if len(rows) == 0:
        return np.zeros((0, 2)), np.zeros((0, 2))
    pick = rng.choice(len(rows), min(n, len(rows)), replace=False)
    xy = np.stack([cols[pick] + 0.5, rows[pick] + 0.5], 1)
    return xy, xy + pair["flow"][rows[pick], cols[pick]]


def _transfer(grid: torch.Tensor, xy: np.ndarray, size: int) -> np.ndarray:
    pts = torch.as_tensor(xy, dtype=torch.float32).unsqueeze(0)
    return sample_grid_at(grid, pts, size, size)[0].numpy().astype(np.float64)


def warp_records(model, a: torch.Tensor, b: torch.Tensor, kp_a: np.ndarray, kp_b: np.ndarray,
                 amask=None, bmask=None, domains=(None, None)) -> dict[str, list[dict]]:
    """PCK records (one per direction) of each warp method for one pair; a, b (1, 1, S, S) ink or
    (1, 3, S, S) RGB as the model reads them, ``domains`` (A's, B's) for a per-domain encoder."""
    size = a.shape[-1]
    da, db = domains
    recs: dict[str, list[dict]] = {m: [] for m in WARP_METHODS}
    with torch.no_grad():
        grid_ab = model(b, a, db, da)[-1].cpu()  # over A: where A's points lie in B
        grid_ba = model(a, b, da, db)[-1].cpu()
        aff_ab = affine_grid(model, b, a, amask, domains=(db, da))
        aff_ba = affine_grid(model, a, b, bmask, domains=(da, db))
    for (src_kp, dst_kp, g, aff) in ((kp_a, kp_b, grid_ab, aff_ab), (kp_b, kp_a, grid_ba, aff_ba)):
        recs["model"].append(pck_both_refs(_transfer(g, src_kp, size), dst_kp, (size, size)))
        recs["identity"].append(pck_both_refs(identity_transfer(src_kp), dst_kp, (size, size)))
        recs["affine"].append(pck_both_refs(_transfer(aff, src_kp, size), dst_kp, (size, size)))
    return recs


def evaluate_warp(model, cfg: TrainConfig, data, split: str = "test", *, max_pairs: int = 40, seed: int = 0,
                  device: str = "cpu") -> dict:
    """PCK of the trained estimator, the identity warp and the global affine fitted to its features.

    Returns {"methods": {name: {"pck@0.05": ..., "pck@0.10": ..., "pck_bbox@0.05": ..., ...}},
    "pairs": P, "by_kind": {pair_kind: {name: {...}}}}.
    """
    model = model.to(device).eval()
    rng = np.random.default_rng(seed)
    records: dict[str, list[dict]] = {m: [] for m in WARP_METHODS}
    by_kind: dict[str, dict[str, list[dict]]] = {}
    n_pairs = 0
    channels = input_channels(model)
    for pair in tqdm(iter_pairs(data, split, limit=max_pairs, rgb=channels == 3), desc="eval warp",
                     total=max_pairs, leave=False):
        p = decode_resized(pair, cfg.network.size)
        kp_a, kp_b = pair_keypoints_or_flow(p, rng)
        if len(kp_a) == 0:
            continue
        n_pairs += 1
        a, b = (x[None].to(device) for x in network_inputs(p, channels))
        recs = warp_records(model, a, b, kp_a, kp_b, p["amask"], p["bmask"], pair_domains(p["meta"]))
        kind = by_kind.setdefault(f'{pair["meta"].get("pair_kind", "?")}/{pair["meta"].get("modality", "?")}',
                                  {m: [] for m in WARP_METHODS})
        for name, r in recs.items():
            records[name] += r
            kind[name] += r
    if n_pairs == 0:
        raise InputError(f"{data}: no pairs with keypoints or valid flow in split {split!r}")
    return {"methods": {m: mean_records(r) for m, r in records.items()}, "pairs": n_pairs,
            "by_kind": {k: {m: mean_records(r) for m, r in v.items()} for k, v in sorted(by_kind.items())}}


def evaluate_run(model: str, run: str | Path, data: str | Path | None, out: Path, *, split: str = "test",
                 pairs: int = 40, psc6k: str | None = None, psc6k_images: str | None = None,
                 triplets: str | None = None, device: str = "cpu", spg: str | Path | None = None,
                 spg_split: str | None = None, spg_categories: list[str] | None = None,
                 spg_methods: tuple[str, ...] | None = None, warn: Callable[[str], None] | None = None) -> dict:
    """Evaluate one training run (a ``sketchgen train`` folder) of ``model`` ("descriptor" or "warp") on
    the ``split`` of the pair set ``data`` (and, for a warp, the PSC6k test set at ``psc6k``) against the
    baselines; writes OUT/<model>.png (OUT/warp_psc6k.png) and returns {"metrics": {part: {method:
    {metric: float}}}, "details": {part: ..., "trained_on_eval_shapes": [shape id] when the run trained
    on shapes of the evaluated split}}. ``warn`` gets that case as a one-line message (default: logged).
    A descriptor is also evaluated by part-label transfer on the sketches drawn by people of SPG at ``spg``
    (``train.spg.evaluate_spg``; split ``spg_split``, default ``split``; ``spg_categories``, default the
    ones its training data covers; ``spg_methods``, default all of ``train.spg.METHODS``): part
    "descriptor_spg", {method: {category: fraction, "mean": ...}}.
    Raises InputError for a run of another model, a descriptor with neither ``data`` nor ``spg``, a
    ``triplets`` folder that is not a triplet set, or a warp with neither ``data`` nor ``psc6k``."""
    net, cfg = load_run(run, device)
    if cfg.model != model:
        raise InputError(f"{run}: this run trained a {cfg.model}, not a {model}")
    details: dict = {}
    seen = trained_on(cfg, data, split) if data is not None else []
    if seen:
        # the figures below are then not all on held-out shapes: say so, and record it with them
        (warn or log.warning)(f"{len(seen)} shapes of {data} ({split}) were training shapes of {run}: "
                              f"{', '.join(seen[:5])}{' ...' if len(seen) > 5 else ''}")
        details["trained_on_eval_shapes"] = seen
    if model == "descriptor":
        if data is None and spg is None:
            raise InputError("eval descriptor needs --data (a pair dataset) or --spg (SPG's folder)")
        if triplets is not None and (not Path(triplets).is_dir() or dataset_kind(triplets) != "triplets"):
            raise InputError(f"{triplets}: not a triplet set (--triplets wants a folder from sketchgen triplets)")
        metrics = {}
        if data is not None:
            res = evaluate_descriptor(net, cfg, data, split, max_pairs=pairs, device=device)
            res["triplet_accuracy"] = triplet_accuracy(net, cfg, split, data=triplets, device=device)
            # the same on the train split's triplets: with the test figure it tells under- from over-fitting
            res["triplet_accuracy_train"] = triplet_accuracy(net, cfg, "train", data=triplets, limit=200,
                                                             device=device)
            metrics["descriptor"] = res["methods"]
            details["descriptor"] = res
            write_png(curve_plot(res["thresholds_px"], res["curves"], f"matching accuracy, {split} split "
                                 f"({res['anchors']} points, {res['pairs']} pairs)", "d (px)", "acc@d"),
                      out / "descriptor.png")
        if spg is not None:
            from sketchgen.train.spg import evaluate_spg

            res = evaluate_spg(net, cfg, spg, spg_split or split, categories=spg_categories, device=device,
                               warn=warn, **({} if spg_methods is None else {"methods": spg_methods}))
            metrics["descriptor_spg"] = res["methods"]
            details["descriptor_spg"] = res
            write_png(bar_plot(res["methods"], list(res["methods"]["model"]),
                               f"part-label transfer on SPG {res['split']} sketches"), out / "descriptor_spg.png")
    else:
        metrics = {}
        if data is not None:
            res = evaluate_warp(net, cfg, data, split, max_pairs=pairs, device=device)
            metrics["warp"] = res["methods"]
            details["warp"] = res
            write_png(bar_plot(res["methods"], ["pck@0.05", "pck@0.10", "pck_bbox@0.05", "pck_bbox@0.10"],
                               f"warp PCK, {split} split ({res['pairs']} pairs)"), out / "warp.png")
        if psc6k is not None:
            from sketchgen.train.psc6k import evaluate_psc6k

            res = evaluate_psc6k(net, cfg.network.size, psc6k, psc6k_images, device=device)
            metrics["warp_psc6k"] = res["methods"]
            details["warp_psc6k"] = res
            write_png(bar_plot(res["methods"], ["pck@0.05", "pck@0.10", "pck_bbox@0.05", "pck_bbox@0.10"],
                               f"PSC6k PCK ({res['pairs']} pairs)"), out / "warp_psc6k.png")
        if not metrics:
            raise InputError("eval warp needs --data (a pair dataset) or --psc6k")
    return {"metrics": metrics, "details": details}


def decode_resized(pair: dict, size: int) -> dict:
    """A decoded pair (stored resolution) brought to the network's input size: images, masks, flow and
    keypoints."""
    h = pair["a_grey"].shape[0]
    if h == size:
        return pair
    s = size / h
    out = dict(pair)
    for k in ("a_grey", "b_grey", "a_rgb", "b_rgb"):
        if k in pair:
            out[k] = cv2.resize(pair[k], (size, size), interpolation=cv2.INTER_AREA)
    out["a"], out["b"] = to_ink(out["a_grey"]), to_ink(out["b_grey"])
    for k in ("amask", "bmask"):
        out[k] = cv2.resize(pair[k].astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
    out["flow"] = resize_flow(pair["flow"], size)
    out["kp_a"], out["kp_b"] = pair["kp_a"] * s, pair["kp_b"] * s
    return out


def write_json(obj, path: Path) -> None:
    import json

    from sketchgen.files import atomic_write

    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True))
