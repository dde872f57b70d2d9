import json

import cv2
import numpy as np
import pytest

from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.plan import assign_splits, load_shapes
from sketchgen.datagen.triplets import TripletConfig, ViewConfig
from sketchgen.render.camera import Camera
from tiny_datasets import ring_camera, samples, tiny_spec

SIZE = 160


@pytest.fixture(scope="module")
def triplet_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("triplets")
    spec = tiny_spec(folder)
    config = TripletConfig(collection=str(spec), seed=3, camera=ViewConfig(views=3, size=384), points=3,
                           size=SIZE, other_shape=0.5)
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=config, out_dir=folder / "out",
                          progress=False)
    return config, folder / "out", summary


def test_every_point_reprojects_onto_its_window_centre_and_sits_at_the_zoom_centre(triplet_set):
    from sketchgen.datagen.schema import triplet_images, view_key

    config, out, summary = triplet_set
    got = samples(out)
    assert summary["samples"] == len(got) >= 8
    for s in got:
        meta = json.loads(s["json"])
        assert meta["kind"] == "triplet" and meta["split"] == s["__split__"] and meta["zoom_size"] == SIZE
        # one strokes member per drawn view, no images
        assert {k for k in s if not k.startswith("__")} == {"json"} | {view_key(k) for k in range(len(meta["drawings"]))}
        assert len({(d["shape"], d["base_view"]) for d in meta["drawings"]}) == len(meta["drawings"])
        images = triplet_images(s)
        for role, short in (("anchor", "a"), ("positive", "p"), ("negative", "n")):
            r = meta[role]
            assert len(r["views"]) == 3
            point = np.array(r["point"])
            halves = []
            for z, view in enumerate(r["views"]):
                drawing = meta["drawings"][view["view"]]
                assert (drawing["shape"], drawing["base_view"]) == (r["shape"], r["base_view"])
                assert drawing["camera"] == r["base_camera"]
                cam = Camera.from_json(drawing["camera"])
                xy, _ = cam.world_to_pixels(point[None])
                cx, cy, half = view["window"]
                assert np.abs(xy[0] - (cx, cy)).max() <= 1e-6
                assert np.abs(np.array(view["xy"]) - SIZE / 2).max() <= 1e-9  # clean: the exact centre
                halves.append(half)
                img = images[f"{short}{z}.png"]
                assert img.shape == (SIZE, SIZE) and img.dtype == np.uint8
                if role != "positive":
                    # anchors and negatives are points of the drawn strokes: ink at the image centre
                    c = SIZE // 2
                    assert img[c - 2:c + 2, c - 2:c + 2].min() < 128, (s["__key__"], role, z)
            # largest window first, each a SketchZooms factor of the view's half-height
            assert halves[0] > halves[1] > halves[2]
            u = 1.8 - halves[0] / (cam.height / 2) * 256 / 100
            assert abs(u) <= config.zoom_jitter + 1e-9
            np.testing.assert_allclose(np.array(halves) / (cam.height / 2) * 256 / 100, np.array([1.8, 1.3, 0.8]) - u)
            # point = barycentric combination of its face on its shape
            shape = load_shapes(config.collection)[0][r["shape"]]
            np.testing.assert_allclose(shape.points([r["face"]], [r["bary"]])[0], point, atol=1e-9)


def test_zoom_images_are_windows_of_the_view_strokes(triplet_set):
    """A zoom is its window of the view's strokes scaled to the zoom size: drawing the view's pieces moved
    and scaled by hand through the rasteriser gives the same bytes."""
    from sketchgen.datagen.schema import triplet_images, view_key
    from sketchgen.render.raster import segment_image_batch
    from sketchgen.render.strokearrays import StrokeArrays, segments

    _, out, _ = triplet_set
    s = samples(out)[0]
    meta = json.loads(s["json"])
    images = triplet_images(s)
    for z, zoom in enumerate(meta["anchor"]["views"]):
        rec = StrokeArrays.from_npz(s[view_key(zoom["view"])])
        a, b, wa, wb = segments(rec)
        cx, cy, half = zoom["window"]
        k = SIZE / (2 * half)
        own = segment_image_batch((a - (cx, cy)) * k + SIZE / 2, (b - (cx, cy)) * k + SIZE / 2, wa, wb,
                                  np.zeros(len(a), np.int64), 1, SIZE, SIZE)[0]
        assert np.array_equal(own, images[f"a{z}.png"])
        assert (own < 255).sum() > 50


