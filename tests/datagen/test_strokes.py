"""Strokes are the sample: every drawn image's strokes, stored beside it, reproduce it; their 3D points
project to their positions; stored correspondences lie on the drawing; styles are seeded per sample."""

import io
import json

import cv2
import numpy as np
import pytest

from sketchgen.datagen.deform import Deformation, ThinPlateSpline
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.regenerate import regenerate_key
from sketchgen.datagen.schema import triplet_roles
from sketchgen.datagen.sketchviews import ViewConfig
from sketchgen.datagen.stylemix import parse_style_mix
from sketchgen.datagen.triplets import TripletConfig
from sketchgen.render.camera import Camera
from sketchgen.render.strokearrays import StrokeArrays, draw_strokes
from tiny_datasets import samples, tiny_spec

MIX = "clean:0.5,sketchy:0.5"


def _grey(data):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("strokes")
    spec = str(tiny_spec(folder))
    out = {}
    for style in ("clean", MIX):
        trip = TripletConfig(collection=spec, seed=2, camera=ViewConfig(views=3, size=256), points=2, size=112,
                             style=parse_style_mix(style))
        pair = PairConfig(collection=spec, seed=2, camera=ViewConfig(views=3, size=96), pairs=6,
                          style=parse_style_mix(style))
        for name, config in (("triplets", trip), ("pairs", pair)):
            where = folder / f"{name}-{style.replace(':', '').replace(',', '-')}"
            run_dataset(dataset=name, builder=f"sketchgen.datagen.{name}", config=config, out_dir=where,
                        progress=False)
            out[name, style] = (where, samples(where))
    return out


def _images(sample):
    """(image member, StrokeArrays, camera JSON) of every drawn image of a pair, and of every view a
    triplet draws (its ``v<k>.strokes.npz``, in the pixels of its base camera)."""
    meta = json.loads(sample["json"])
    if meta["kind"] == "triplet":
        for drawing in meta["drawings"]:
            yield drawing["member"], StrokeArrays.from_npz(sample[drawing["member"]]), drawing["camera"]
        return
    for name in sorted(sample):
        if not name.endswith(".strokes.npz"):
            continue
        yield name.replace(".strokes.npz", ".png"), StrokeArrays.from_npz(sample[name]), meta[name[0]]["camera"]


@pytest.mark.parametrize("style", ["clean", MIX])
@pytest.mark.parametrize("name", ["triplets", "pairs"])
def test_strokes_rasterised_reproduce_every_png_and_points_project_to_their_vertices(built, name, style):
    _, got = built[name, style]
    assert len(got) >= 6
    styles, drawn, moved = set(), 0, 0
    for s in got:
        meta = json.loads(s["json"])
        styles.add(meta["style"])
        if name == "pairs":
            sketches = [n for n in ("a.png", "b.png") if n in s and _grey(s[n]).ndim == 2]
            assert {n for n, _, _ in _images(s)} == set(sketches)  # strokes beside every line drawing, no other
        else:
            assert not [n for n in s if n.endswith(".png")]  # a triplet's zooms are redrawn, not stored
        for image, rec, camera in _images(s):
            cam = Camera.from_json(camera)
            if name == "pairs":
                png = _grey(s[image])
                assert len(rec) > 0 and (draw_strokes([rec], png.shape[1], png.shape[0])[0] == png).all(), (s["__key__"], image)
            drawn += 1
            exact, _ = cam.world_to_pixels(rec.point.astype(np.float64))
            position = exact + rec.offset
            if meta.get("pair_kind") == "deform" and image == "b.png":  # the source strokes, deformed
                d = meta["deformation"]
                tps = None if d["tps_src"] is None else ThinPlateSpline.fit(d["tps_src"], d["tps_dst"])
                deformation = Deformation(np.array(d["matrix"]), np.array(d["offset"]), tps, cam.width, cam.height)
                position = deformation.apply(position)
            assert np.abs(position - rec.xy).max() < 2e-3, (s["__key__"], image)
            assert rec.kind.max() <= 3 and (rec.part >= 0).all() and (np.diff(rec.stroke) >= 0).all()
            if meta["style"] == "clean":
                assert not rec.offset.any()
                # a deformed B's strokes are A's moved by the deformation, not B's camera projection
                if not (meta.get("pair_kind") == "deform" and image == "b.png"):
                    assert np.abs(exact - rec.xy).max() < 0.5, (s["__key__"], image)
            else:
                moved += int(np.abs(rec.offset).max() > 0.5)
    if name == "triplets":
        # a triplet draws each (shape, base view) of its roles once
        views = sum(len({(r["shape"], r["base_view"]) for _, r in triplet_roles(json.loads(s["json"]))})
                    for s in got)
        assert drawn == views
    else:
        assert drawn >= len(got)
    assert styles == ({"clean"} if style == "clean" else {"clean", "sketchy"})
    if style != "clean":
        assert moved >= 3  # the sketchy style really moved its strokes


