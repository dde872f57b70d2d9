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

from sketchgen.cli import main
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.triplets import ViewConfig
from sketchgen.ingest.procedural import load_spec
from tiny_datasets import samples

SIZE = 256  # PSC's eval.py scores 256 px pairs only
# one train shape, two test shapes (shapes pairs between them) and two val shapes of another category
SHAPES = ("airplane_000", "airplane_003", "airplane_005", "table_005", "table_010")


def _build(folder, ids, dataset, config_of):
    """The dataset ``dataset`` built in ``folder``/out from the bundled shapes ``ids``."""
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"version": 1, "seed": 0, "shapes": [e for e in load_spec()["shapes"] if e["id"] in ids]}))
    run_dataset(dataset=dataset, builder=f"sketchgen.datagen.{dataset}", config=config_of(str(spec)),
                out_dir=folder / "out", progress=False)
    return folder / "out"


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("pairs"), SHAPES, "pairs", lambda spec: PairConfig(
        collection=spec, seed=5, camera=ViewConfig(views=4, size=SIZE), pairs=5, max_angle_deg=90.0))


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
    code = ("import sys, contextlib, io\nfrom sketchgen.cli import main\nbuf = io.StringIO()\n"
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
    from sketchgen.cli.commands.export_psc import export

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


# ---- SketchZooms: utils/SZDataset.py (SketchZoomDataset), utils/utilities.py (compute_feature,
# compute_zooms, get_windows), train_net.py (Config, data_sketch_root "data/")

CHAIRS = ("chair_000", "chair_001", "chair_003", "chair_006")  # train, train, val, test


@pytest.fixture(scope="module")
def triplet_set(tmp_path_factory):
    from sketchgen.datagen.triplets import TripletConfig

    return _build(tmp_path_factory.mktemp("triplets"), CHAIRS, "triplets", lambda spec: TripletConfig(
        collection=spec, seed=3, camera=ViewConfig(views=3), points=2, style=(("clean", 0.5), ("sketchy", 0.5))))


@pytest.fixture(scope="module")
def sz_export(triplet_set, tmp_path_factory):
    from sketchgen.datagen.export_sketchzooms import export_sketchzooms

    out = tmp_path_factory.mktemp("sz")
    return out, export_sketchzooms(triplet_set, out)


def _zoom_images(sample):
    """{name: (S, S) uint8} of a triplet's zoom images, through the project's reader where it has one."""
    try:
        from sketchgen.datagen.schema import triplet_images
    except ImportError:
        return {name: cv2.imdecode(np.frombuffer(sample[name], np.uint8), cv2.IMREAD_GRAYSCALE)
                for name in sample if name[0] in "apn" and name.endswith(".png")}
    return triplet_images(sample)


def _zoom_halves(meta, role, zoom_size):
    """Half-sizes, in pixels of the 512 px view, of a role's zoom windows: from its zoom cameras
    (schema 2) or its windows in its view's pixels (schema 3: the view's height spans the 512 px)."""
    from sketchgen.render.camera import Camera

    halves = []
    for zoom in role["views"]:
        if "window" in zoom:
            view = Camera.from_json(meta["drawings"][int(zoom["view"])]["camera"])
            halves.append(float(zoom["window"][2]) * 512 / view.height)
        else:
            base = Camera.from_json(role["base_camera"]).with_size(512, 512)
            halves.append(zoom_size / 2 * base.focal_px / Camera.from_json(zoom["camera"]).focal_px)
    return halves


def _sz_open(path):
    """A view as SketchZooms' loader sees it: Image.open(...).convert('RGBA'), pixels with alpha 0
    painted (255, 255, 255), RGB kept (utilities.compute_feature)."""
    from PIL import Image

    img = Image.open(path)
    rgba = np.array(img.convert("RGBA"))
    rgba[rgba[:, :, 3] == 0] = [255, 255, 255, 1]
    return img, rgba[:, :, :3]


def _sz_rows(out, name):
    header, rows = _rows(out / "csv" / f"{name}.csv")
    return header, rows


def _sz_path(out, row, side):
    """The view file SketchZoomDataset globs for one side (0 anchor, 1 positive) of a CSV row, with
    pandas' reading of the columns (integer indices formatted back without leading zeros)."""
    _, m0, m1, i0, i1, view, model = row
    md, idx, v = (m0, i0, view.split(" ")[0]) if side == 0 else (m1, i1, view.split(" ")[1])
    return out / f"pts_{model}" / md / str(int(idx)) / f"view_{v}.png"


def test_sketchzooms_csvs_have_the_loaders_columns_and_configs_row_counts(triplet_set, sz_export):
    out, counts = sz_export
    by_split = Counter(s["__split__"] for s in samples(triplet_set))
    assert counts["triplets"] == {s: by_split.get(s, 0) for s in ("train", "val", "test")}
    assert all(counts["triplets"].values())
    # train_net.py: Config.train_data_n = 14400, val_data_n = 1440; the loader's length is that number
    # and it reads df.iloc[index]: fewer rows than that fail, so the triplets repeat up to it
    for name, wanted, split in (("train", 14400, "train"), ("test", 1440, "val"), ("heldout", None, "test")):
        header, rows = _sz_rows(out, name)
        assert header == ["", "model_0", "model_1", "index_0", "index_1", "view", "model"]
        n = counts["triplets"][split]
        assert len(rows) == (wanted or n)
        assert [int(r[0]) for r in rows] == list(range(len(rows)))
        for i, row in enumerate(rows):
            assert row[1:] == rows[i % n][1:]
            assert row[6] == "Chair" and len(row[5].split(" ")) == 2
            for side in (0, 1):
                assert _sz_path(out, row, side).is_file()


def test_sketchzooms_views_are_512_rgba_centred_at_sketchzooms_scale(triplet_set, sz_export):
    out, counts = sz_export
    rows = {name: _sz_rows(out, name)[1] for name in ("train", "test", "heldout")}
    got = {"train": [], "val": [], "test": []}
    for s in samples(triplet_set):
        got[s["__split__"]].append(s)
    checked = 0
    for name, split in (("train", "train"), ("test", "val"), ("heldout", "test")):
        for sample, row in zip(got[split], rows[name]):
            meta = json.loads(sample["json"])
            zooms = _zoom_images(sample)
            zoom_size = next(iter(zooms.values())).shape[0]
            for side, (prefix, role) in enumerate((("a", meta["anchor"]), ("p", meta["positive"]))):
                img, rgb = _sz_open(_sz_path(out, row, side))
                assert img.mode == "RGBA" and img.size == (512, 512)
                # RGB is the drawing itself: grey, white paper under alpha 0
                assert np.array_equal(rgb[..., 0], rgb[..., 2])
                grey = rgb[..., 0]
                for z, half in enumerate(_zoom_halves(meta, role, zoom_size)):
                    # schema 2 drew each zoom of a sketchy sample anew: only the widest shares the view's
                    # strokes (schema 3 draws every zoom from the view's)
                    if z > 0 and meta["style"] != "clean" and "window" not in role["views"][z]:
                        continue
                    # compute_zooms: get_windows(img, 256, 256, int(100 * z)) then cv2.resize to 224: the
                    # window of the sample's own zoom shows what the stored zoom image shows. The view is
                    # centred on the point as drawn; a zoom image on its exact projection, from which a
                    # sketchy style moved the drawn point to the zoom's xy
                    e = int(round(half))
                    shift = (np.asarray(role["views"][z]["xy"]) - zoom_size / 2) * 2 * half / zoom_size
                    cx, cy = np.rint(256 - shift).astype(int)
                    crop = cv2.resize(grey[cy - e:cy + e, cx - e:cx + e], (zoom_size, zoom_size))
                    zoom = zooms[f"{prefix}{z}.png"]
                    # dark ink of one near any ink of the other (lines differ in width: redrawn vs resized)
                    near_zoom = cv2.distanceTransform((zoom >= 224).astype(np.uint8), cv2.DIST_L2, 3) <= 2
                    near_crop = cv2.distanceTransform((crop >= 224).astype(np.uint8), cv2.DIST_L2, 3) <= 2
                    assert near_zoom[crop < 160].mean() > 0.97 and near_crop[zoom < 160].mean() > 0.97
                    checked += 1
    assert checked >= 2 * sum(counts["triplets"].values())


def _line_width(grey):
    """Mean line width in px of a drawing: ink coverage over skeleton length."""
    from skimage.morphology import skeletonize

    ink = (255 - grey.astype(np.float64)) / 255
    return ink.sum() / max(skeletonize(ink > 0.5).sum(), 1)


def test_sketchzooms_views_are_redrawn_not_resampled(triplet_set, sz_export):
    out, counts = sz_export
    # the default width: the triplets' 1.5 px at 224, scaled so SketchZooms' middle zoom (a 260 px
    # window resized to 224) shows 1.5 px
    assert counts["width"] == pytest.approx(1.5 * 260 / 224)
    widths = [_line_width(_sz_open(p)[1][..., 0]) for p in sorted(out.glob("pts_*/*/*/view_*.png"))]
    assert len(widths) == counts["views"] > 0
    # a resampled widest zoom (1.5 px at 224 over a 2 x 150..210 px window) would show 2.0 to 2.8 px lines
    assert abs(np.median(widths) - counts["width"]) < 0.25


def test_sketchzooms_points_share_folders_and_positives_name_their_views(triplet_set, sz_export):
    out, _ = sz_export
    _, rows = _sz_rows(out, "train")
    train = [s for s in samples(triplet_set) if s["__split__"] == "train"]
    same = 0
    for sample, row in zip(train, rows):
        meta = json.loads(sample["json"])
        v0, v1 = row[5].split(" ")
        assert int(v0.split("-")[0]) == meta["anchor"]["base_view"]
        assert int(v1.split("-")[0]) == meta["positive"]["base_view"]
        assert (row[1], row[2]) == (meta["anchor"]["shape"], meta["positive"]["shape"])
        if meta["positive_source"] == "view":
            # the same surface point of the same shape: one folder, another view
            assert row[3] == row[4] and v0 != v1
            same += 1
    assert same > 0


def test_sketchzooms_row_counts_and_names(triplet_set, tmp_path):
    from sketchgen.datagen.export_sketchzooms import category_name, export_sketchzooms, safe_name

    counts = export_sketchzooms(triplet_set, tmp_path / "a", train_rows=0, test_rows=3)
    n = counts["triplets"]["train"]
    _, once = _sz_rows(tmp_path / "a", "train")
    assert len(once) == n and counts["rows"]["test"] == max(3, counts["triplets"]["val"])
    # more triplets than Config reads: all written, shuffled, so the rows read are a uniform sample
    export_sketchzooms(triplet_set, tmp_path / "b", train_rows=n - 2, test_rows=0)
    _, shuffled = _sz_rows(tmp_path / "b", "train")
    assert len(shuffled) == n and sorted(r[1:] for r in shuffled) == sorted(r[1:] for r in once)
    assert [r[1:] for r in shuffled] != [r[1:] for r in once]
    # the same dataset gives the same views, byte for byte
    views = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").glob("pts_*/*/*/*.png"))
    assert views == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").glob("pts_*/*/*/*.png"))
    assert all((tmp_path / "a" / v).read_bytes() == (tmp_path / "b" / v).read_bytes() for v in views)
    # pandas reads these as numbers or NaN: the folders get a letter in front
    assert [safe_name(s) for s in ("1e5", "0042", "NA", "nan", "chair_000", "a/b c")] == \
        ["m1e5", "m0042", "mNA", "mnan", "chair_000", "a-b-c"]
    assert category_name("airplane") == "Airplane" and category_name("StorageFurniture") == "StorageFurniture"


def test_export_sketchzooms_command(triplet_set, pair_set, tmp_path, capsys):
    assert main(["export", "sketchzooms", str(triplet_set), "--out", str(tmp_path / "sz"), "--train-rows", "0"]) == 0
    assert "export sketchzooms:" in capsys.readouterr().err
    assert main(["export", "sketchzooms", str(pair_set), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a triplet sample" in err[0]


def test_an_unreadable_shard_is_reported_and_the_rest_exported(pair_set, tmp_path, capsys):
    import shutil

    data = tmp_path / "pairs"
    shutil.copytree(pair_set, data)
    bad = sorted((data / "val").glob("*.tar"))[0]
    bad.write_bytes(b"not a tar file" * 100)
    assert main(["export", "psc", str(data), "--out", str(tmp_path / "psc")]) == 1
    err = capsys.readouterr().err
    assert f"failed: {bad}: unreadable shard" in err
    _, rows = _rows(tmp_path / "psc" / "val_pairs_ps.csv")
    assert rows and all(bad.stem.split("-")[0] not in r[0] for r in rows)
    assert main(["export", "sfnet", str(data), "--out", str(tmp_path / "sfnet")]) == 1
    assert f"failed: {bad}: unreadable shard" in capsys.readouterr().err


def test_export_sketchzooms_fails_in_one_line_for_a_split_with_no_triplet(monkeypatch, tmp_path, capsys):
    import sketchgen.datagen.export_sketchzooms as sz

    made = {"triplets": {"train": 8, "val": 0, "test": 10}, "rows": {"train": 14400, "test": 0, "heldout": 10},
            "views": 54, "views_clipped": 0, "width": 1.74, "failures": []}
    monkeypatch.setattr(sz, "export_sketchzooms", lambda *a, **k: made)
    assert main(["export", "sketchzooms", str(tmp_path / "any"), "--out", str(tmp_path / "sz")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert err == ["  error: csv/test.csv (the val split) has no triplet: rebuild the triplets with shapes in that "
                   "split (sketchgen triplets --splits FILE)"]
