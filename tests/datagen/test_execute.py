import json
import shutil

import pytest

from sketchgen.datagen.execute import Job, execute, run_dataset
from sketchgen.datagen.plan import plan_units
from sketchgen.datagen.triplets import TripletConfig, ViewConfig
from dying_builder import marker
from tiny_datasets import any_spec, shard_hashes


def _config(spec):
    # a style mix: same bytes whatever the workers, for clean and sketchy samples alike
    return TripletConfig(collection=str(spec), seed=11, camera=ViewConfig(views=2, size=256), points=2, size=96,
                         style=(("clean", 0.5), ("sketchy", 0.5)))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-process run of 3 small shapes."""
    folder = tmp_path_factory.mktemp("execute")
    spec = any_spec(folder, "mug", 3)
    out = folder / "ref"
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec), out_dir=out,
                          progress=False)
    return spec, out, summary, shard_hashes(out)


def test_same_command_twice_and_resume_skip(reference, tmp_path):
    spec, out, summary, hashes = reference
    assert summary["units"] == 3 and summary["samples"] > 0 and not summary["errors"]
    assert len(hashes) == 4  # 3 shards + manifest
    again = tmp_path / "again"
    run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec), out_dir=again, progress=False)
    assert shard_hashes(again) == hashes
    # a second run over a finished folder skips every unit and rewrites the same manifest
    second = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec), out_dir=again,
                         progress=False)
    assert second["skipped"] == 3 and shard_hashes(again) == hashes
    manifest = json.loads((again / "manifest.json").read_text())
    assert sum(c["samples"] for c in manifest["counts"].values()) == summary["samples"]
    assert set(manifest["collection"]["shapes"]) == {"mug_000", "mug_001", "mug_002"}
    assert manifest["seed"] == 11 and manifest["packages"]["numpy"]


def test_two_joblib_workers_with_one_killed_match_one_process(reference, tmp_path):
    spec, _, _, hashes = reference
    local_spec = tmp_path / spec.name
    shutil.copy(spec, local_spec)
    config = _config(local_spec)
    # the manifest records the collection path, so compare shards, and the manifest apart from that path
    out = tmp_path / "two"
    units = plan_units([(f"mug_00{k}", "mug") for k in range(3)])
    results = execute(Job("dying_builder", config, str(out)), units, workers=2, progress=False)
    assert marker(config).exists(), "the worker running unit 1 was meant to die"
    assert [r["shard"] for r in results] == sorted(u.shard for u in units)
    assert not any(r.get("error") for r in results)
    got = shard_hashes(out)
    assert {k: v for k, v in got.items() if k.endswith(".tar")} == \
        {k: v for k, v in hashes.items() if k.endswith(".tar")}
    assert not list(out.glob("*/.*tmp*"))


def test_dask_local_cluster_with_a_killed_worker_matches_joblib(reference, tmp_path):
    from distributed import LocalCluster

    spec, _, _, hashes = reference
    local_spec = tmp_path / spec.name
    shutil.copy(spec, local_spec)
    config = _config(local_spec)
    out = tmp_path / "dask"
    units = plan_units([(f"mug_00{k}", "mug") for k in range(3)])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        results = execute(Job("dying_builder", config, str(out)), units, scheduler=cluster.scheduler_address,
                          progress=False)
    assert marker(config).exists() and int(marker(config).read_text()) > 0
    assert not any(r.get("error") for r in results)
    got = shard_hashes(out)
    assert {k: v for k, v in got.items() if k.endswith(".tar")} == \
        {k: v for k, v in hashes.items() if k.endswith(".tar")}
    assert len(list(out.glob("*/*.tar"))) == 3 and not list(out.glob("*/.*tmp*"))


def test_a_failing_unit_is_recorded_and_the_rest_carry_on(reference, tmp_path):
    spec, _, _, hashes = reference
    out = tmp_path / "failing"
    summary = run_dataset(dataset="triplets", builder="failing_builder", config=_config(spec), out_dir=out,
                          progress=False)
    assert summary["errors"] == [{"shape": "mug_000", "reason": "mug_000.obj: mesh has no faces",
                                  "category": "mug"}]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"shape": "mug_000", "reason": "mug_000.obj: mesh has no faces", "category": "mug"} in manifest["failures"]
    got = shard_hashes(out)
    # the other units' shards are the ones an unfailing run writes; the failed unit wrote nothing
    assert not any(k.startswith(("train/mug_000", "val/mug_000", "test/mug_000")) for k in got)
    assert {k: v for k, v in got.items() if k.endswith(".tar")} == \
        {k: v for k, v in hashes.items() if k.endswith(".tar") and "mug_000" not in k}


def test_resource_tracker_leak_report_kept_out_of_the_output():
    """The trackers that a parallel run starts print no leak report, and the report is real without it."""
    import subprocess
    import sys

    code = ("import sys\n"
            "if sys.argv[1] == 'quiet':\n"
            "    from sketchgen.datagen.execute import _quiet_resource_trackers; _quiet_resource_trackers()\n"
            "from multiprocessing import resource_tracker as rt\n"
            "rt.ensure_running(); rt.register('/sketchgen-test-sem', 'semaphore')\n")
    loud = subprocess.run([sys.executable, "-c", code, "loud"], capture_output=True, text=True, timeout=60)
    quiet = subprocess.run([sys.executable, "-c", code, "quiet"], capture_output=True, text=True, timeout=60)
    assert "resource_tracker" in loud.stderr
    assert quiet.returncode == 0 and "resource_tracker" not in quiet.stderr and "Warning" not in quiet.stderr


def test_a_rerun_with_other_options_rebuilds_the_shards_it_would_have_kept(reference, tmp_path):
    """A finished folder rebuilt with another option must not keep shards made with the old one."""
    spec, out, _, hashes = reference
    folder = tmp_path / "changed"
    shutil.copytree(out, folder)
    other = TripletConfig(collection=str(spec), seed=11, camera=ViewConfig(views=2, size=256), points=1, size=96,
                          style=(("clean", 0.5), ("sketchy", 0.5)))
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=other, out_dir=folder,
                          progress=False)
    assert summary["skipped"] == 0 and summary["units"] == 3
    fresh = tmp_path / "fresh"
    run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=other, out_dir=fresh, progress=False)
    rebuilt = shard_hashes(folder)
    assert rebuilt == shard_hashes(fresh)
    assert {k: v for k, v in rebuilt.items() if k.endswith(".tar")} != {k: v for k, v in hashes.items() if k.endswith(".tar")}
    # the same options again: every shard kept
    assert run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=other, out_dir=folder,
                       progress=False)["skipped"] == 3


def test_the_command_says_which_shapes_of_the_collection_could_not_be_read(tmp_path, capsys, monkeypatch):
    import trimesh

    from sketchgen.datagen.cli import main

    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "cache"))
    coll = tmp_path / "coll" / "ball"
    coll.mkdir(parents=True)
    trimesh.creation.icosphere(subdivisions=2).export(coll / "good.off")
    (coll / "nan.obj").write_text("v 0 0 0\nv 1 0 nan\nv 0 1 0\nf 1 2 3\n")
    code = main(["triplets", "--collection", str(tmp_path / "coll"), "--out", str(tmp_path / "out"),
                 "--views", "2", "--points", "1", "--size", "64", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    assert "1 shape(s) of the collection could not be read" in err and "nan.obj" in err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [f for f in manifest["failures"] if "nan.obj" in f["reason"]]


def test_a_builder_that_samples_differently_rebuilds_its_old_shards(reference, tmp_path, monkeypatch):
    """A builder's BUILD_VERSION is part of each unit's digest: a finished folder resumed by a builder that
    now samples differently is built again, never half old and half new."""
    import sketchgen.datagen.triplets as builder

    spec, out, _, _ = reference
    folder = tmp_path / "versioned"
    shutil.copytree(out, folder)
    # no BUILD_VERSION (the triplet builder's case): the folder's digests still match and every shard is kept
    assert run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec),
                       out_dir=folder, progress=False)["skipped"] == 3
    monkeypatch.setattr(builder, "BUILD_VERSION", 2, raising=False)
    assert run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec),
                       out_dir=folder, progress=False)["skipped"] == 0
    assert run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec),
                       out_dir=folder, progress=False)["skipped"] == 3
