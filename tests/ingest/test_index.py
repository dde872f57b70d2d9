"""The collection index and the per-shape cache: built once, reused, invalidated by changed files,
written atomically, and a dataset build that loads only the shapes a unit uses."""

import json
import os

import numpy as np
import pytest
import trimesh

from sketchgen.datagen import plan
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.triplets import TripletConfig, ViewConfig
from sketchgen.ingest import index as idx
from sketchgen.ingest import loaders
from sketchgen.ingest.collection import load_collection
from tests.datagen.tiny_datasets import shard_hashes


def _write_shape(path, k):
    """A labelled icosphere (80 faces), stretched by ``k`` so every file's bytes differ; labels by the
    sign of z, one per face in a ``.seg`` beside it."""
    mesh = trimesh.creation.icosphere(subdivisions=1)
    mesh.vertices *= [1.0 + 0.1 * k, 1.0, 1.0 - 0.05 * k]
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh.export(path)
    labels = (mesh.triangles_center[:, 2] > 0).astype(int)
    path.with_suffix(".seg").write_text("\n".join(map(str, labels)) + "\n")


def make_collection(root, chairs=4, tables=3):
    for k in range(chairs):
        _write_shape(root / "chair" / f"c{k}.ply", k)
    for k in range(tables):
        _write_shape(root / "table" / f"t{k}.ply", 10 + k)
    return root


@pytest.fixture
def counted(monkeypatch):
    """Counts calls of the mesh loader (what building a mesh costs)."""
    calls = []
    real = loaders.load_partmesh

    def load(mesh, **kw):
        calls.append(str(mesh))
        return real(mesh, **kw)

    monkeypatch.setattr(loaders, "load_partmesh", load)
    return calls


def test_index_built_once_and_reused(tmp_path, counted, monkeypatch):
    root = make_collection(tmp_path / "coll")
    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "user"))
    cache = tmp_path / "user" / "shapes"
    first = idx.collection_index(root)
    assert len(first) == 7 and first.rebuilt == 7 and not first.failures
    assert first.where == str(root / idx.INDEX_NAME) and (root / idx.INDEX_NAME).is_file()
    # loose .ply files (no layout names them) are named by a hash of their arrays: the index pass loads each once, into the cache
    assert len(counted) == 7 and len(list(cache.rglob("*.npz"))) == 7
    assert sorted({e.category for e in first.entries}) == ["chair", "table"]
    counted.clear()
    second = idx.collection_index(root)
    assert second.rebuilt == 0 and counted == []
    assert [(e.shape_id, e.category, e.content_hash) for e in second.entries] == \
        [(e.shape_id, e.category, e.content_hash) for e in first.entries]
    # loading the whole collection now reads the cache, never the mesh files
    coll = load_collection(root)
    assert len(coll.shapes) == 7 and counted == []
    # other loading code: both caches start afresh
    monkeypatch.setattr(idx, "_version", lambda: "other loader code")
    assert idx.collection_index(root).rebuilt == 7 and len(counted) == 7


def test_named_layout_indexed_without_building_a_mesh(tmp_path, counted):
    """ShapeNet-style paths name the shape (synset folder, hash folder): hashing the bytes is enough."""
    root = tmp_path / "shapenet"
    ids = [f"{k:032x}" for k in (0xA1, 0xB2, 0xC3)]
    for k, sid in enumerate(ids):
        _write_shape(root / "02691156" / sid / "model.off", k)
    index = idx.collection_index(root, cache_dir=tmp_path / "cache")
    assert counted == []
    assert [(e.shape_id, e.category) for e in index.entries] == [(s, "airplane") for s in ids]
    assert all(e.size == sum(f.stat().st_size for f in idx.row_files(e.row)) for e in index.entries)


