"""``sketchgen export``: each target's files checked against the contract of the client code that reads
them, as that code reads them (column order and names, file names, image sizes and modes, coordinate
conventions), on small sets. The clients are the papers' public repositories:
cogtoolslab/photo-sketch-correspondence (PSC), cvlab-yonsei/SFNet and pablo1n7/SketchZoomsDeep."""

import csv
import io
import json
import subprocess
import sys
from collections import Counter

import cv2
import numpy as np
import pytest

from sketchgen.datagen.cli import main
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.procedural import load_spec
from sketchgen.datagen.triplets import ViewConfig
from tiny_datasets import samples

SIZE = 256  # PSC's eval.py scores 256 px pairs only
# one train shape, two test shapes (shapes pairs between them) and two val shapes of another category
SHAPES = ("airplane_000", "airplane_003", "airplane_005", "table_005", "table_010")


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"version": 1, "seed": 0,
                                "shapes": [e for e in load_spec()["shapes"] if e["id"] in SHAPES]}))
    config = PairConfig(collection=str(spec), seed=5, camera=ViewConfig(views=3, size=SIZE), pairs=4)
    run_dataset(dataset="pairs", builder="sketchgen.datagen.pairs", config=config, out_dir=folder / "out",
                progress=False)
    return folder / "out"


@pytest.fixture(scope="module")
def psc_export(pair_set, tmp_path_factory):
    from sketchgen.datagen.export_psc import export_psc

    out = tmp_path_factory.mktemp("psc")
    return out, export_psc(pair_set, out)


def _rows(path):
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        return next(reader), list(reader)


