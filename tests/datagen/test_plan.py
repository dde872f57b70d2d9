import hashlib
import subprocess
import sys

import numpy as np
import pytest

from sketchgen.datagen.plan import assign_splits, plan_units, select_units, unit_rng, unit_seed


def _shapes():
    return [(f"{cat}_{k:02d}", cat) for cat in ("chair", "mug", "lamp") for k in range(7)] + [("knife_00", "knife")]


def test_unit_seed_depends_on_seed_shape_and_unit_only():
    a = unit_rng(3, "chair_01", 0).integers(0, 2**62, size=4)
    assert np.array_equal(a, unit_rng(3, "chair_01", 0).integers(0, 2**62, size=4))
    for other in (unit_rng(4, "chair_01", 0), unit_rng(3, "chair_02", 0), unit_rng(3, "chair_01", 1)):
        assert not np.array_equal(a, other.integers(0, 2**62, size=4))
    # the same in a fresh interpreter: no salted hash() anywhere
    code = "from datagen.plan import unit_seed; print(unit_seed(3, 'chair_01', 0).generate_state(2).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PYTHONPATH": "."}).stdout.strip()
    assert out == str(unit_seed(3, "chair_01", 0).generate_state(2).tolist())


def test_splits_are_by_shape_and_cover_every_category():
    splits = assign_splits(_shapes())
    assert set(splits) == {s for s, _ in _shapes()}
    for cat in ("chair", "mug", "lamp"):
        got = [splits[f"{cat}_{k:02d}"] for k in range(7)]
        assert "test" in got and "train" in got
    assert splits["knife_00"] in ("train", "val", "test")
    # adding shapes to another category leaves existing splits alone
    more = assign_splits(_shapes() + [(f"bag_{k}", "bag") for k in range(5)])
    assert all(more[s] == splits[s] for s in splits)
    # roughly 80/10/10 over many ids
    big = assign_splits([(f"s{k}", f"c{k % 50}") for k in range(5000)])
    frac = np.mean([v == "train" for v in big.values()])
    assert 0.74 < frac < 0.84


def test_plan_units_partners_share_split_and_category():
    units = plan_units(_shapes(), per_category=5)
    assert len(units) == 3 * 5 + 1
    assert [u.index for u in units] == list(range(16))
    by_id = {u.shape_id: u for u in units}
    for u in units:
        assert u.shape_id not in u.partners
        for p in u.partners:
            assert by_id[p].split == u.split and by_id[p].category == u.category
        assert u.shard == f"{u.split}/{u.shape_id}-000.tar"
    # the first 5 ids per category are kept
    assert {s for s in by_id if s.startswith("mug")} == {f"mug_{k:02d}" for k in range(5)}


def test_select_units_partitions_the_plan():
    units = plan_units(_shapes())
    parts = [select_units(units, i, 3) for i in range(3)]
    got = sorted(u.index for part in parts for u in part)
    assert got == list(range(len(units)))
    with pytest.raises(ValueError):
        select_units(units, 3, 3)
    with pytest.raises(ValueError):
        select_units(units, 0, None)


# ids that differ in one character of each class: case, an accent (composed and decomposed), '.'
# against '-' and '_', a space, a slash, a tilde, a non-Latin script, a control character, a very long id
NEAR_IDS = ["chair", "Chair", "CHAIR", "chäir", "cha\u0308ir", "chair.1", "chair-1", "chair_1", "chair 1",
            "chair/1", "chair~1", "chair~", "椅子", "椅子1", "chair\t1", "c" * 64, "c" * 65, "c" * 300,
            "c" * 299 + "d", "-", "_", "."]


