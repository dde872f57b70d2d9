"""Dataset layouts read in place: discovery rows (ids, categories without building meshes), loading,
label checks, strict mode; on small trees named as each dataset ships, and on the real-world fixtures."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sketchgen.cli import main
from sketchgen.errors import InputError
from sketchgen.ingest.collection import load_collection
from sketchgen.ingest.layouts import discover, psb_category
from sketchgen.ingest.loaders import load_row
from tests.ingest import layout_trees as trees

from shared_data import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "realworld"
A, B, C = "1a2b3c4d5e6f708192a3b4c5d6e7f801", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", "0123456789abcdef0123456789abcdef"


# ------------------------------------------------------------------------------------------ ShapeNetCore
def test_shapenetcore_v2_ids_categories_groups(tmp_path):
    trees.shapenetcore_v2(tmp_path / "ShapeNetCore.v2", {A: ["seat", "back", "leg"], B: ["seat", "back"]})
    (tmp_path / "ShapeNetCore.v2" / "taxonomy.json").write_text(json.dumps(
        [{"synsetId": trees.CHAIR, "name": "chair,seat", "children": [], "numInstances": 2}]))
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [
        (A, "chair", "shapenetcore-v2"), (B, "chair", "shapenetcore-v2")]
    assert [r["mesh"].name for r in rows] == ["model_normalized.obj"] * 2
    coll = load_collection(tmp_path)
    assert not coll.failures and coll.layouts == {"shapenetcore-v2": 2}
    a, b = coll.shapes
    assert (a.shape_id, a.category, a.n_faces, len(a.parts)) == (A, "chair", 36, 3)
    assert (b.shape_id, b.n_faces, len(b.parts)) == (B, 24, 2)
    assert sorted(a.part_names.values()) == ["back", "leg", "seat"] and len(a.keypoints) == 0 and not a.notes


def test_metadata_json_beside_a_plain_mesh_is_not_keypoints(tmp_path):
    """A ShapeNet model copied into a flat folder keeps its metadata JSON: ignored, not a failure."""
    trees.shapenetcore_v2(tmp_path / "src", {A: ["seat", "back"]})
    flat = tmp_path / "flat" / "chair"
    flat.mkdir(parents=True)
    models = tmp_path / "src" / trees.CHAIR / A / "models"
    for suffix in (".obj", ".mtl", ".json"):
        (flat / f"model_normalized{suffix}").write_bytes((models / f"model_normalized{suffix}").read_bytes())
    coll = load_collection(tmp_path / "flat")
    assert not coll.failures and coll.shapes[0].n_faces == 24 and len(coll.shapes[0].parts) == 2


# ------------------------------------------------------------------------------------------ ShapeNet-Part
def _check_part_labels(shape, n_boxes):
    x = shape.vertices[shape.faces].mean(axis=1)[:, 0]
    order = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    box = order // 12  # 12 faces per box, boxes ordered along x
    assert len(shape.parts) == n_boxes
    # one label per box, a different one for each box
    assert all(len(np.unique(shape.face_labels[box == k])) == 1 for k in range(n_boxes))
    assert len({int(shape.face_labels[box == k][0]) for k in range(n_boxes)}) == n_boxes


def test_shapenet_part_joined_under_one_folder(tmp_path):
    """Both trees under one folder: only meshes with labels are listed, joined by model id."""
    trees.shapenetcore_v2(tmp_path / "ShapeNetCore.v2", {A: ["a", "b"], B: ["a", "b"], C: ["a", "b"]})
    trees.shapenet_part(tmp_path / "shapenetcore_partanno_segmentation_benchmark_v0",
                        {A: 2, B: 2, "ffff0000ffff0000": 2})
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [
        (A, "chair", "shapenetcore-v2+shapenet-part"), (B, "chair", "shapenetcore-v2+shapenet-part")]
    assert rows[0]["points"].name == f"{A}.pts" and rows[0]["labels"].name == f"{A}.seg"
    assert rows[0]["labels"].parent.name == "points_label"


def test_shapenet_part_labels_reach_faces_with_a_trees_file(tmp_path):
    core, part = tmp_path / "data" / "ShapeNetCore.v2", tmp_path / "labels" / "partanno"
    trees.shapenetcore_v2(core, {A: ["a", "b", "c"], B: ["a", "b"]})
    trees.shapenet_part(part, {A: 3, B: 2})
    spec = tmp_path / "trees.json"
    spec.write_text(json.dumps({"meshes": "data/ShapeNetCore.v2", "part_labels": "labels/partanno"}))
    coll = load_collection(spec)
    assert not coll.failures and [s.shape_id for s in coll.shapes] == [A, B]
    assert coll.layouts == {"shapenetcore-v2+shapenet-part": 2}
    a, b = coll.shapes
    _check_part_labels(a, 3)
    _check_part_labels(b, 2)
    assert a.checks["points"]["n"] == 600 and a.checks["points"]["relative_p90"] < 1e-4 and not a.notes
    # the same with the option instead of the file
    again = load_collection(core, part_labels=part)
    assert np.array_equal(again.shapes[0].face_labels, a.face_labels)


def test_points_in_another_frame_warn_and_fail_under_strict(tmp_path):
    core, part = tmp_path / "ShapeNetCore.v2", tmp_path / "partanno"
    trees.shapenetcore_v2(core, {A: ["a", "b", "c"]})
    turn = np.array([[0, 0, 1, 0.3], [0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 1]], float)  # 90 deg about y, shifted
    trees.shapenet_part(part, {A: 3}, transform=turn)
    (shape,) = load_collection(core, part_labels=part).shapes
    (note,) = shape.notes
    assert f"{A}.pts" in note and "from the mesh surface" in note and "\n" not in note
    assert shape.checks["points"]["relative_p90"] > 0.1
    strict = load_collection(core, part_labels=part, strict=True)
    assert not strict.shapes and len(strict.failures) == 1
    assert f"{A}.pts" in strict.failures[0].reason and strict.failures[0].category == "chair"
    assert strict.failures[0].shape_id == A


def test_shapenet_part_without_meshes_says_so(tmp_path):
    trees.shapenet_part(tmp_path / "partanno", {A: 2})
    with pytest.raises(InputError, match="no ShapeNetCore mesh"):
        discover(tmp_path)


# ---------------------------------------------------------------------------------------------- PartNet
def test_partnet_v0_category_from_meta_and_skipped_leaves(tmp_path):
    root = tmp_path / "data_v0"
    trees.partnet(root, "2001")
    trees.partnet(root, "2002", missing=(2,))
    trees.partnet(root, "2003", empty=(3,), model_cat="StorageFurniture")
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"], r["model_id"]) for r in rows] == [
        ("2001", "chair", "partnet", "m2001"), ("2002", "chair", "partnet", "m2002"),
        ("2003", "storagefurniture", "partnet", "m2003")]
    coll = load_collection(tmp_path)
    assert not coll.failures
    full, missing, empty = coll.shapes
    assert (full.n_faces, len(full.parts), full.notes) == (48, 3, ())
    assert (missing.n_faces, len(missing.parts), missing.category) == (36, 3, "chair")
    (note,) = missing.notes
    assert "2002/objs/new-2.obj" in note and "no such file" in note and "chair_base" in note
    (note,) = empty.notes
    assert "2003/objs/new-3.obj" in note and "no faces" in note
    strict = load_collection(tmp_path, strict=True)
    assert [s.shape_id for s in strict.shapes] == ["2001"]
    assert sorted(f.shape_id for f in strict.failures) == ["2002", "2003"]
    assert {f.category for f in strict.failures} == {"chair", "storagefurniture"}


def test_partnet_every_leaf_missing_fails_with_the_reason(tmp_path):
    trees.partnet(tmp_path, "2004", missing=(0, 1, 2, 3))
    coll = load_collection(tmp_path)
    (failure,) = coll.failures
    assert "names no OBJ file that loads" in failure.reason and "new-0.obj" in failure.reason
    assert failure.category == "chair" and failure.shape_id == "2004"


def test_partnet_mobility(tmp_path):
    trees.partnet(tmp_path / "dataset", "7128", model_cat="Faucet", mobility=True)
    (tmp_path / "dataset" / "7128" / "mobility_v2.json").write_text("[]")
    (row,) = discover(tmp_path)
    assert (row["id"], row["category"], row["layout"]) == ("7128", "faucet", "partnet-mobility")
    shape = load_row(row)
    assert (shape.n_faces, len(shape.parts), shape.category) == (48, 3, "faucet")


# ------------------------------------------------------------------------------------------ KeypointNet
def test_keypointnet_annotations_and_ply_meshes(tmp_path):
    trees.keypointnet(tmp_path / "KeypointNet", [A, B], missing_mesh=C)
    rows = discover(tmp_path)
    # sorted by mesh path: C's (missing) PLY name sorts first
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [
        (C, "chair", "keypointnet"), (A, "chair", "keypointnet"), (B, "chair", "keypointnet")]
    assert rows[1]["mesh"].suffix == ".ply" and rows[1]["keypoints"].name == "chair.json"
    coll = load_collection(tmp_path)
    assert [(s.shape_id, len(s.keypoints), s.n_faces) for s in coll.shapes] == [(A, 1, 36), (B, 2, 36)]
    np.testing.assert_array_equal(coll.shapes[1].keypoints.face, [3, 15])
    (failure,) = coll.failures
    assert failure.shape_id == C and f"{C}.ply" in failure.reason and failure.category == "chair"


# --------------------------------------------------------------------------------------------- PSB/COSEG
def test_psb_as_shipped(tmp_path):
    trees.psb_benchmark(tmp_path / "data", {61: 2, 104: 3, 262: 1})
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [
        ("104", "chair", "psb"), ("262", "spring", "psb"), ("61", "airplane", "psb")]
    assert rows[0]["labels"].name == "104_0.seg" and rows[0]["labels"].parent.parent.name == "Benchmark"
    coll = load_collection(tmp_path)
    chair = coll.get("104")
    assert chair.n_faces == 36
    np.testing.assert_array_equal(np.bincount(chair.face_labels), [12, 12, 12])
    assert psb_category(1) == "human" and psb_category(400) == "fourleg" and psb_category(401) == "unknown"


def test_psb_flat_folders(tmp_path):
    for category, n, boxes in (("airplane", 61, 2), ("chair", 104, 3)):
        (tmp_path / category).mkdir()
        trees.write_off(tmp_path / category / f"{n}.off", boxes)
        trees.write_labels(tmp_path / category / f"{n}.seg", np.repeat(np.arange(boxes) * 7, 12))
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [("61", "airplane", "psb"), ("104", "chair", "psb")]
    coll = load_collection(tmp_path)
    assert sorted(np.unique(coll.get("104").face_labels).tolist()) == [0, 7, 14]


def test_coseg_shapes_and_gt(tmp_path):
    trees.coseg(tmp_path / "coseg", {"Vases": 2, "Large-Chairs": 1})
    rows = discover(tmp_path)
    assert [(r["id"], r["category"], r["layout"]) for r in rows] == [
        ("Large-Chairs-1", "large-chairs", "coseg"), ("Vases-1", "vases", "coseg"), ("Vases-2", "vases", "coseg")]
    coll = load_collection(tmp_path)
    assert [(s.shape_id, s.n_faces, len(s.parts)) for s in coll.shapes] == [
        ("Large-Chairs-1", 24, 2), ("Vases-1", 24, 2), ("Vases-2", 36, 3)]


# -------------------------------------------------------------------------------------------- mixed/order
def test_one_folder_holding_several_layouts_in_a_fixed_order(tmp_path):
    trees.partnet(tmp_path / "partnet", "2001")
    trees.coseg(tmp_path / "coseg", {"Vases": 1})
    trees.shapenetcore_v2(tmp_path / "ShapeNetCore.v2", {A: ["a", "b"]})
    (tmp_path / "loose").mkdir()
    trees.write_off(tmp_path / "loose" / "thing.off", 1)
    first, second = discover(tmp_path), discover(tmp_path)
    assert first == second
    assert sorted(r["layout"] for r in first) == ["coseg", "partnet", "plain", "shapenetcore-v2"]
    coll = load_collection(tmp_path)
    assert len(coll.shapes) == 4 and not coll.failures
    assert coll.layouts == {"coseg": 1, "partnet": 1, "plain": 1, "shapenetcore-v2": 1}


def test_collection_info_shows_warnings_and_layouts(tmp_path, capsys):
    trees.partnet(tmp_path, "2002", missing=(2,))
    assert main(["collection", "info", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = data["shapes"]
    assert row["status"] == "warning" and row["id"] == "2002" and row["category"] == "chair"
    assert data["layouts"] == {"partnet": 1} and data["totals"]["warning"] == 1
    assert len(data["notes"]) == 1 and "new-2.obj" in data["notes"][0]["note"]
    assert main(["collection", "info", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "layouts: partnet (1)" in text and "warnings (1):" in text and "new-2.obj" in text
    assert main(["collection", "info", str(tmp_path), "--strict", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["failed"] == 1 and "new-2.obj" in data["shapes"][0]["status"]


# --------------------------------------------------------------------------------- real-world fixtures
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared real-world fixtures not present")


@needs_fixtures
def test_fixture_shapenetcore_v2():
    coll = load_collection(FIXTURES / "shapenetcore_v2")
    assert not coll.failures
    assert [s.shape_id for s in coll.shapes] == [A, B]
    assert all((s.category, s.n_faces, len(s.parts)) == ("chair", 72, 3) for s in coll.shapes)


@needs_fixtures
def test_fixture_labels_other_frame():
    root = FIXTURES / "labels_other_frame"
    truth = np.load(root / "true_face_labels.npy")
    (aligned,) = load_collection(root / "aligned").shapes
    assert len(aligned.parts) == 2 and not aligned.notes
    np.testing.assert_array_equal(np.bincount(aligned.face_labels), [0, 128, 12])  # ShapeNet-Part's 1-based
    np.testing.assert_array_equal(aligned.face_labels, truth)
    (misaligned,) = load_collection(root / "misaligned").shapes
    (note,) = misaligned.notes
    assert "m1.pts" in note and "from the mesh surface" in note
    assert misaligned.checks["points"]["relative_p90"] > 0.2
    strict = load_collection(root / "misaligned", strict=True)
    assert not strict.shapes and "m1.pts" in strict.failures[0].reason


@needs_fixtures
def test_fixture_partnet_v0():
    coll = load_collection(FIXTURES / "partnet_v0")
    assert not coll.failures
    by_id = {s.shape_id: s for s in coll.shapes}
    assert sorted(by_id) == ["1001", "1002", "1003", "1004"]
    assert {s.category for s in coll.shapes} == {"chair"}
    assert all(len(s.parts) == 3 for s in coll.shapes)
    assert by_id["1001"].notes == () and by_id["1004"].notes == ()
    assert any("new-5.obj" in n and "no such file" in n for n in by_id["1002"].notes)
    assert any("new-6.obj" in n and "no faces" in n for n in by_id["1003"].notes)


@needs_fixtures
def test_fixture_psb():
    coll = load_collection(FIXTURES / "psb")
    assert not coll.failures and len(coll.shapes) == 10
    assert sorted(s.shape_id for s in coll.shapes) == sorted(["61", "62", "63", "64", "65",
                                                                "104", "105", "106", "107", "108"])
    for s in coll.shapes:
        seg = np.loadtxt(FIXTURES / "psb" / s.category / f"{s.shape_id}.seg", dtype=np.int64)
        assert len(seg) >= s.n_faces >= 10_000 and len(s.parts) >= 6
        np.testing.assert_array_equal(s.face_labels, seg[s.file_face])


def test_dataset_manifest_lists_notes_and_strict_failures(tmp_path):
    """A generated dataset's manifest carries the collection's warnings; with strict the shape fails."""
    from sketchgen.datagen.execute import run_dataset
    from sketchgen.datagen.triplets import TripletConfig, ViewConfig

    trees.partnet(tmp_path / "data_v0", "2001")
    trees.partnet(tmp_path / "data_v0", "2002", missing=(2,))
    for strict in (False, True):
        config = TripletConfig(collection=str(tmp_path / "data_v0"), seed=3, strict=strict,
                               camera=ViewConfig(views=2, size=128), points=1, size=64)
        out = tmp_path / f"out{int(strict)}"
        run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=config, out_dir=out,
                    progress=False)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["config"]["strict"] is strict
        if not strict:
            assert sorted(manifest["collection"]["shapes"]) == ["2001", "2002"]
            (note,) = manifest["collection"]["notes"]
            assert note["shape"] == "2002" and "new-2.obj" in note["note"]
        else:
            # the index plans 2002 without loading it; its unit loads it, fails it and says why
            assert manifest["collection"]["notes"] == []
            assert [r["shape"] for r in manifest["shards"]] == ["2001"]
            (failure,) = [f for f in manifest["failures"] if f.get("shape") == "2002"]
            assert "new-2.obj" in failure["reason"] and "(strict)" in failure["reason"]
            assert failure["category"] == "chair"


def test_shapenet_part_normal_release(tmp_path):
    """``shapenetcore_partanno_segmentation_benchmark_v0_normal``: one ``<id>.txt`` per model, with
    ``x y z nx ny nz label`` per point."""
    trees.shapenetcore_v2(tmp_path / "ShapeNetCore.v2", {A: ["a", "b", "c"], B: ["a", "b"]})
    plain = tmp_path / "plain"
    trees.shapenet_part(plain, {A: 3})
    normal = tmp_path / "shapenetcore_partanno_segmentation_benchmark_v0_normal" / trees.CHAIR
    normal.mkdir(parents=True)
    pts = np.loadtxt(plain / trees.CHAIR / "points" / f"{A}.pts")
    seg = np.loadtxt(plain / trees.CHAIR / "points_label" / f"{A}.seg")
    np.savetxt(normal / f"{A}.txt", np.column_stack([pts, np.zeros_like(pts), seg + 11]), fmt="%.5f")
    shutil.rmtree(plain)
    (row,) = discover(tmp_path)
    assert row["id"] == A and row["points"] == row["labels"] == normal / f"{A}.txt"
    shape = load_row(row)
    _check_part_labels(shape, 3)
    assert sorted(np.unique(shape.face_labels).tolist()) == [12, 13, 14] and not shape.notes


def test_partnet_mobility_with_several_roots_loads_through_the_index(tmp_path, monkeypatch):
    """PartNet-Mobility lists several roots in result.json (one per movable body): each root is a
    part, in the index's part numbering as in the loader's (a mismatch failed the shape)."""
    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "cache"))
    trees.partnet(tmp_path / "dataset", "7128", model_cat="Faucet", mobility=True)
    tree_path = tmp_path / "dataset" / "7128" / "result.json"
    (single,) = json.loads(tree_path.read_text())
    tree_path.write_text(json.dumps(single["children"]))  # seat, back and base as three roots
    coll = load_collection(tmp_path / "dataset")
    assert not coll.failures, coll.failures
    (shape,) = coll.shapes
    assert (shape.shape_id, shape.category, shape.n_faces) == ("7128", "faucet", 48)
    assert sorted(shape.part_names.values()) == ["chair_back", "chair_base", "chair_seat"]
    faces_of = {shape.part_names[int(k)]: int(n) for k, n in zip(*np.unique(shape.face_labels, return_counts=True))}
    assert faces_of == {"chair_seat": 12, "chair_back": 12, "chair_base": 24}


def _ball(path: Path, k: int):
    """An icosphere stretched by ``k`` (every file's bytes differ)."""
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=1)
    mesh.vertices *= [1.0 + 0.1 * k, 1.0, 1.0]
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(path)