def test_positives_negatives_and_splits(triplet_set):
    config, out, _ = triplet_set
    shapes = load_shapes(config.collection)[0]
    splits = assign_splits([(k, v.category) for k, v in shapes.items()])
    sources, strategies = set(), set()
    for s in samples(out):
        meta = json.loads(s["json"])
        a, p, n = meta["anchor"], meta["positive"], meta["negative"]
        sources.add(meta["positive_source"])
        strategies.add(meta["negative_strategy"])
        assert p["shape"] == n["shape"] and p["category"] == a["category"]
        if meta["positive_source"] == "view":
            assert p["shape"] == a["shape"] and p["base_view"] != a["base_view"]
            np.testing.assert_allclose(p["point"], a["point"], atol=1e-12)
            assert meta["correspondence"] == {"method": "same-shape", "confidence": 1.0}
        else:
            # bundled shapes share their face list: the same (face, bary) is the same part point
            assert p["shape"] != a["shape"]
            assert p["face"] == a["face"] and np.allclose(p["bary"], a["bary"])
            assert meta["correspondence"] == {"method": "exact", "confidence": 1.0}
        # the negative is far on the surface (and the stored distance is at least the straight one)
        assert meta["surface_distance"] >= config.min_distance
        assert meta["surface_distance"] >= np.linalg.norm(np.subtract(p["point"], n["point"])) - 1e-9
        if meta["negative_strategy"] == "same-part":
            assert n["part"] == p["part"]
        if meta["negative_strategy"] == "hard":
            # near in the base image of the positive, which the negative shares
            assert n["base_camera"] == p["base_camera"]
            base = Camera.from_json(p["base_camera"])
            xy, _ = base.world_to_pixels(np.array([p["point"], n["point"]]))
            assert np.linalg.norm(xy[0] - xy[1]) <= config.hard_px
        assert s["__key__"].startswith(a["shape"].replace(".", "-") + "_0000_")
        # no shape in two splits: every shape of a sample sits in the sample's split
        for role in (a, p, n):
            assert splits[role["shape"]] == meta["split"]
    assert sources == {"view", "shape"}
    assert strategies <= {"random", "same-part", "hard"} and len(strategies) >= 2


def test_every_negative_is_where_its_kind_says(triplet_set):
    """Each stored negative's pixel and surface distances are those of its points, and lie in its kind's
    range; its zooms are named by ``negative_key``."""
    from sketchgen.datagen.schema import negative_key, triplet_images
    from sketchgen.datagen.triplets import SurfaceDistance

    config, out, _ = triplet_set
    shapes = load_shapes(config.collection)[0]
    geodesic = {k: SurfaceDistance(v) for k, v in shapes.items()}
    kinds = set()
    count = 1 + sum(n for _, n in config.extra_negatives)
    for s in samples(out):
        meta = json.loads(s["json"])
        negs, p, a = meta["negatives"], meta["positive"], meta["anchor"]
        assert len(negs) == count and negs[0]["point"] == meta["negative"]["point"]
        assert {negative_key(k, z) for k in range(count) for z in range(3)} <= set(triplet_images(s))
        for n in negs:
            kinds.add(n["kind"])
            # the reference: the positive, or for another shape's point the anchor's correspondence there
            ref = p if n["shape"] == p["shape"] else a
            if n["kind"] == "other-shape":
                assert n["shape"] != p["shape"] and n["category"] == p["category"]
                if n["shape"] != a["shape"]:  # the positive is the anchor's view: reference on the partner
                    continue
            base = Camera.from_json(p["base_camera"])
            assert n["base_camera"] == p["base_camera"]
            xy, _ = base.world_to_pixels(np.array([ref["point"], n["point"]]))
            assert abs(np.linalg.norm(xy[0] - xy[1]) - n["pixel_distance"]) < 0.01
            d = geodesic[n["shape"]].from_point(ref["face"], np.array(ref["point"]), np.array([n["face"]]),
                                                np.array([n["point"]]))[0]
            assert abs(d - n["surface_distance"]) < 1e-6
            if n["kind"] == "near":
                assert config.near_px[0] <= n["pixel_distance"] <= config.near_px[1]
                assert n["surface_distance"] >= config.near_surface
            else:
                assert n["surface_distance"] >= config.min_distance
    assert {"near", "other-shape"} <= kinds


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        TripletConfig(negatives=("nearest",))
    with pytest.raises(ValueError):
        TripletConfig(other_shape=1.5)
    with pytest.raises(ValueError):
        TripletConfig(extra_negatives=(("nearest", 2),))


