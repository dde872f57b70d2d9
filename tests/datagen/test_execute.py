import json
import shutil
from pathlib import Path

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


def _build(config, out_dir, builder="sketchgen.datagen.triplets", **kwargs):
    """A triplet set built by ``run_dataset`` without progress bars (kwargs: workers, scheduler); its summary."""
    return run_dataset(dataset="triplets", builder=builder, config=config, out_dir=out_dir, progress=False, **kwargs)


def _units():
    """The reference run's 3 work units."""
    return plan_units([(f"mug_00{k}", "mug") for k in range(3)])


def _tars(hashes):
    """The shards' digests of a ``shard_hashes`` dict (the manifest records the collection path, so
    runs over a copied spec compare their shards, not their manifests)."""
    return {k: v for k, v in hashes.items() if k.endswith(".tar")}


def _dying_job(reference, tmp_path, name):
    """A job of ``dying_builder`` (one worker dies on unit 1) over a private copy of the reference spec,
    so each test has its own death marker; with the 3 units of the reference run."""
    spec = reference[0]
    local_spec = tmp_path / spec.name
    shutil.copy(spec, local_spec)
    return Job("dying_builder", _config(local_spec), str(tmp_path / name)), _units()


def _local_cluster():
    """A Dask cluster of 2 single-threaded worker processes on this machine."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-process run of 3 small shapes."""
    folder = tmp_path_factory.mktemp("execute")
    spec = any_spec(folder, "mug", 3)
    out = folder / "ref"
    summary = _build(_config(spec), out)
    return spec, out, summary, shard_hashes(out)


def test_same_command_twice_and_resume_skip(reference, tmp_path):
    spec, out, summary, hashes = reference
    assert summary["units"] == 3 and summary["samples"] > 0 and not summary["errors"]
    assert len(hashes) == 4  # 3 shards + manifest
    again = tmp_path / "again"
    _build(_config(spec), again)
    assert shard_hashes(again) == hashes
    # a second run over a finished folder skips every unit and rewrites the same manifest
    second = _build(_config(spec), again)
    assert second["skipped"] == 3 and shard_hashes(again) == hashes
    manifest = json.loads((again / "manifest.json").read_text())
    assert sum(c["samples"] for c in manifest["counts"].values()) == summary["samples"]
    assert set(manifest["collection"]["shapes"]) == {"mug_000", "mug_001", "mug_002"}
    assert manifest["seed"] == 11 and manifest["packages"]["numpy"]


def test_two_joblib_workers_with_one_killed_match_one_process(reference, tmp_path):
    job, units = _dying_job(reference, tmp_path, "two")
    results = execute(job, units, workers=2, progress=False)
    assert marker(job.config).exists(), "the worker running unit 1 was meant to die"
    assert [r["shard"] for r in results] == sorted(u.shard for u in units)
    assert not any(r.get("error") for r in results)
    out = Path(job.out_dir)
    assert _tars(shard_hashes(out)) == _tars(reference[3])
    assert not list(out.glob("*/.*tmp*"))


def test_dask_local_cluster_with_a_killed_worker_matches_joblib(reference, tmp_path):
    job, units = _dying_job(reference, tmp_path, "dask")
    with _local_cluster() as cluster:
        results = execute(job, units, scheduler=cluster.scheduler_address, progress=False)
    assert marker(job.config).exists() and int(marker(job.config).read_text()) > 0
    assert not any(r.get("error") for r in results)
    out = Path(job.out_dir)
    assert _tars(shard_hashes(out)) == _tars(reference[3])
    assert len(list(out.glob("*/*.tar"))) == 3 and not list(out.glob("*/.*tmp*"))


def test_a_failing_unit_is_recorded_and_the_rest_carry_on(reference, tmp_path):
    spec, _, _, hashes = reference
    out = tmp_path / "failing"
    summary = _build(_config(spec), out, builder="failing_builder")
    assert summary["errors"] == [{"shape": "mug_000", "reason": "mug_000.obj: mesh has no faces",
                                  "category": "mug"}]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"shape": "mug_000", "reason": "mug_000.obj: mesh has no faces", "category": "mug"} in manifest["failures"]
    got = shard_hashes(out)
    # the other units' shards are the ones an unfailing run writes; the failed unit wrote nothing
    assert not any(k.startswith(("train/mug_000", "val/mug_000", "test/mug_000")) for k in got)
    assert _tars(got) == {k: v for k, v in _tars(hashes).items() if "mug_000" not in k}


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
    summary = _build(other, folder)
    assert summary["skipped"] == 0 and summary["units"] == 3
    fresh = tmp_path / "fresh"
    _build(other, fresh)
    rebuilt = shard_hashes(folder)
    assert rebuilt == shard_hashes(fresh)
    assert _tars(rebuilt) != _tars(hashes)
    # the same options again: every shard kept
    assert _build(other, folder)["skipped"] == 3