def test_export_lists_its_targets_without_loading_torch_or_gl():
    code = ("import sys, contextlib, io\nfrom sketchgen.datagen.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    try:\n        main(['export', '--help'])\n"
            "    except SystemExit:\n        pass\n"
            "print('psc' in buf.getvalue(), 'torch' in sys.modules, 'OpenGL' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split()[-3:] == ["True", "False", "False"], proc.stderr


def test_export_of_a_missing_dataset_is_one_line(tmp_path, capsys):
    assert main(["export", "psc", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0] and "no shards" in err[0]


# ---- PSC: datasets/photo_sketch_dataset.py (PhotoSketchDataset), eval.py, utils/pck.py

def test_psc_layout_holds_only_sketch_photo_pairs(pair_set, psc_export):
    out, counts = psc_export
    by_key = {s["__key__"]: s for s in samples(pair_set)}
    modality = {k: json.loads(s["json"])["modality"] for k, s in by_key.items()}
    split = {k: s["__split__"] for k, s in by_key.items()}
    # eval.py and train_psc.py open <csv-path>/{train,test}_pairs_ps.csv; the dataset reads columns by name
    header, train = _rows(out / "train_pairs_ps.csv")
    assert header == ["photo", "sketch", "class", "flip"]
    listed = Counter()
    for name in ("val", "test"):
        header, rows = _rows(out / f"{name}_pairs_ps.csv")
        assert header == ["photo", "sketch", "class", "XA", "YA", "XB", "YB"]
        assert len(rows) == counts[name] and rows
        for row in rows:
            key = row[0][len("images/"):-len("_A.png")]
            assert split[key] == name and row[1] == f"images/{key}_B.png"
            listed[key] += 1
    # train: each pair twice, flip 0 and 1 (the dataset samples one sketch per unique photo)
    flips = Counter()
    for photo, sketch, cls, flip in train:
        key = photo[len("images/"):-len("_A.png")]
        assert split[key] == "train" and sketch == f"images/{key}_B.png" and cls == "1"
        flips[key] += int(flip) + 1
        listed[key] += 0
    assert set(flips.values()) == {3}
    # every sketch-photo pair is listed once; every sketch-sketch pair is skipped and counted
    photo_pairs = {k for k, m in modality.items() if m == "sketch-shaded"}
    assert set(listed) == photo_pairs and counts["few_points"] == 0
    assert counts["not_photo"] == sum(m == "sketch-sketch" for m in modality.values()) > 0
    # class: 1-based index of the category in sorted order (airplane 1, table 2)
    _, val = _rows(out / "val_pairs_ps.csv")
    assert {r[2] for r in val} == {"2"}


def test_psc_images_are_rgb_256_photo_then_sketch(pair_set, psc_export):
    from PIL import Image

    out, _ = psc_export
    by_key = {s["__key__"]: s for s in samples(pair_set)}
    _, rows = _rows(out / "test_pairs_ps.csv")
    for row in rows:
        key = row[0][len("images/"):-len("_A.png")]
        for column, member in ((row[0], "a.png"), (row[1], "b.png")):
            # PhotoSketchDataset: np.array(Image.open(...)), then ToTensor and ImageNet normalisation
            # over 3 channels
            img = np.array(Image.open(out / column))
            assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
            stored = cv2.imdecode(np.frombuffer(by_key[key][member], np.uint8), cv2.IMREAD_UNCHANGED)
            stored = stored[..., ::-1] if stored.ndim == 3 else np.repeat(stored[..., None], 3, axis=2)
            assert np.array_equal(img, stored)
        # the photo column is the shaded render: its channels differ; the sketch is grey
        photo, sketch = np.array(Image.open(out / row[0])).astype(int), np.array(Image.open(out / row[1]))
        assert np.abs(photo[..., 0] - photo[..., 2]).max() > 0
        assert np.array_equal(sketch[..., 0], sketch[..., 2])


def _psc_grid(flow):
    """PSC's flow for projecting A's keypoints into B (eval.py's bwd_flow, indexed by A's pixels): each
    pixel of A holds its position in B normalised to [-1, 1] with pixel centres at integers
    (align_corners=True: -1 is the centre of pixel 0, 1 that of pixel S-1). From sketchgen's exact flow."""
    s = flow.shape[0]
    ys, xs = np.mgrid[0:s, 0:s]
    b = np.stack([xs + flow[..., 0], ys + flow[..., 1]], axis=-1)  # PSC pixels of B: (x, y)
    return b * 2.0 / (s - 1) - 1.0


def _psc_pck(grid, kp_a, kp_b, size, alpha):
    """PSC's PCK convention (utils/pck.py as read): keypoints are (row, col) = (Y, X) pairs; each source
    keypoint is rounded to a pixel, the flow gathered there and unnormalised by (f + 1) (S - 1) / 2,
    (x, y) flipped to (row, col), and counted within alpha * image size of the target keypoint."""
    r, c = np.round(kp_a[:, 0]).astype(int), np.round(kp_a[:, 1]).astype(int)
    xy = (grid[r, c] + 1) * (size - 1) / 2
    pred = xy[:, ::-1]
    dist = np.sqrt(((kp_b - pred) ** 2).sum(axis=1))  # NaN flow: a miss, as in PSC
    return np.sum(dist <= size * alpha) / len(kp_a)


def test_psc_keypoints_reproduce_the_exact_flow_at_pck(pair_set, psc_export):
    out, counts = psc_export
    by_key = {s["__key__"]: s for s in samples(pair_set)}
    scores, checked = [], 0
    for name in ("val", "test"):
        _, rows = _rows(out / f"{name}_pairs_ps.csv")
        for row in rows:
            key = row[0][len("images/"):-len("_A.png")]
            meta = json.loads(by_key[key]["json"])
            flow = np.load(io.BytesIO(by_key[key]["flow.npy"]))
            xa, ya, xb, yb = (np.array([float(v) for v in col.split(";")]) for col in row[3:7])
            assert len(xa) == len(ya) == len(xb) == len(yb) == 8
            # as PhotoSketchDataset reads them: kp = stack([Y, X]): X is the column, Y the row
            kp_a, kp_b = np.stack([ya, xa], 1), np.stack([yb, xb], 1)
            scores.append(_psc_pck(_psc_grid(flow), kp_a, kp_b, SIZE, 0.05))
            # X is the column: a keypoint row is the stored keypoint's pixel (x, y) minus 0.5
            kb = {k["id"]: k for k in meta["b"]["keypoints"]}
            for ka in meta["a"]["keypoints"]:
                if ka["visible"] and kb[ka["id"]]["visible"]:
                    hit = np.flatnonzero((np.abs(xa - (ka["xy"][0] - 0.5)) < 1e-3)
                                         & (np.abs(ya - (ka["xy"][1] - 0.5)) < 1e-3))
                    for i in hit:
                        np.testing.assert_allclose([xb[i], yb[i]], np.array(kb[ka["id"]]["xy"]) - 0.5, atol=1e-3)
                        checked += 1
    assert checked == counts["keypoints"] > 0
    assert np.mean(scores) >= 0.99 and min(scores) >= 0.875


def test_psc_keeps_no_keypoint_where_the_flow_is_undefined():
    from sketchgen.datagen.export_psc import pair_points

    flow = np.full((16, 16, 2), np.nan, np.float32)
    flow[4:12, 4:12] = (2.0, 1.0)
    meta = {"a": {"keypoints": [{"id": 0, "xy": [6.5, 6.5], "visible": True},     # on the flow: kept
                                {"id": 1, "xy": [2.5, 2.5], "visible": True},     # NaN there: dropped
                                {"id": 2, "xy": [8.5, 8.5], "visible": True}]},   # 4 px off the flow: dropped
            "b": {"keypoints": [{"id": 0, "xy": [8.5, 7.5], "visible": True},
                                {"id": 1, "xy": [4.5, 3.5], "visible": True},
                                {"id": 2, "xy": [14.5, 9.5], "visible": True}]}}
    points = pair_points(meta, flow, "k")
    assert points.keypoints == 1 and points.dropped == 2 and len(points.xy) == 8
    np.testing.assert_array_equal(points.xy[0], [6.5, 6.5, 8.5, 7.5])
    # the flow samples lie on the flow: B = A + (2, 1)
    np.testing.assert_allclose(points.xy[1:, 2:] - points.xy[1:, :2], np.tile([2.0, 1.0], (7, 1)))
    assert pair_points(meta, np.full((16, 16, 2), np.nan, np.float32), "k") is None


def test_export_psc_command_and_the_pairs_alias(pair_set, tmp_path, capsys):
    assert main(["export", "psc", str(pair_set), "--out", str(tmp_path / "psc")]) == 0
    err = capsys.readouterr().err
    assert "export psc:" in err and "sketch-sketch pairs" in err
    from sketchgen.datagen.commands.export_psc import export

    assert export(pair_set, tmp_path / "again") == 0
    for name in ("train", "val", "test"):
        assert (tmp_path / "psc" / f"{name}_pairs_ps.csv").read_bytes() == \
            (tmp_path / "again" / f"{name}_pairs_ps.csv").read_bytes()


# ---- SFNet: custom_dataset.py (Pascal_Seg_Synth for training, PF_Pascal for evaluation), train.py's defaults

@pytest.fixture(scope="module")
def sfnet_export(pair_set, tmp_path_factory):
    from sketchgen.datagen.export_sfnet import export_sfnet

    out = tmp_path_factory.mktemp("sfnet")
    return out, export_sfnet(pair_set, out)


def test_sfnet_training_arrays_are_train_images_and_their_masks(pair_set, sfnet_export):
    from PIL import Image

    out, counts = sfnet_export
    # train.py: --train_image_path ./data/training_data/VOC2012_seg_img.npy, --train_mask_path ..._msk.npy,
    # loaded with np.load(allow_pickle=True); item i is Image.fromarray(array[i].astype('uint8'))
    images = np.load(out / "training_data" / "VOC2012_seg_img.npy", allow_pickle=True)
    masks = np.load(out / "training_data" / "VOC2012_seg_msk.npy", allow_pickle=True)
    assert images.dtype == masks.dtype == np.uint8
    assert images.shape == (counts["images"], SIZE, SIZE, 3) and masks.shape == (counts["images"], SIZE, SIZE)
    assert Image.fromarray(images[0].astype("uint8")).mode == "RGB"
    assert Image.fromarray(masks[0].astype("uint8")).mode == "L"
    # ToTensor divides by 255 and the loader keeps mask > 0.1: the object must be stored as 255, not 1
    assert set(np.unique(masks)) == {0, 255}
    stored = {}
    for s in samples(pair_set):
        if s["__split__"] != "train":
            continue
        for side in "ab":
            img = cv2.imdecode(np.frombuffer(s[f"{side}.png"], np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
            mask = cv2.imdecode(np.frombuffer(s[f"{side}mask.png"], np.uint8), cv2.IMREAD_GRAYSCALE) > 0
            stored[img.tobytes() + np.packbits(mask).tobytes()] = True
    exported = {images[i].tobytes() + np.packbits(masks[i] > 0).tobytes() for i in range(len(images))}
    assert exported == set(stored) and counts["images"] == len(stored)


def test_sfnet_csvs_are_pf_pascal_eight_columns_on_the_flow(pair_set, sfnet_export):
    from PIL import Image

    out, counts = sfnet_export
    by_key = {s["__key__"]: s for s in samples(pair_set)}
    for split in ("val", "test"):
        header, rows = _rows(out / "PF_Pascal" / f"bbox_{split}_pairs_pf_pascal.csv")
        assert len(header) == 8 and header[7] == "L_pck" and len(rows) == counts[split] > 0
        for row in rows:
            # PF_Pascal reads by position: 0 source, 1 target, 2 class, 3:5 A's X;Y, 5:7 B's X;Y, 7 L_pck
            key = row[0][len("images/"):-len("_A.png")]
            s = by_key[key]
            assert s["__split__"] == split and row[1] == f"images/{key}_B.png"
            for name in row[:2]:
                assert Image.open(out / "PF_Pascal" / name).mode == "RGB"
            meta = json.loads(s["json"])
            assert int(row[2]) == 1 + sorted({"airplane", "table"}).index(meta["a"]["category"])
            xa, ya, xb, yb = (np.fromstring(v, sep=";") for v in row[3:7])
            assert len(xa) == len(ya) == len(xb) == len(yb) == 8
            # X the column, Y the row, pixel centres at integers: the exact flow at A's rounded pixel
            # (pixel centre = integer + 0.5 in sketchgen's convention) lands on B's point
            flow = np.load(io.BytesIO(s["flow.npy"]))
            col, r = np.rint(xa).astype(int), np.rint(ya).astype(int)
            land = np.stack([col + flow[r, col, 0], r + flow[r, col, 1]], 1)
            err = np.linalg.norm(land - np.stack([xb, yb], 1), axis=1)
            assert np.all(err <= 2.0)
            # L_pck: the longer side of the bounding box of A's object
            amask = cv2.imdecode(np.frombuffer(s["amask.png"], np.uint8), cv2.IMREAD_GRAYSCALE) > 0
            ys, xs = np.nonzero(amask)
            assert float(row[7]) == max(np.ptp(xs) + 1, np.ptp(ys) + 1)
    assert main(["export", "sfnet", str(pair_set), "--out", str(out / "cli")]) == 0
    assert (out / "cli" / "PF_Pascal" / "bbox_test_pairs_pf_pascal.csv").read_bytes() == \
        (out / "PF_Pascal" / "bbox_test_pairs_pf_pascal.csv").read_bytes()