def test_index_invalidated_when_a_file_changes(tmp_path, counted):
    root = make_collection(tmp_path / "coll")
    cache = tmp_path / "cache"
    before = {e.mesh: e for e in idx.collection_index(root, cache_dir=cache).entries}
    counted.clear()
    # a changed label file (same size, new bytes and mtime), a new mesh, a removed mesh
    seg = root / "chair" / "c1.seg"
    seg.write_text(seg.read_text().replace("0\n", "1\n", 1))
    os.utime(seg, ns=(seg.stat().st_atime_ns, seg.stat().st_mtime_ns + 10 ** 9))
    _write_shape(root / "table" / "t9.ply", 30)
    (root / "chair" / "c3.ply").unlink()
    after = idx.collection_index(root, cache_dir=cache)
    assert after.rebuilt == 2
    assert sorted(counted) == sorted([str(root / "chair" / "c1.ply"), str(root / "table" / "t9.ply")])
    now = {e.mesh: e for e in after.entries}
    assert str(root / "chair" / "c3.ply") not in now and str(root / "table" / "t9.ply") in now
    c1 = str(root / "chair" / "c1.ply")
    assert now[c1].content_hash != before[c1].content_hash
    c0 = str(root / "chair" / "c0.ply")
    assert now[c0].content_hash == before[c0].content_hash
    # the changed labels reach the loaded shape (a new cache entry, not the old arrays)
    shape = idx.load_entry(after, now[c1], cache_dir=cache)
    assert int(shape.face_labels.sum()) == int(idx.load_entry(after, now[c0], cache_dir=cache).face_labels.sum()) + 1


def test_shape_cache_keyed_by_content_and_written_atomically(tmp_path, counted, monkeypatch):
    root = tmp_path / "coll"
    _write_shape(root / "chair" / "a.ply", 0)
    _write_shape(root / "chair" / "b.ply", 0)   # the same bytes under another name
    _write_shape(root / "chair" / "c.ply", 1)
    cache = tmp_path / "cache"
    index = idx.collection_index(root, cache_dir=cache)
    a, b, c = index.entries
    assert a.content_hash == b.content_hash != c.content_hash
    assert len(counted) == 2  # b came from a's cache entry
    files = sorted(cache.rglob("*.npz"))
    assert [p.name for p in files] == sorted(f"{idx.cache_key(e.content_hash, None, e.row)}.npz" for e in (a, c))
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".npz"]  # no temporaries left
    # the same id repeated gets a suffix; the cached arrays equal a fresh conversion
    assert b.shape_id == a.shape_id + "-2"
    fresh = loaders.load_partmesh(root / "chair" / "c.ply")
    cached = idx.load_entry(index, c, cache_dir=cache)
    for name in ("vertices", "faces", "face_labels", "transform", "file_face"):
        got, want = getattr(cached, name), getattr(fresh, name)
        assert got.dtype == want.dtype and np.array_equal(got, want), name
    # a write that dies before its rename leaves neither the entry nor a temporary file
    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(idx.os, "replace", no_rename)
    other = tmp_path / "cache2"
    idx.load_entry(index, c, cache_dir=other)
    assert not [p for p in other.rglob("*") if p.is_file()]


def test_read_only_collection_indexed_in_the_user_cache(tmp_path, monkeypatch):
    root = make_collection(tmp_path / "coll", chairs=2, tables=0)
    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "user"))
    os.chmod(root, 0o555)
    try:
        first = idx.collection_index(root)
        second = idx.collection_index(root)
    finally:
        os.chmod(root, 0o755)
    assert not (root / idx.INDEX_NAME).exists()
    assert first.where.startswith(str(tmp_path / "user" / "index")) and second.rebuilt == 0


def _config(path, **kw):
    return TripletConfig(collection=str(path), seed=5, camera=ViewConfig(views=2, size=128), points=2, size=64, **kw)


def test_one_unit_loads_only_its_shape_and_partners(tmp_path, monkeypatch):
    root = make_collection(tmp_path / "coll", chairs=5, tables=3)
    monkeypatch.setattr(plan, "_SHAPES", {})
    idx.collection_index(root)  # what a first command leaves behind
    shapes, _ = plan.load_shapes(str(root))
    units = plan.plan_units(shapes.members())
    unit = units[3]
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(root),
                          out_dir=tmp_path / "out", shard_index=3, num_shards=len(units), progress=False)
    assert summary["units"] == 1 and summary["samples"] > 0
    assert shapes.loads[0] == unit.shape_id
    assert set(shapes.loads) <= {unit.shape_id, *unit.partners} and len(shapes.loads) <= 2
    assert len(shapes) == 8  # the driver knew every shape without loading any