def test_the_command_says_which_shapes_of_the_collection_could_not_be_read(tmp_path, capsys, monkeypatch):
    import trimesh

    from sketchgen.cli import main

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
    # the same BUILD_VERSION: the folder's digests still match and every shard is kept
    assert _build(_config(spec), folder)["skipped"] == 3
    monkeypatch.setattr(builder, "BUILD_VERSION", builder.BUILD_VERSION + 1)
    assert _build(_config(spec), folder)["skipped"] == 0
    assert _build(_config(spec), folder)["skipped"] == 3


def test_ids_differing_in_one_character_write_a_shard_each(tmp_path):
    """Ids apart by case, an accent (composed or not) or '.' against '-': one shard, one manifest entry
    and the shape's own samples each; a second run finds the dataset complete."""
    from sketchgen.datagen.shards import read_shard
    from sketchgen.ingest.procedural import load_spec

    entry = next(e for e in load_spec()["shapes"] if e["category"] == "mug")
    ids = ["mug", "Mug", "m\u00fcg", "mu\u0308g", "mug.1", "mug-1"]
    spec = tmp_path / "near.json"
    spec.write_text(json.dumps({"version": 1, "seed": 0, "shapes": [{**entry, "id": i} for i in ids]}))
    config = TripletConfig(collection=str(spec), seed=2, camera=ViewConfig(views=2, size=64), points=1, size=32,
                           extra_negatives=(("near", 1),))
    out = tmp_path / "out"
    summary = _build(config, out)
    manifest = json.loads((out / "manifest.json").read_text())
    shards = [s["shard"] for s in manifest["shards"]]
    assert len(shards) == len(set(shards)) == len(ids) == len(list(out.glob("*/*.tar")))
    assert sorted(s["shape"] for s in manifest["shards"]) == sorted(ids)
    for s in manifest["shards"]:
        got = list(read_shard(out / s["shard"]))
        # every sample of a shard is its shape's, and the shard holds as many as the manifest says
        assert len(got) == s["samples"] and all(json.loads(g["json"])["anchor"]["shape"] == s["shape"] for g in got)
    assert sum(s["samples"] for s in manifest["shards"]) == summary["samples"] > 0
    # each shape's 2 views x 1 point: every triplet is in its shard or among its shape's failures
    for s in manifest["shards"]:
        lost = sum(f.get("count", 1) for f in manifest["failures"] if f["shape"] == s["shape"])
        assert s["samples"] + lost == 2
    assert _build(config, out)["skipped"] == len(ids)
    # a key names its shape: the sample of the decomposed accent's shard is made again from its key alone
    from sketchgen.datagen.regenerate import regenerate_key

    entry = next(s for s in manifest["shards"] if s["shape"] == "mu\u0308g" and s["samples"])
    stored = next(read_shard(out / entry["shard"]))
    again = regenerate_key(out, stored["__key__"])
    assert {k: v for k, v in stored.items() if k != "__shard__"} == again