def test_shard_and_sample_names_are_one_to_one_with_ids():
    from sketchgen.datagen.schema import PLAIN_NAME, id_name, sample_key

    names = [id_name(s) for s in NEAR_IDS]
    # no two ids share a name, not even on a file system that ignores case
    assert len({n.casefold() for n in names}) == len(NEAR_IDS)
    for shape_id, name in zip(NEAR_IDS, names):
        # file-name and WebDataset-key safe: no dot, no slash, lower-case ASCII, short
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789_-~") and len(name) <= 64
        # a plain id is its own name; any other id ends in the first 16 hex digits of its SHA-256
        if PLAIN_NAME.fullmatch(shape_id):
            assert name == shape_id
        else:
            assert name.endswith("~" + hashlib.sha256(shape_id.encode("utf-8")).hexdigest()[:16])
    keys = {sample_key(s, 0, 7) for s in NEAR_IDS}
    assert len(keys) == len(NEAR_IDS) and not any("." in k or "/" in k for k in keys)
    # one category: every unit of the plan writes its own shard
    units = plan_units([(s, "chair") for s in NEAR_IDS])
    assert len({u.shard.casefold() for u in units}) == len(NEAR_IDS)


def test_copies_of_one_mesh_share_a_split():
    ids = [f"s{k}" for k in range(40)]
    apart = {u.shape_id: u.split for u in plan_units([(s, "c") for s in ids])}
    # s0 is copied as s1..s9 (one content); each other shape has its own
    content = {s: "same" if int(s[1:]) < 10 else s for s in ids}
    together = {u.shape_id: u.split for u in plan_units([(s, "c") for s in ids], content=content)}
    assert len({apart[s] for s in ids[:10]}) > 1, "the ids alone were meant to spread the copies"
    assert {together[s] for s in ids[:10]} == {apart["s0"]}
    assert all(together[s] == apart[s] for s in ids[10:])