@pytest.mark.parametrize("style", ["clean", MIX])
def test_triplet_points_lie_on_the_ink_of_their_zooms(built, style):
    # the anchor and every negative are points of the drawn strokes: ink at their stored pixel, clean or
    # sketchy (the style keeps the ink at a zoom's correspondence: no gap there, its stroke never dropped)
    from sketchgen.datagen.schema import negative_key, triplet_images

    _, got = built["triplets", style]
    on = {"clean": [], "sketchy": []}
    for s in got:
        meta = json.loads(s["json"])
        images = triplet_images(s)
        roles = [(meta["anchor"], lambda z: f"a{z}.png")]
        roles += [(neg, lambda z, k=k: negative_key(k, z)) for k, neg in enumerate(meta["negatives"])]
        for role, name in roles:
            for z, view in enumerate(role["views"]):
                img = images[name(z)]
                x, y = view["xy"]
                c, r = int(np.floor(x)), int(np.floor(y))
                # at least a quarter's ink: a pressed-light sketchy stroke (weight 0.6: 0.9 px) through a
                # point midway between pixel centres inks them about 0.45 (``render.raster``)
                on[meta["style"]].append(img[r - 1:r + 2, c - 1:c + 2].min() < 192)
                if meta["style"] == "clean":
                    assert np.abs(np.array(view["xy"]) - 56).max() <= 0.5
    assert len(on["clean"]) >= 12 and all(on["clean"])
    if style != "clean":
        assert len(on["sketchy"]) >= 12 and np.mean(on["sketchy"]) == 1.0, np.mean(on["sketchy"])


def test_pair_flow_and_keypoints_move_with_the_drawing(built):
    for style in ("clean", MIX):
        _, got = built["pairs", style]
        for s in got:
            meta = json.loads(s["json"])
            flow = np.load(io.BytesIO(s["flow.npy"]))
            a, b = _grey(s["a.png"]), _grey(s["b.png"])
            for side in ("a", "b"):
                cam = Camera.from_json(meta[side]["camera"])
                if side == "b" and meta["pair_kind"] == "deform":
                    continue
                for k in meta[side]["keypoints"]:
                    exact, _ = cam.world_to_pixels(np.array([k["point"]]))
                    shift = np.abs(np.array(k["xy"]) - exact[0]).max()
                    shaded_a = side == "a" and meta["modality"] == "sketch-shaded"
                    if meta["style"] == "clean" or shaded_a:
                        assert shift < 1e-6
                    else:
                        assert shift <= 2.0 + 1e-6  # the sketchy wobble's bound
            if meta["pair_kind"] == "deform" and a.ndim == 2:
                # B is A's strokes deformed: the flow takes every inked pixel of A onto the ink of B
                rows, cols = np.nonzero((a < 128) & np.isfinite(flow[..., 0]))
                target = np.stack([cols + 0.5, rows + 0.5], 1) + flow[rows, cols]
                dist = cv2.distanceTransform((b > 128).astype(np.uint8), cv2.DIST_L2, 5)
                t = np.clip(np.floor(target).astype(int), 0, b.shape[0] - 1)
                assert len(rows) > 20 and (dist[t[:, 1], t[:, 0]] <= 1.5).mean() >= 0.99, s["__key__"]


def test_a_sample_of_a_mix_drawn_clean_equals_the_sample_of_a_clean_build(built):
    # per-sample generators: the style mix changes no other choice of a sample
    for name in ("triplets", "pairs"):
        clean = {s["__key__"]: s for s in built[name, "clean"][1]}
        same = 0
        for s in built[name, MIX][1]:
            if json.loads(s["json"])["style"] == "clean":
                other = clean[s["__key__"]]
                assert {k: v for k, v in s.items() if k != "__shard__"} == \
                    {k: v for k, v in other.items() if k != "__shard__"}
                same += 1
        assert same >= 1


@pytest.mark.parametrize("name", ["triplets", "pairs"])
def test_one_sample_regenerated_alone_equals_its_stored_bytes(built, name):
    where, got = built[name, MIX]
    for s in (got[0], got[-1]):
        again = regenerate_key(where, s["__key__"])
        stored = {k: v for k, v in s.items() if k == "__key__" or not k.startswith("__")}
        assert again == stored


def test_sample_command_remakes_a_stored_sample_and_style_flag_is_checked(built, tmp_path, capsys):
    from sketchgen.cli import main

    where, got = built["pairs", MIX]
    key = got[1]["__key__"]
    assert main(["sample", str(where), key, "--out", str(tmp_path / "again")]) == 0
    assert "identical" in capsys.readouterr().err
    assert (tmp_path / "again" / f"{key}.b.strokes.npz").read_bytes() == got[1]["b.strokes.npz"]
    assert main(["sample", str(where), "nosuchshape_0000_0000"]) == 2
    assert "no shape of the collection gives the key" in capsys.readouterr().err
    assert main(["pairs", "--out", str(tmp_path / "x"), "--style", "clean:1,wobbly:1"]) == 2
    assert "unknown style 'wobbly'" in capsys.readouterr().err
    assert parse_style_mix("sketchy") == (("sketchy", 1.0),)
    assert parse_style_mix("clean:1,sketchy:3") == (("clean", 0.25), ("sketchy", 0.75))


def test_sample_command_on_a_manifest_without_a_config_says_so(tmp_path, capsys):
    from sketchgen.cli import main

    (tmp_path / "manifest.json").write_text('{"dataset": "pairs"}')
    assert main(["sample", str(tmp_path), "mug_000_0000_0000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "manifest.json: holds no builder config" in err