def test_preview_draws_whole_views_with_each_role_marked_where_it_lies(triplet_set, tmp_path):
    from sketchgen.datagen.preview import preview, triplet_tiles
    from sketchgen.datagen.schema import triplet_roles
    from sketchgen.errors import InputError

    _, out, _ = triplet_set
    got = samples(out)
    colours = {"a": (0, 170, 0), "p": (255, 80, 0), "n": (0, 0, 255)}  # BGR: anchor, positive, negatives
    for s in got[:3]:
        meta = json.loads(s["json"])
        tiles, labels = triplet_tiles(s)
        assert len(tiles) == len(labels) == len(meta["drawings"])      # one whole drawing per view
        assert all(t.shape == (384, 384, 3) for t in tiles)             # the views' own size, not zooms
        for prefix, role in triplet_roles(meta):
            view = role["views"][0]
            x, y = (int(v) for v in view["window"][:2])
            box = tiles[int(view["view"])][max(y - 8, 0):y + 9, max(x - 8, 0):x + 9].astype(int)
            # the role's marker ring (radius 6 px) lies around its point, in its colour
            assert (np.abs(box - colours[prefix[0]]).sum(axis=2) < 90).any(), (s["__key__"], prefix)
        kinds = [n["kind"] for n in meta["negatives"]]
        assert all(f"n{k} {kind}" in " ".join(labels) for k, kind in enumerate(kinds) if k)
    # choosing samples: by split, by shape, by key; a filter that matches nothing is one error
    key, split, shape = got[1]["__key__"], got[1]["__split__"], json.loads(got[1]["json"])["anchor"]["shape"]
    sheet = cv2.imread(str(preview(out, tmp_path / "one.png", key=key)))
    assert sheet.shape[1] < 3 * 384 + 40 and sheet.shape[0] < 384 + 60  # one row: that sample's views
    assert preview(out, tmp_path / "split.png", split=split, shape=shape, limit=2).is_file()
    with pytest.raises(InputError, match="no sample of shape 'nope'"):
        preview(out, tmp_path / "none.png", shape="nope")


def test_keypoint_anchors_are_the_shapes_keypoints(triplet_set):
    from sketchgen.datagen.plan import plan_units
    from sketchgen.datagen.triplets import build_unit

    config, _, _ = triplet_set
    shapes = load_shapes(config.collection)[0]
    units = plan_units([(k, v.category) for k, v in shapes.items()])
    kp_config = TripletConfig(collection=config.collection, seed=1, camera=ViewConfig(views=2, size=256),
                              points=2, anchors="keypoints", size=64, negatives=("random",))
    got, _ = build_unit(units[0], kp_config)
    assert got
    shape = shapes[units[0].shape_id]
    keypoints = shape.keypoint_points()
    for s in got:
        anchor = json.loads(s["json"])["anchor"]
        # the anchor is one of the shape's keypoints (same face, same point)
        k = np.argmin(np.linalg.norm(keypoints - anchor["point"], axis=1))
        assert np.linalg.norm(keypoints[k] - anchor["point"]) < 1e-9 and anchor["face"] == shape.keypoints.face[k]