def test_max_faces_bounds_the_meshes_every_unit_of_a_dataset_holds(tmp_path, monkeypatch):
    """``--max-faces`` on the dataset builders, as on ``collection info``: each shape reaches the units
    decimated to at most N faces (part by part), and the manifest records N."""
    import json

    import trimesh

    from sketchgen.cli import main
    from sketchgen.datagen import plan
    from sketchgen.datagen.pairs import PairConfig
    from sketchgen.datagen.triplets import TripletConfig

    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(plan, "_SHAPES", {})
    folder = tmp_path / "collection" / "vase"
    folder.mkdir(parents=True)
    dense = {"ball.off": trimesh.creation.icosphere(subdivisions=5),  # 20,480 faces
             "ring.off": trimesh.creation.torus(major_radius=1.0, minor_radius=0.3, major_sections=96,
                                                minor_sections=48)}  # 9,216 faces
    for name, mesh in dense.items():
        mesh.export(folder / name)
    root, out = str(tmp_path / "collection"), tmp_path / "data"
    assert main(["triplets", "--collection", root, "--out", str(out), "--max-faces", "600", "--views", "2",
                 "--points", "1", "--size", "32", "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["max_faces"] == 600 and len(manifest["shards"]) == 2
    for config in (TripletConfig(collection=root, max_faces=600), PairConfig(collection=root, max_faces=600)):
        shapes, failures = plan.config_shapes(config)
        assert not failures and len(shapes) == 2
        for shape in shapes.values():
            assert 300 <= shape.n_faces <= 600  # decimated to the budget, not to nothing
    full, _ = plan.config_shapes(TripletConfig(collection=root))
    assert sorted(s.n_faces for s in full.values()) == sorted(len(m.faces) for m in dense.values())
    assert main(["pairs", "--collection", root, "--out", str(out), "--max-faces", "0"]) == 2


def test_split_fractions_and_a_split_file_decide_each_shapes_split(tmp_path):
    from sketchgen.datagen.plan import parse_splits, read_split_file
    from sketchgen.datagen.plan import split_fraction

    shapes = _shapes()
    # fractions: a shape goes to train when its hash fraction is under the train fraction, and so on
    units = plan_units(shapes, fractions=(0.5, 0.25, 0.25))
    for u in units:
        if u.category == "knife":  # a category of one shape is never forced into test
            h = split_fraction(u.shape_id)
            assert u.split == ("train" if h < 0.5 else "val" if h < 0.75 else "test")
    assert parse_splits("0.7, 0.15,0.15") == (0.7, 0.15, 0.15)
    with pytest.raises(ValueError, match="summing to 1"):
        parse_splits("0.7,0.2,0.2")
    with pytest.raises(ValueError, match="neither three fractions"):
        parse_splits(str(tmp_path / "missing.txt"))
    # a split file: the shapes it names keep their split, the others are split by hash as before
    path = tmp_path / "splits.csv"
    path.write_text("id,split\n# chairs chosen by hand\nchair_00,test\nchair_01, test\nmug_03\tval\n")
    assert parse_splits(str(path)) == str(path.resolve())
    assigned = read_split_file(path)
    assert assigned == {"chair_00": "test", "chair_01": "test", "mug_03": "val"}
    by_hash = {u.shape_id: u.split for u in plan_units(shapes)}
    chosen = {u.shape_id: u for u in plan_units(shapes, assigned=assigned)}
    assert all(chosen[s].split == assigned.get(s, by_hash[s]) for s in chosen)
    # partners are the other shapes of the category in the same split
    assert set(chosen["chair_00"].partners) == {s for s, u in chosen.items()
                                                if u.category == "chair" and u.split == "test" and s != "chair_00"}
    (tmp_path / "bad.txt").write_text("chair_00 testing\n")
    from sketchgen.errors import InputError

    with pytest.raises(InputError, match=r"bad.txt:1: split 'testing' of 'chair_00' is not train, val or test"):
        read_split_file(tmp_path / "bad.txt")
    (tmp_path / "twice.json").write_text('{"a": "train", "b": "val"}')
    assert read_split_file(tmp_path / "twice.json") == {"a": "train", "b": "val"}


def test_a_dataset_writes_each_shape_into_the_split_its_file_names(tmp_path, capsys):
    import json

    from sketchgen.cli import main
    from tiny_datasets import tiny_spec

    spec = tiny_spec(tmp_path, n=2)
    ids = [e["id"] for e in json.loads(spec.read_text())["shapes"]]
    (tmp_path / "splits.txt").write_text(f"{ids[0]} test\n{ids[1]} val\n")
    assert main(["pairs", "--collection", str(spec), "--out", str(tmp_path / "out"), "--pairs", "1", "--views", "2",
                 "--kinds", "views", "--size", "64", "--splits", str(tmp_path / "splits.txt"), "--no-progress"]) == 0
    shards = sorted(p.relative_to(tmp_path / "out").parts[0] for p in (tmp_path / "out").glob("*/*.tar"))
    assert shards == ["test", "val"]
    # the build says what each split holds, and that the train split is empty
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    err = capsys.readouterr().err
    made = {split: c["samples"] for split, c in manifest["counts"].items()}
    assert (f"pairs: splits train 0 samples of 0 shapes, val {made['val']} samples of 1 shapes, "
            f"test {made['test']} samples of 1 shapes") in err
    assert "warning: no shape in the train split" in err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["splits"] == str((tmp_path / "splits.txt").resolve())


def test_a_copy_goes_with_the_split_the_user_gave_its_content(caplog):
    content = {"a": "same", "b": "same", "c": "other"}
    shapes = [(s, "c") for s in content]
    units = {u.shape_id: u.split for u in plan_units(shapes, content=content, assigned={"b": "val"})}
    assert units["a"] == units["b"] == "val"
    with caplog.at_level("WARNING", logger="sketchgen.datagen.plan"):
        units = {u.shape_id: u.split for u in plan_units(shapes, content=content,
                                                          assigned={"a": "test", "b": "train"})}
    assert units["a"] == units["b"] == "test"
    assert [r.message for r in caplog.records if "b is a copy of a: it goes to test" in r.message]
