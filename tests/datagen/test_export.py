"""``sketchgen export``: each target's files checked against the contract of the client code that reads them."""

import csv
import subprocess
import sys

import pytest

from sketchgen.datagen.cli import main
from sketchgen.datagen.execute import run_dataset
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.triplets import ViewConfig
from tiny_datasets import tiny_spec

SIZE = 128


@pytest.fixture(scope="module")
def pair_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    spec = tiny_spec(folder, "mug")
    config = PairConfig(collection=str(spec), seed=5, camera=ViewConfig(views=3, size=SIZE), pairs=6,
                        modalities=("sketch-shaded", "sketch-sketch"))
    run_dataset(dataset="pairs", builder="sketchgen.datagen.pairs", config=config, out_dir=folder / "out",
                progress=False)
    return folder / "out"


def test_export_lists_its_targets_without_loading_torch_or_gl():
    code = ("import sys, contextlib, io\nfrom sketchgen.datagen.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    try:\n        main(['export', '--help'])\n"
            "    except SystemExit:\n        pass\n"
            "print('psc' in buf.getvalue(), 'torch' in sys.modules, 'OpenGL' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split()[-3:] == ["True", "False", "False"], proc.stderr


def test_export_psc_command_writes_the_csvs(pair_set, tmp_path, capsys):
    assert main(["export", "psc", str(pair_set), "--out", str(tmp_path / "psc")]) == 0
    for split, header in (("train", ["photo", "sketch", "class", "flip"]),
                          ("test", ["photo", "sketch", "class", "XA", "YA", "XB", "YB"])):
        with open(tmp_path / "psc" / f"{split}_pairs_ps.csv") as fh:
            assert next(csv.reader(fh)) == header
    assert "export psc" in capsys.readouterr().err


def test_export_of_a_missing_dataset_is_one_line(tmp_path, capsys):
    assert main(["export", "psc", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing" in err[0] and "no shards" in err[0]