def test_positive_views_within_the_angle_only():
    from sketchgen.datagen.triplets import near_views, view_angles

    cams = [ring_camera(a) for a in (0, 30, 90, 170)]
    angles = view_angles(cams, 0)
    np.testing.assert_allclose(angles, [0, 30, 90, 170], atol=1e-6)
    assert near_views(np.array([1, 2, 3]), angles, 60.0).tolist() == [1]
    assert near_views(np.array([2, 3]), angles, 60.0).tolist() == []  # none within 60: none (--max-angle kept)
    assert near_views(np.array([2, 3]), angles, None).tolist() == [2, 3]


def test_positives_on_strokes_keeps_the_views_where_the_point_meets_a_stroke():
    from types import SimpleNamespace

    from sketchgen.datagen.triplets import on_strokes

    cam = Camera.from_json({"position": [0.0, 0.0, 3.0], "look_at": [0, 0, 0], "up": [0, 1, 0], "yfov_deg": 40.0,
                            "width": 64, "height": 64})
    point = np.array([0.0, 0.0, 0.0])  # the image centre, pixel (32, 32)
    xy = {0: [[35.0, 32.0]], 1: [[32.0, 33.5], [10.0, 10.0]], 2: np.zeros((0, 2))}
    holder = SimpleNamespace(cameras=[cam] * 3, view=lambda j: SimpleNamespace(xy=np.asarray(xy[j], float)))
    views = np.array([0, 1, 2])
    assert on_strokes(holder, views, point, 2.0).tolist() == [1]      # 3 px away, 1.5 px away, no strokes
    assert on_strokes(holder, views, point, 3.0).tolist() == [0, 1]
    assert on_strokes(holder, views, point, None).tolist() == [0, 1, 2]


def _zoom_ratios(out) -> np.ndarray:
    """(roles, 2) window half-sizes of zooms 1 and 2 over zoom 0's: (z1 - u) / (z0 - u), (z2 - u) / (z0 - u)."""
    ratios = []
    for s in samples(out):
        meta = json.loads(s["json"])
        for role in ("anchor", "positive", "negative"):
            t = np.array([v["window"][2] for v in meta[role]["views"]])
            ratios.append(t[1:] / t[0])
    return np.array(ratios)


def test_zoom_jitter_zero_draws_every_role_at_the_fixed_zooms(triplet_set, tmp_path):
    # SketchZooms' jitter (the default, 0.3) moves each role's zooms: the ratios vary from role to role
    jittered = _zoom_ratios(triplet_set[1])
    assert jittered[:, 1].max() - jittered[:, 1].min() > 0.05
    spec = tiny_spec(tmp_path)
    config = TripletConfig(collection=str(spec), seed=3, camera=ViewConfig(views=2, size=256), points=2, size=64,
                           other_shape=0.0, extra_negatives=(), zoom_jitter=0.0, positive_px=2.0)
    kept = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=config,
                       out_dir=tmp_path / "out", progress=False)
    fixed = _zoom_ratios(tmp_path / "out")
    assert len(fixed) >= 6
    np.testing.assert_allclose(fixed, np.tile([130 / 180, 80 / 180], (len(fixed), 1)), rtol=1e-6)
    # positives within 2 base-view px of a stroke; at 1e-3 px (the stroke points are 3 px apart) only a
    # point that projects onto one exactly, such as a corner where strokes meet, is left
    exact = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", out_dir=tmp_path / "exact",
                        progress=False, config=TripletConfig(**{**vars(config), "positive_px": 1e-3}))
    assert exact["samples"] <= kept["samples"] / 3
    with pytest.raises(ValueError):
        TripletConfig(positive_px=0.0)
    with pytest.raises(ValueError):
        TripletConfig(zoom_jitter=0.8)