def test_damaged_shards_are_built_again_to_a_clean_runs_bytes(reference, tmp_path, caplog):
    spec, out, _, hashes = reference
    folder = tmp_path / "damaged"
    shutil.copytree(out, folder)
    truncated, emptied, flipped = sorted(folder.glob("*/*.tar"))
    truncated.write_bytes(truncated.read_bytes()[:truncated.stat().st_size // 3])
    emptied.write_bytes(b"")
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit inside a member's data: the tar still reads
    flipped.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="sketchgen.datagen.execute"):
        summary = _build(_config(spec), folder)
    assert summary["skipped"] == 0 and summary["units"] == 3 and not summary["errors"]
    assert shard_hashes(folder) == hashes  # shards and manifest: the bytes of the clean run
    said = " ".join(r.message for r in caplog.records)
    assert all(str(p) in said for p in (truncated, emptied, flipped))
    # a summary that lost its digest, or whose count changed (one bit), is not taken on trust either
    meta = json.loads(truncated.with_suffix(".json").read_text())
    del meta["sha256"]
    truncated.with_suffix(".json").write_text(json.dumps(meta))
    counted = json.loads(emptied.with_suffix(".json").read_text())
    counted["samples"] ^= 1
    emptied.with_suffix(".json").write_text(json.dumps(counted))
    again = _build(_config(spec), folder)
    assert again["skipped"] == 1 and shard_hashes(folder) == hashes


def test_a_unit_streams_its_samples_to_its_shard(tmp_path):
    """Peak memory of a one-unit run does not grow with its sample count: 4 and 40 samples of 1 MiB."""
    import tracemalloc

    from big_builder import SAMPLE_BYTES

    spec = any_spec(tmp_path, "mug", 1)
    (unit,) = plan_units([("mug_000", "mug")])
    peaks, sizes = {}, {}
    for count in (4, 40):
        config = TripletConfig(collection=str(spec), points=count)
        out = tmp_path / f"x{count}"
        execute(Job("big_builder", config, str(out)), [unit], progress=False)  # warm: imports, the shape
        (out / unit.shard).unlink()
        tracemalloc.start()
        try:
            (result,) = execute(Job("big_builder", config, str(out)), [unit], progress=False)
            peaks[count] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        sizes[count] = (out / unit.shard).stat().st_size
        assert result["samples"] == count and result["failures"][0]["reason"] == "none missing"
    assert sizes[40] > 40 * SAMPLE_BYTES
    # held at once: about one sample (its array and its bytes), never the unit's 40 MiB
    assert peaks[40] < 4 * SAMPLE_BYTES and peaks[40] < peaks[4] + SAMPLE_BYTES


def test_a_unit_that_kills_its_worker_every_time_fails_alone(reference, tmp_path, monkeypatch):
    import sketchgen.datagen.execute as execute_module
    from killing_builder import DIE_UNIT

    spec, _, _, hashes = reference
    monkeypatch.setattr(execute_module, "MAX_POOL_RESTARTS", 0)
    out = tmp_path / "killed"
    summary = _build(_config(spec), out, builder="killing_builder", workers=2)
    dead = _units()[DIE_UNIT].shape_id
    (error,) = summary["errors"]
    assert error["shape"] == dead and "worker process died each time" in error["reason"]
    assert "\n" not in error["reason"] and "SIGKILL" in error["reason"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert error in manifest["failures"] and len(manifest["shards"]) == 2
    got = shard_hashes(out)
    assert _tars(got) == {k: v for k, v in _tars(hashes).items() if dead not in k}


def test_dask_killed_worker_is_one_failed_unit_and_the_manifest_is_written(reference, tmp_path):
    import dask

    from killing_builder import DIE_UNIT

    spec, _, _, hashes = reference
    out = tmp_path / "dask"
    dead = _units()[DIE_UNIT].shape_id
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), _local_cluster() as cluster:
        summary = _build(_config(spec), out, builder="killing_builder", scheduler=cluster.scheduler_address)
    (error,) = summary["errors"]
    assert error["shape"] == dead and error["reason"].startswith("Dask KilledWorker") and "\n" not in error["reason"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert error in manifest["failures"] and len(manifest["shards"]) == 2
    assert _tars(shard_hashes(out)) == {k: v for k, v in _tars(hashes).items() if dead not in k}


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_workers_end_with_their_parent(tmp_path, sig):
    """A run with 2 local workers stopped by SIGTERM (or killed) leaves no worker running or writing."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from slow_builder import SAMPLES, SECONDS_PER_SAMPLE
    from sketchgen.datagen.lock import lock_path

    spec = any_spec(tmp_path, "mug", 3)
    out = tmp_path / "out"
    code = ("from sketchgen.datagen.execute import run_dataset\n"
            "from sketchgen.datagen.triplets import TripletConfig\n"
            f"run_dataset(dataset='triplets', builder='slow_builder', config=TripletConfig(collection={str(spec)!r}),"
            f" out_dir={str(out)!r}, workers=2, progress=False)\n")
    here = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pids_dir = spec.with_suffix(".pids")
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(list(pids_dir.glob("*"))) < 2:
            time.sleep(0.05)
        workers = [int(p.name) for p in pids_dir.glob("*")]
        assert len(workers) == 2 and proc.pid not in workers and all(_running(w) for w in workers)
        proc.send_signal(getattr(signal, sig))
        err = proc.communicate(timeout=20)[1]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == (128 + signal.SIGTERM if sig == "SIGTERM" else -signal.SIGKILL)
    # a unit takes SAMPLES * SECONDS_PER_SAMPLE = 10 s: the workers are gone long before it could end
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and any(_running(w) for w in workers):
        time.sleep(0.05)
    assert not any(_running(w) for w in workers)
    before = {p: p.stat().st_size for p in out.rglob("*") if p.is_file()}
    time.sleep(2 * SECONDS_PER_SAMPLE + 0.5)
    assert {p: p.stat().st_size for p in out.rglob("*") if p.is_file()} == before  # nobody writes
    assert not list(out.glob("*/*.tar")) and SAMPLES * SECONDS_PER_SAMPLE >= 10
    if sig == "SIGTERM":  # ended as on Ctrl-C, saying so in one line: the lock let go
        assert lock_path(out).read_text() == ""
        said = [line for line in err.decode().splitlines() if line.strip()]
        assert said == [f"{out}: stopped (exit 143) after 0 of 3 units; the same command resumes"]