def test_links_never_loop_and_a_file_reached_twice_is_one_shape(tmp_path):
    import os

    from sketchgen.datagen.execute import shape_contents
    from sketchgen.datagen.plan import load_shapes, plan_units

    root = tmp_path / "coll"
    for k, name in enumerate(("a", "b", "c")):
        _ball(root / "chair" / f"{name}.ply", k)
    os.symlink("..", root / "chair" / "up")                      # a link back to the root: a loop
    os.symlink(tmp_path, root / "chair" / "home")                 # a link to a folder holding the tree
    os.symlink(root / "chair", root / "chair_again")              # a second name for a folder of the tree
    os.symlink("a.ply", root / "chair" / "a_link.ply")            # a second name for a file
    os.link(root / "chair" / "b.ply", root / "chair" / "b_hard.ply")  # a hard link
    outside = tmp_path / "elsewhere" / "tables"
    _ball(outside / "t.ply", 7)
    os.symlink(outside, root / "table")                           # a folder outside: followed, once
    os.symlink(outside, root / "table_again")
    rows = discover(root)
    assert sorted(str(Path(r["mesh"]).relative_to(root)) for r in rows) == \
        ["chair/a.ply", "chair/b.ply", "chair/c.ply", "table/t.ply"]
    assert [r["category"] for r in rows] == ["chair", "chair", "chair", "table"]
    # as a dataset plans it: four shapes, each in one split, the copy below in the split of its original
    shutil.copy(root / "chair" / "c.ply", root / "chair" / "d.ply")
    shapes, failures = load_shapes(str(root))
    members = shapes.members()
    assert len(members) == 5 and not failures
    units = plan_units(members, content=shape_contents(shapes, members))
    assert len({u.shape_id for u in units}) == 5 == len(units)
    split = {u.shape_id: u.split for u in units}
    copies = [s for s, _ in members if shapes.index.entry(s).mesh.endswith(("c.ply", "d.ply"))]
    assert len(copies) == 2 and split[copies[0]] == split[copies[1]]