def test_failures_listed_in_the_manifest(tmp_path, monkeypatch):
    root = make_collection(tmp_path / "coll", chairs=3, tables=2)
    (root / "chair" / "broken.off").write_bytes(b"OFF\n3 1 0\n0 0 0\n1 0 0\n")  # cut short
    # named by its path, so indexing does not build it: it fails when its unit loads it
    bad = root / "table" / ("f" * 32) / "model.off"
    bad.parent.mkdir(parents=True)
    bad.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\nnan 1 0\n3 0 1 2\n")
    monkeypatch.setattr(plan, "_SHAPES", {})
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(root),
                          out_dir=tmp_path / "out", progress=False)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    reasons = [f["reason"] for f in manifest["failures"] if "file" in f or f.get("shape") == "f" * 32]
    assert any("broken.off" in r for r in reasons), reasons
    assert any("model.off" in r and "NaN" in r for r in reasons), reasons
    assert all("\n" not in r for r in reasons)
    assert [e["shape"] for e in summary["errors"]] == ["f" * 32]
    assert manifest["counts"]["train"]["shards"] + manifest["counts"]["val"]["shards"] + \
        manifest["counts"]["test"]["shards"] == 5  # every good shape's shard was written


def test_shards_identical_with_and_without_cache_and_workers(tmp_path, monkeypatch):
    root = make_collection(tmp_path / "coll", chairs=3, tables=2)
    outs = {}
    # the cached run first (the test session's cache folder, which the worker processes share), then
    # one process with no per-shape cache at all
    for name, cache, workers in (("cached", None, 2), ("plain", "off", 1)):
        if cache:
            monkeypatch.setenv("SKETCHGEN_CACHE", cache)
        monkeypatch.setattr(plan, "_SHAPES", {})
        (root / idx.INDEX_NAME).unlink(missing_ok=True)
        run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(root),
                    out_dir=tmp_path / name, workers=workers, progress=False)
        outs[name] = {k: v for k, v in shard_hashes(tmp_path / name).items() if k.endswith(".tar")}
    assert len(outs["plain"]) == 5 and outs["plain"] == outs["cached"]


@pytest.mark.parametrize("damage", ["truncated", "emptied", "bit-flipped", "not a zip"])
def test_a_damaged_cache_entry_is_converted_again_and_rewritten(tmp_path, damage, caplog):
    root = tmp_path / "coll"
    _write_shape(root / "chair" / "a.ply", 3)
    cache = tmp_path / "cache"
    index = idx.collection_index(root, cache_dir=cache)
    (entry,) = index.entries
    want = idx.load_entry(index, entry, cache_dir=cache)
    (path,) = cache.rglob("*.npz")
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "emptied":
        data = bytearray()
    elif damage == "bit-flipped":
        data[len(data) // 2] ^= 0x10
    else:
        data = bytearray(b"PK\x03\x04" + b"\x00" * 64)
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="sketchgen.ingest.index"):
        got = idx.load_entry(index, entry, cache_dir=cache)
    assert [r.message for r in caplog.records if "damaged cache entry" in r.message and str(path) in r.message]
    for name in ("vertices", "faces", "face_labels"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    # the entry was written again, whole: the next load reads it without converting
    assert idx.read_shape(path).faces.shape == want.faces.shape
    caplog.clear()
    idx.load_entry(index, entry, cache_dir=cache)
    assert not [r for r in caplog.records if "damaged" in r.message]
    # a damaged entry read for its identity only (indexing a shape the layout does not name) as well
    path.write_bytes(b"")
    (root / idx.INDEX_NAME).unlink(missing_ok=True)
    again = idx.collection_index(root, cache_dir=cache)
    assert [e.shape_id for e in again.entries] == [entry.shape_id] and not again.failures


def test_a_repeated_id_is_renamed_to_an_id_no_other_shape_has():
    entries = [idx.IndexEntry(s, "c", f"{k}.ply", {}, f"h{k}", 1) for k, s in enumerate(["x", "x-2", "x", "x"])]
    assert [e.shape_id for e in idx._unique_ids(entries)] == ["x", "x-2", "x-3", "x-4"]
