"""Export a pair dataset in the layout SFNet's training and evaluation code reads.

SFNet (Lee, Kim, Ponce, Ham; CVPR 2019) trains on single images with foreground masks, as two ``.npy``
arrays (its ``custom_dataset.Pascal_Seg_Synth``: image ``i`` is ``Image.fromarray(images[i])``, its mask
``Image.fromarray(masks[i])``, made a tensor by ``ToTensor`` (so divided by 255) and kept where above
0.1), and evaluates on PF-Pascal's CSVs (``custom_dataset.PF_Pascal``, which reads 8 columns by
position). Written under ``out``, with the names of SFNet's defaults so that ``out`` can be its
``data/`` folder::

    training_data/VOC2012_seg_img.npy   (N, S, S, 3) uint8 RGB: A and B of every train-split pair,
                                        each distinct image once
    training_data/VOC2012_seg_msk.npy   (N, S, S) uint8 foreground masks, 255 object, 0 background
    PF_Pascal/bbox_val_pairs_pf_pascal.csv    val-split pairs
    PF_Pascal/bbox_test_pairs_pf_pascal.csv   test-split pairs
    PF_Pascal/images/<key>_A.png, <key>_B.png RGB PNGs named in the CSVs, relative to PF_Pascal/

CSV columns, in PF-Pascal's order: source_image, target_image, class (1-based index of the category in
sorted order), XA, YA, XB, YB (';'-joined, X the column and Y the row, pixel centres at integers:
sketchgen's (x, y) minus 0.5, as SFNet rounds them to index its grid), L_pck (the longer side of the
bounding box of the object's mask in the source image A, pixels: SFNet's "bounding_box" evaluation
compares its estimates with A's points within alpha * L_pck). Points: the pair's ``export_psc.pair_points``
(keypoints confirmed by the flow, then flow samples), 8 per pair; a pair with fewer is left out and
counted. Every pair kind and modality is written.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import numpy as np

from sketchgen.datagen.export_psc import N_POINTS, pair_points, pair_samples, psc_columns, rgb_png, write_csv
from sketchgen.errors import InputError
from sketchgen.files import atomic_target, atomic_write

log = logging.getLogger(__name__)

TRAIN_IMAGES = "training_data/VOC2012_seg_img.npy"   # SFNet train.py's --train_image_path default
TRAIN_MASKS = "training_data/VOC2012_seg_msk.npy"    # and --train_mask_path
EVAL_CSV = {"val": "PF_Pascal/bbox_val_pairs_pf_pascal.csv",     # train.py's --valid_csv_path
            "test": "PF_Pascal/bbox_test_pairs_pf_pascal.csv"}   # eval_pascal.py's --test_csv_path
HEADER = ["source_image", "target_image", "class", "XA", "YA", "XB", "YB", "L_pck"]


def _decode(data: bytes, name: str, flags) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None:
        raise InputError(f"{name}: not a readable PNG")
    return img


def mask_extent(mask: np.ndarray) -> float:
    """Longer side in pixels of the bounding box of the (H, W) mask's nonzero pixels (0 when empty)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0
    return float(max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1))


def export_sfnet(dataset: str | Path, out: str | Path) -> dict[str, int | list[str]]:
    """Write SFNet's layout of the pair dataset ``dataset`` into ``out`` (layout in the module docstring).

    Returns counts: "images" (rows of the training arrays), "duplicates" (train images already in them),
    "val" and "test" (CSV rows), "few_points" (pairs left out of a CSV), "failures" (unreadable shards or
    samples, skipped). Raises InputError when the dataset holds no shards, no train pair, or images of
    several sizes (the arrays are one block).
    """
    import cv2

    dataset, out = Path(dataset), Path(out)
    failures: list[str] = []
    categories = sorted({m["a"]["category"] for _, _, m in pair_samples(dataset, [])})
    class_index = {c: i + 1 for i, c in enumerate(categories)}
    # pass 1: the distinct train images (by content) and their size, so the arrays are written in place
    seen: dict[str, int] = {}
    sizes = set()
    for split, sample, _ in pair_samples(dataset, []):
        if split != "train":
            continue
        for side in "ab":
            digest = hashlib.sha256(sample[f"{side}.png"] + sample[f"{side}mask.png"]).hexdigest()
            if digest not in seen:
                seen[digest] = len(seen)
                sizes.add(_decode(sample[f"{side}mask.png"], f"{sample['__key__']}.{side}mask.png",
                                  cv2.IMREAD_GRAYSCALE).shape)
    if not seen:
        raise InputError(f"{dataset}: no train-split pairs to export")
    if len(sizes) != 1:
        raise InputError(f"{dataset}: images of several sizes {sorted(sizes)}; SFNet's arrays hold one size")
    (h, w), n = sizes.pop(), len(seen)
    counts = {"images": n, "duplicates": 0, "few_points": 0}
    tables: dict[str, list[list]] = {"val": [], "test": []}
    written = set()
    with atomic_target(out / TRAIN_IMAGES) as img_tmp, atomic_target(out / TRAIN_MASKS) as msk_tmp:
        # np.save's layout, filled image by image (a set of thousands of images need not fit in memory)
        images = np.lib.format.open_memmap(img_tmp, mode="w+", dtype=np.uint8, shape=(n, h, w, 3))
        masks = np.lib.format.open_memmap(msk_tmp, mode="w+", dtype=np.uint8, shape=(n, h, w))
        for split, sample, meta in pair_samples(dataset, failures):
            key = sample["__key__"]
            if split == "train":
                for side in "ab":
                    digest = hashlib.sha256(sample[f"{side}.png"] + sample[f"{side}mask.png"]).hexdigest()
                    i = seen[digest]
                    if i in written:
                        counts["duplicates"] += 1
                        continue
                    name = f"{sample['__shard__']}: {key}.{side}"
                    images[i] = _decode(sample[f"{side}.png"], name + ".png", cv2.IMREAD_COLOR)[..., ::-1]
                    masks[i] = np.where(_decode(sample[f"{side}mask.png"], name + "mask.png",
                                                cv2.IMREAD_GRAYSCALE) > 0, 255, 0)
                    written.add(i)
                continue
            flow = np.load(io.BytesIO(sample["flow.npy"]))
            points = pair_points(meta, flow, key, N_POINTS)
            if points is None:
                counts["few_points"] += 1
                continue
            source, target = f"images/{key}_A.png", f"images/{key}_B.png"
            for name, member in ((source, "a.png"), (target, "b.png")):
                atomic_write(out / "PF_Pascal" / name, rgb_png(sample[member], f"{sample['__shard__']}: {key}.{member}")[0])
            extent = mask_extent(_decode(sample["amask.png"], f"{key}.amask.png", cv2.IMREAD_GRAYSCALE))
            tables[split].append([source, target, class_index[meta["a"]["category"]], *psc_columns(points.xy),
                                  f"{extent:.1f}"])
        if len(written) != n:  # a shard read in pass 1 failed in pass 2: do not leave zero images behind
            raise InputError(f"{dataset}: {n - len(written)} train images could not be read again")
        images.flush()
        masks.flush()
        del images, masks
    for split, rows in tables.items():
        write_csv(out / EVAL_CSV[split], HEADER, rows)
        counts[split] = len(rows)
    if counts["few_points"]:
        log.warning("%d pairs have fewer than %d correspondences and were left out", counts["few_points"], N_POINTS)
    return {**counts, "failures": failures}
