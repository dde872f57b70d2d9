"""One run per output folder: a second run is refused in one line naming the holder, a stale lock is
taken over, array jobs share the folder, and a run removes only the temporaries of dead writers."""

import json
import os
import subprocess
import sys

import pytest

from sketchgen.cli import main
from sketchgen.datagen.execute import clean_temporaries, run_dataset
from sketchgen.datagen.lock import lock_path, output_lock
from sketchgen.datagen.plan import plan_units
from sketchgen.datagen.triplets import TripletConfig, ViewConfig
from sketchgen.errors import InputError
from sketchgen.files import host_name, temporary_name
from tiny_datasets import any_spec

HOLDER = f"host {host_name()}, pid {os.getpid()}, since "


def _config(spec):
    return TripletConfig(collection=str(spec), seed=1, camera=ViewConfig(views=2, size=64), points=1, size=32,
                         extra_negatives=(("near", 1),))


def test_a_second_run_into_a_held_folder_is_refused_naming_the_holder(tmp_path, capsys):
    spec = any_spec(tmp_path, "mug", 1)
    out = tmp_path / "out"
    with output_lock(out):
        with pytest.raises(InputError, match=f"another sketchgen run writes here \\({HOLDER}"):
            run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec),
                        out_dir=out, progress=False)
        code = main(["triplets", "--collection", str(spec), "--out", str(out), "--views", "2", "--points", "1",
                     "--size", "32", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert err.startswith(f"sketchgen triplets: error: {out}: another sketchgen run writes here ({HOLDER}")
        assert not list(out.glob("*/*.tar"))  # refused before any work
        # array jobs wait for a whole run too
        with pytest.raises(InputError, match=f"a whole sketchgen run writes here \\({HOLDER}"):
            with output_lock(out, (0, 2)):
                pass
    # let go: the file names nobody, and the next run goes ahead
    assert lock_path(out).read_text() == ""
    assert run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec), out_dir=out,
                       progress=False)["units"] == 1


def test_a_stale_lock_is_taken_over_with_a_log_line(tmp_path, caplog):
    spec = any_spec(tmp_path, "mug", 1)
    out = tmp_path / "out"
    out.mkdir()
    # a run that ended without letting go (SIGKILL): its file names it, but no process holds the lock
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    lock_path(out).write_text(json.dumps({"host": "node7", "pid": pid, "started": "2026-01-01T00:00:00Z"}))
    with caplog.at_level("WARNING", logger="sketchgen.datagen.lock"):
        summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=_config(spec),
                              out_dir=out, progress=False)
    assert summary["units"] == 1 and summary["manifest"]
    assert [r.message for r in caplog.records
            if "taking over a stale lock (host node7, pid %d, since 2026-01-01T00:00:00Z" % pid in r.message]


def test_array_jobs_share_a_folder_and_each_runs_once(tmp_path):
    out = tmp_path / "out"
    with output_lock(out, (0, 2)), output_lock(out, (1, 2)):
        with pytest.raises(InputError, match=f"array job 0 of 2 already runs \\({HOLDER}"):
            with output_lock(out, (0, 2)):
                pass
        with pytest.raises(InputError, match=f"array job 0 of 2: {HOLDER}.*array job 1 of 2: {HOLDER}"):
            with output_lock(out):
                pass
    with output_lock(out):  # all let go
        pass


def test_only_the_temporaries_of_dead_writers_are_removed(tmp_path):
    (unit,) = plan_units([("mug_000", "mug")])
    shard = tmp_path / unit.shard
    shard.parent.mkdir(parents=True)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    live = temporary_name(shard)  # this process: a run beside the cleaning one, still writing
    gone = shard.with_name(f".{shard.name}.tmp-{host_name()}-{dead}")
    foreign = shard.with_name(f".{shard.name}.tmp-othernode-{os.getpid()}")  # another host, written just now
    old = shard.with_name(f".{shard.name}.tmp-othernode-1")
    legacy = shard.with_name(f".{shard.name}.tmp{dead}")  # the name older versions wrote
    for p in (live, gone, foreign, old, legacy):
        p.write_bytes(b"half a shard")
    os.utime(old, (1, 1))
    clean_temporaries(tmp_path, [unit])
    assert sorted(p.name for p in shard.parent.iterdir()) == sorted([live.name, foreign.name])
