import io
import json

import cv2
import numpy as np
import pytest

from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.flow import sample_flow
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.plan import load_shapes
from sketchgen.datagen.triplets import ViewConfig
from sketchgen.render.camera import Camera
from tiny_datasets import ring_camera, samples, shard_hashes, tiny_spec

SIZE = 128


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    spec = tiny_spec(folder, "mug")
    config = PairConfig(collection=str(spec), seed=5, camera=ViewConfig(views=3, size=SIZE), pairs=6)
    summary = run_dataset(dataset="pairs", builder="sketchgen.datagen.pairs", config=config, out_dir=folder / "out",
                          progress=False)
    return config, folder / "out", summary


def _decode(data):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _ray_points(shape, cam: Camera):
    """Surface point seen by each pixel centre of ``cam``, by ray casting (independent of the GL pass)."""
    ys, xs = np.mgrid[0:cam.height, 0:cam.width]
    centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    origins, dirs = cam.pixel_rays(centres)
    loc, ray, _ = shape.trimesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    points = np.full((len(centres), 3), np.nan)
    points[ray] = loc
    return points.reshape(cam.height, cam.width, 3)


def test_files_shapes_and_kinds(pair_set):
    config, out, summary = pair_set
    got = samples(out)
    # every pair asked for is made, dropped or counted as not made (--max-angle is kept with 3 views)
    counts = summary["summary"]
    assert summary["samples"] == len(got) == sum(counts["made"].values())
    assert len(got) + sum(counts["dropped"].values()) + sum(counts["not_made"].values()) == 2 * config.pairs
    assert counts["made"] == {k: sum(json.loads(s["json"])["pair_kind"] == k for s in got) for k in counts["made"]}
    kinds, modalities = set(), set()
    for s in got:
        meta = json.loads(s["json"])
        kinds.add(meta["pair_kind"])
        modalities.add(meta["modality"])
        flow = np.load(io.BytesIO(s["flow.npy"]))
        assert flow.shape == (SIZE, SIZE, 2) and flow.dtype == np.float32
        a, b = _decode(s["a.png"]), _decode(s["b.png"])
        assert b.shape == (SIZE, SIZE)
        assert a.shape == ((SIZE, SIZE, 3) if meta["modality"] == "sketch-shaded" else (SIZE, SIZE))
        amask, bmask = _decode(s["amask.png"]) > 0, _decode(s["bmask.png"]) > 0
        # flow only where A shows the object; masks are not empty
        assert not np.isfinite(flow[~amask]).any()
        assert amask.sum() > 200 and bmask.sum() > 100
        assert np.isfinite(flow[..., 0]).sum() > 50
        # where defined, the flow lands inside B's image and (deformations aside) on B's object
        ys, xs = np.nonzero(np.isfinite(flow[..., 0]))
        tx, ty = xs + 0.5 + flow[ys, xs, 0], ys + 0.5 + flow[ys, xs, 1]
        assert tx.min() >= 0 and tx.max() < SIZE and ty.min() >= 0 and ty.max() < SIZE
        # (a silhouette point may land in the pixel just outside B's mask)
        near_object = cv2.dilate(bmask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert near_object[np.floor(ty).astype(int), np.floor(tx).astype(int)].mean() > 0.98
        assert meta["split"] == s["__split__"]
        # every stored keypoint re-projects with its side's stored camera onto its stored pixel
        # (B of a deformed pair: its pixel is A's moved by the deformation, checked below)
        for side in ("a", "b") if meta["pair_kind"] != "deform" else ("a",):
            cam = Camera.from_json(meta[side]["camera"])
            for k in meta[side]["keypoints"]:
                xy, _ = cam.world_to_pixels(np.array([k["point"]]))
                assert np.abs(xy[0] - k["xy"]).max() <= 0.5
        if meta["modality"] == "sketch-shaded":
            # a photo (render.photo, the default): a lit object on a ground and backdrop that are not blank
            grown = cv2.dilate(amask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            assert a[~grown].astype(float).std(axis=0).max() > 2.0
            assert a[amask].astype(float).std(axis=0).max() > 5.0
    assert kinds == {"views", "shapes", "deform"} and modalities == {"sketch-sketch", "sketch-shaded"}


def test_flow_matches_ray_cast_surface_points(pair_set):
    """Flow from the GL depth buffer agrees with points found by ray casting through A's pixel centres."""
    config, out, _ = pair_set
    shapes = load_shapes(config.collection)[0]
    checked = 0
    for s in samples(out):
        meta = json.loads(s["json"])
        if meta["pair_kind"] != "views":
            continue
        flow = np.load(io.BytesIO(s["flow.npy"]))
        cam_a, cam_b = Camera.from_json(meta["a"]["camera"]), Camera.from_json(meta["b"]["camera"])
        points = _ray_points(shapes[meta["a"]["shape"]], cam_a)
        ok = np.isfinite(flow[..., 0]) & np.isfinite(points[..., 0])
        xy_b, _ = cam_b.world_to_pixels(points[ok])
        ys, xs = np.nonzero(ok)
        err = np.linalg.norm(np.stack([xs + 0.5, ys + 0.5], 1) + flow[ok] - xy_b, axis=1)
        # float32 depth: a few thousandths of a pixel, except on silhouette pixels the two disagree on
        assert np.median(err) < 1e-2 and np.mean(err < 0.05) > 0.97
        checked += 1
    assert checked >= 1


def test_flow_carries_visible_keypoints_onto_their_partners(pair_set):
    """At A's visible keypoints (away from depth edges) the flow lands on B's keypoint within 1 px."""
    config, out, _ = pair_set
    shapes = load_shapes(config.collection)[0]
    visible = checked = 0
    for s in samples(out):
        meta = json.loads(s["json"])
        flow = np.load(io.BytesIO(s["flow.npy"]))
        cam_a = Camera.from_json(meta["a"]["camera"])
        points = _ray_points(shapes[meta["a"]["shape"]], cam_a)
        kb = {k["id"]: k for k in meta["b"]["keypoints"]}
        for k in meta["a"]["keypoints"]:
            other = kb[k["id"]]
            if not (k["visible"] and other["visible"]):
                continue
            visible += 1
            # Pixel-centre flow can only be read at a keypoint where the pixels read see the keypoint's own
            # surface: bilinearly when the four centres around it all see points within 2 pixel footprints
            # of it, else from the nearest centre (within 1 footprint) moved to the keypoint to first order
            # with the flow's gradient towards on-surface neighbours. Keypoints on depth edges or grazing
            # surfaces fall between surfaces and are not read.
            x, y = k["xy"]
            footprint = -cam_a.world_to_cam(np.array([k["point"]]))[0, 2] / cam_a.focal_px
            on = np.linalg.norm(points - np.array(k["point"]), axis=2) < 2 * footprint  # (H, W) own surface
            on &= np.isfinite(flow[..., 0])
            j0, i0 = int(np.floor(x - 0.5)), int(np.floor(y - 0.5))
            i, j = int(y), int(x)
            if 0 <= i0 and 0 <= j0 and on[i0:i0 + 2, j0:j0 + 2].all():
                landed = np.array(k["xy"]) + sample_flow(flow, np.array([k["xy"]]))[0]
            elif np.linalg.norm(points[i, j] - k["point"]) < footprint and on[i, j]:
                grad = []
                for di, dj in ((0, 1), (1, 0)):
                    if on[i + di, j + dj]:
                        grad.append(flow[i + di, j + dj] - flow[i, j])
                    elif on[i - di, j - dj]:
                        grad.append(flow[i, j] - flow[i - di, j - dj])
                if len(grad) < 2:
                    continue
                jac = np.eye(2) + np.stack(grad, axis=1)  # columns: d(landing)/dx, d(landing)/dy
                offset = np.array(k["xy"]) - [j + 0.5, i + 0.5]
                landed = np.array([j + 0.5, i + 0.5]) + flow[i, j] + jac @ offset
            else:
                continue
            assert np.linalg.norm(landed - other["xy"]) <= 1.0, (s["__key__"], meta["pair_kind"], k["id"])
            checked += 1
    assert visible >= 10 and checked >= 0.4 * visible


def test_deformation_flow_is_exact(pair_set):
    """For a deformed pair, B's keypoints are A's moved by the stored deformation, and so is the flow."""
    from sketchgen.datagen.deform import Deformation, ThinPlateSpline

    config, out, _ = pair_set
    seen = 0
    for s in samples(out):
        meta = json.loads(s["json"])
        if meta["pair_kind"] != "deform":
            continue
        d = meta["deformation"]
        tps = ThinPlateSpline.fit(d["tps_src"], d["tps_dst"]) if d["tps_src"] else None
        deformation = Deformation(np.array(d["matrix"]), np.array(d["offset"]), tps, SIZE, SIZE)
        flow = np.load(io.BytesIO(s["flow.npy"]))
        ok = np.isfinite(flow[..., 0])
        np.testing.assert_allclose(flow[ok], deformation.flow()[ok], atol=1e-3)
        assert meta["b"]["camera"] == meta["a"]["camera"]
        for ka, kb in zip(meta["a"]["keypoints"], meta["b"]["keypoints"]):
            np.testing.assert_allclose(deformation.apply([ka["xy"]])[0], kb["xy"], atol=1e-9)
        seen += 1
    assert seen >= 1


def test_preview_sheet(pair_set, tmp_path):
    from sketchgen.datagen.preview import preview

    _, out, _ = pair_set
    sheet = cv2.imread(str(preview(out, tmp_path / "sheet.png", limit=4)))
    # a row per sample: one tile of A, B and the flow side by side (3 x SIZE wide)
    assert sheet.shape[0] > 4 * SIZE and 3 * SIZE < sheet.shape[1] < 4 * SIZE
    # keypoint markers are red, flow samples green
    red = (sheet[..., 2] > 200) & (sheet[..., 1] < 80) & (sheet[..., 0] < 80)
    assert red.sum() > 20


def test_pyrender_shading_covers_the_gbuffer_mask():
    from sketchgen.render.gbuffer import get_renderer
    from sketchgen.render.shading import ShadeConfig, shade_gbuffer, shaded_render

    shape = next(iter(load_shapes(None)[0].values()))
    cam = Camera.looking_at((0.0, 0.4, 3.0), (0.0, 0.0, 0.0), width=96, height=96, yfov_deg=40.0)
    gb = get_renderer().render(shape.trimesh, cam, normals=False)
    for image in (shaded_render(shape.trimesh, cam, np.random.default_rng(2), ShadeConfig(renderer="pyrender")),
                  shade_gbuffer(shape, gb, np.random.default_rng(2))):
        assert image.shape == (96, 96, 3) and image.dtype == np.uint8
        # the object differs from the plain background colour of its row, the background does not
        edge = cv2.dilate(gb.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        inner = cv2.erode(gb.mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        rows = np.arange(96)
        far_left = image[rows, 0].astype(int)  # column 0 is background in this view
        diff = np.abs(image.astype(int) - far_left[:, None, :]).max(axis=2)
        assert np.mean(diff[~edge] <= 3) > 0.97 and np.mean(diff[inner] > 3) > 0.9


def test_near_view_says_when_no_view_lies_within_the_angle():
    from sketchgen.datagen.pairs import _near_view
    cams = [ring_camera(a) for a in (0, 30, 90, 170)]
    rng = np.random.default_rng(0)
    assert _near_view(cams, 0, 60.0, rng, allow_same=False) == 1
    assert _near_view(cams, 3, 60.0, rng, allow_same=False) is None  # the nearest is 80 degrees away: none
    assert _near_view(cams, 3, 60.0, rng, allow_same=True) == 3      # a shapes pair may keep the view


def test_a_unit_takes_every_view_as_a_before_any_twice(pair_set):
    """Pairs take A's view from a per-unit order, cycled: with 6 pairs over 3 views each view is A twice,
    and no two samples of a unit are the same pair (drawn independently, a unit could repeat one)."""
    config, out, _ = pair_set
    by_shape: dict[str, list] = {}
    for s in samples(out):
        meta = json.loads(s["json"])
        by_shape.setdefault(meta["a"]["shape"], []).append(s)
    assert len(by_shape) == 2
    for shape, got in by_shape.items():
        cams = [json.dumps(json.loads(s["json"])["a"]["camera"], sort_keys=True) for s in got]
        counts = sorted(cams.count(c) for c in set(cams))
        # each view is A of two pairs; a pair with no B view within --max-angle is not made
        assert max(counts) <= 2 and len(set(cams)) >= 2, (shape, counts)
        pngs = [(s["a.png"], s["b.png"]) for s in got]
        assert len(set(pngs)) == len(pngs), shape


def test_pairs_on_background_photos_name_bad_files_and_record_the_photos(tmp_path, capsys):
    """``sketchgen pairs --backgrounds DIR``: a file that is no image is named in one warning line, the
    kept photos' names and digest go into the manifest's config, and a photo side shows a photo's pixels;
    the same command again gives the same bytes."""
    from sketchgen.cli import main
    from sketchgen.datagen.shards import read_shard

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    stripes = np.zeros((90, 120, 3), np.uint8)
    stripes[::2] = (255, 0, 255)  # magenta rows: a colour no studio or material of the renderer makes
    cv2.imwrite(str(photos / "stripes.png"), stripes)
    (photos / "readme.txt").write_text("not a photo")
    spec = tiny_spec(tmp_path, "mug")
    args = ["pairs", "--collection", str(spec), "--out", str(tmp_path / "out"), "--pairs", "2", "--views", "2",
            "--size", "64", "--modalities", "sketch-shaded", "--backgrounds", str(photos), "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    warning = [ln for ln in err.splitlines() if "readme.txt" in ln]
    assert len(warning) == 1 and "1 of 2 files" in warning[0]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    shading = manifest["config"]["shading"]
    assert shading["background_files"] == ["stripes.png"] and len(shading["backgrounds_sha256"]) == 64
    first = shard_hashes(tmp_path / "out")
    magenta = 0
    for shard in sorted((tmp_path / "out").glob("*/*.tar")):
        for s in read_shard(shard):
            a = cv2.imdecode(np.frombuffer(s["a.png"], np.uint8), cv2.IMREAD_COLOR)
            magenta += int(((a[..., 0] > 200) & (a[..., 2] > 200) & (a[..., 1] < 60)).sum())
    assert magenta > 100  # background_p 0.75 per pair: a run of 4 pairs this seed draws the photo
    # one sample made again alone from the manifest's config (photos listed there) gives its bytes
    from sketchgen.datagen.regenerate import regenerate_key

    stored = next(read_shard(sorted((tmp_path / "out").glob("*/*.tar"))[0]))
    again = regenerate_key(tmp_path / "out", stored["__key__"])
    assert again["a.png"] == stored["a.png"] and again["flow.npy"] == stored["flow.npy"]
    import shutil

    shutil.rmtree(tmp_path / "out")
    assert main(args) == 0
    assert shard_hashes(tmp_path / "out") == first
