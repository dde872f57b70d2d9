import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tiny_datasets import any_spec, shard_hashes

ROOT = Path(__file__).resolve().parents[2]


def _command(spec, out, *extra):
    return [sys.executable, "-m", "sketchgen.cli", "triplets", "--collection", str(spec), "--out", str(out),
            "--seed", "4", "--views", "2", "--points", "2", "--size", "96", "--style", "sketchy", "--no-progress", *extra]


def _run(cmd):
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_sigkilled_run_resumes_to_identical_output(tmp_path):
    spec = any_spec(tmp_path, "lamp", 4)
    ref = tmp_path / "ref"
    _run(_command(spec, ref))
    expected = shard_hashes(ref)
    assert len(expected) == 5  # 4 shards and the manifest

    out = tmp_path / "killed"
    proc = subprocess.Popen(_command(spec, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(out.glob("*/*.tar")):
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = list(out.glob("*/*.tar"))
    assert 1 <= len(done) < 4, "the run was meant to die midway"
    assert not (out / "manifest.json").exists()

    _run(_command(spec, out))
    assert shard_hashes(out) == expected
    assert not list(out.glob("*/.*tmp*"))