def test_elevation_flag_bounds_the_base_cameras():
    from sketchgen.cli import resolve
    from sketchgen.cli.commands.triplets import view_config
    from sketchgen.datagen.sketchviews import base_cameras
    from sketchgen.errors import UsageError

    args = resolve(["pairs", "--preset", "demo", "--elevation", "-5", "20", "--out", "o"])
    config = view_config(args, size=256)
    assert (config.elevation, config.views, config.size) == ((-5.0, 20.0), 6, 256)
    cams = base_cameras(config, np.random.default_rng(0))
    # elevation of each camera's position above the XZ plane, seen from the origin it looks at
    pos = np.array([c.pose[:3, 3] for c in cams])
    elevation = np.degrees(np.arcsin(pos[:, 1] / np.linalg.norm(pos, axis=1)))
    assert len(cams) == 6 and (elevation >= -5 - 1e-9).all() and (elevation <= 20 + 1e-9).all()
    assert view_config(resolve(["triplets", "--out", "o"])).elevation == ViewConfig().elevation
    with pytest.raises(UsageError, match="LOW < HIGH"):
        view_config(resolve(["triplets", "--elevation", "30", "10", "--out", "o"]))


def test_kinds_not_made_are_counted_never_replaced(tmp_path):
    """One chair, every positive asked from another shape: none can be made, and no view positive stands
    in for them; the summary counts them with the reason."""
    spec = tiny_spec(tmp_path, n=1)
    config = TripletConfig(collection=str(spec), seed=1, camera=ViewConfig(views=2, size=128), points=2,
                           size=SIZE, other_shape=1.0, extra_negatives=())
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=config,
                          out_dir=tmp_path / "out", progress=False)
    counts = summary["summary"]
    assert summary["samples"] == 0 and counts["made"] == {}
    # 2 views x 2 anchors, each drawn as other-shape (other_shape 1)
    assert counts["not_made"] == {"other-shape": 4}
    assert counts["reasons"]["not-made"] == [["no other shape of the category in the split", 4]]
    assert "made 0 (none); dropped 0 (none); not made 4 (other-shape 4)" in counts["line"]
    # the category made no cross-shape sample: one line names it
    assert counts["declined"] == {"chair": [4, "no other shape of the category in the split"]}
    assert counts["declined_lines"] == ["category chair: no cross-shape sample made (4 not made; most often: "
                                        "no other shape of the category in the split)"]


def test_keypoint_anchors_without_keypoints_fail_before_any_unit(tmp_path, capsys):
    from sketchgen.cli import main
    from tests.ingest.layout_trees import coseg

    coseg(tmp_path / "cs", {"chairs": 2})
    code = main(["triplets", "--collection", str(tmp_path / "cs"), "--out", str(tmp_path / "out"),
                 "--anchors", "keypoints", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--anchors keypoints, but no shape of the collection has keypoints" in err
    assert not list((tmp_path / "out").glob("*/*.tar"))


def test_every_build_ends_with_its_summary_line(tmp_path, capsys):
    from sketchgen.cli import main

    spec = tiny_spec(tmp_path, n=2)
    assert main(["triplets", "--collection", str(spec), "--out", str(tmp_path / "out"), "--views", "2",
                 "--points", "2", "--size", "64", "--extra-negatives", "", "--no-progress", "--max-angle", "1"]) == 0
    lines = [l for l in capsys.readouterr().err.splitlines() if l.startswith("triplets: made")]
    assert len(lines) == 1
    got = samples(tmp_path / "out")
    # --max-angle 1: two random views are never within 1 degree, so every view positive is not made
    made = {k: sum((json.loads(s["json"])["positive_source"] == "shape") == (k == "other-shape") for s in got)
            for k in ("view", "other-shape")}
    assert made["view"] == 0
    assert f"made {len(got)} " in lines[0] and "no view within 1 degrees shows the positive" in lines[0]
