import json
import logging
import subprocess
import sys

import cv2
import pytest

from sketchgen.cli import main
from sketchgen.errors import InputError
from sketchgen.train.evaluate import evaluate_run


def test_train_then_eval_both_models_from_the_command_line(tmp_path, synth):
    trip = synth.write_dataset(tmp_path / "trip", "triplet", {"train": [8], "test": [4]}, size=32)
    pairs = synth.write_dataset(tmp_path / "pairs", "pair", {"train": [4], "test": [3]}, size=64)
    common = ["--backbone", "small", "--steps", "2", "--batch-size", "4", "--threads", "1"]
    assert main(["train", "descriptor", "--data", str(trip), "--out", str(tmp_path / "rd"), "--size", "32",
                 *common]) == 0
    assert main(["train", "warp", "--data", str(pairs), "--out", str(tmp_path / "rw"), "--size", "64",
                 "--stn-width", "16", "--stn-layers", "1", *common]) == 0
    assert (tmp_path / "rd" / "model.pt").is_file() and (tmp_path / "rw" / "log.csv").is_file()
    assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--data", str(pairs),
                 "--out", str(tmp_path / "ed")]) == 0
    metrics = json.loads((tmp_path / "ed" / "metrics.json").read_text())
    assert set(metrics["descriptor"]) == {"model", "shape_context", "hog", "untrained"}
    assert 0.0 <= metrics["descriptor"]["model"]["acc@10px"] <= 1.0
    assert cv2.imread(str(tmp_path / "ed" / "descriptor.png")).shape == (420, 640, 3)
    # the overall accuracy is a weighted mean of the per-kind accuracies, so it lies between them
    by_kind = json.loads((tmp_path / "ed" / "details.json").read_text())["descriptor"]["by_kind"]
    assert by_kind
    for method, overall in metrics["descriptor"].items():
        per_kind = [v[method]["acc@10px"] for v in by_kind.values()]
        assert min(per_kind) - 1e-9 <= overall["acc@10px"] <= max(per_kind) + 1e-9
    trip = json.loads((tmp_path / "ed" / "details.json").read_text())["descriptor"]["triplet_accuracy"]
    assert trip["triplets"] == 4 and 0.0 <= trip["model"] <= 1.0
    trip = json.loads((tmp_path / "ed" / "details.json").read_text())["descriptor"]["triplet_accuracy_train"]
    assert trip["triplets"] == 8 and 0.0 <= trip["untrained"] <= 1.0
    assert main(["eval", "warp", "--run", str(tmp_path / "rw"), "--data", str(pairs),
                 "--out", str(tmp_path / "ew")]) == 0
    warp = json.loads((tmp_path / "ew" / "metrics.json").read_text())["warp"]
    assert set(warp) == {"model", "identity", "affine"}
    assert {"pck@0.05", "pck@0.10", "pck_bbox@0.05", "pck_bbox@0.10"} <= set(warp["model"])


def test_descriptor_trained_on_a_pair_set_from_the_command_line(tmp_path, synth, monkeypatch):
    import sketchgen.train.evaluate
    from sketchgen.train.evaluate import zoom_drawing
    from sketchgen.train.runs import load_run
    from sketchgen.train.zooms import StrokeZooms

    drawn = set()

    class Recording(StrokeZooms):
        def __init__(self, grey, *, native=224, width=1.5, **kw):
            drawn.add((native, width))
            super().__init__(grey, native=native, width=width, **kw)

    monkeypatch.setattr(sketchgen.train.evaluate, "StrokeZooms", Recording)

    trip = synth.write_dataset(tmp_path / "trip", "triplet", {"train": [4], "test": [4]}, size=32)
    pairs = synth.write_dataset(tmp_path / "pairs", "pair", {"train": [4], "test": [3]}, size=64)
    assert main(["train", "descriptor", "--data", str(pairs), "--out", str(tmp_path / "rd"), "--size", "32",
                 "--backbone", "small", "--steps", "3", "--batch-size", "4", "--threads", "1", "--loss", "hardest",
                 "--margin", "0.5", "--negatives", "3", "--schedule", "cosine"]) == 0
    import csv

    with open(tmp_path / "rd" / "log.csv") as f:
        last = list(csv.DictReader(f))[-1]
    assert last["step"] == "3" and abs(float(last["lr"]) - 2.5e-5) < 1e-9  # cosine: the last of 3 steps runs at --lr 1e-4 / 4
    _, cfg = load_run(tmp_path / "rd")
    assert (cfg.optim.loss, cfg.optim.margin, cfg.optim.negatives) == ("hardest", 0.5, 3)
    assert zoom_drawing(cfg) == (32, 1.5 * 32 / 224)  # evaluated as its points were drawn, not as triplets
    assert cfg.recorded.data_kind == "pairs" and cfg.data == str(pairs.resolve())
    moved = pairs.rename(tmp_path / "moved")  # the run recorded its drawing: no need to find its data again
    assert zoom_drawing(load_run(tmp_path / "rd")[1]) == (32, 1.5 * 32 / 224)
    pairs = moved.rename(tmp_path / "pairs")
    assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--data", str(pairs), "--triplets", str(trip),
                 "--out", str(tmp_path / "ed")]) == 0
    details = json.loads((tmp_path / "ed" / "details.json").read_text())["descriptor"]
    assert details["triplet_accuracy"]["triplets"] == 4 and details["anchors"] > 0
    assert drawn == {(32, 1.5 * 32 / 224)}  # the evaluation drew every zoom as training drew its points
    # without --triplets a pair-trained run has no triplet set to measure
    assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--data", str(pairs),
                 "--out", str(tmp_path / "ed2")]) == 0
    details = json.loads((tmp_path / "ed2" / "details.json").read_text())
    assert details["descriptor"]["triplet_accuracy"] == {} and "trained_on_eval_shapes" not in details
    # a --triplets that is not a triplet set is a one-line error, not a silently empty figure
    for wrong in (tmp_path / "nowhere", pairs):
        assert main(["eval", "descriptor", "--run", str(tmp_path / "rd"), "--data", str(pairs),
                     "--triplets", str(wrong), "--out", str(tmp_path / "ed3")]) == 2


def _claim_shapes(root, shards: dict[str, str]) -> None:
    """Give a synthetic dataset's manifest a shard list naming the shape of each shard (split/name.tar)."""
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["shards"] = [{"shard": shard, "shape": shape, "samples": 1} for shard, shape in shards.items()]
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_eval_warns_when_the_run_trained_on_shapes_of_the_evaluated_split(tmp_path, synth, capsys, caplog):
    # two builds of one collection can split it differently: what was train in one is test in the other
    trained = synth.write_dataset(tmp_path / "a", "pair", {"train": [3]}, size=64)
    _claim_shapes(trained, {"train/train-0000.tar": "chair_002", "train/x.tar": "mug_000"})
    other = synth.write_dataset(tmp_path / "b", "pair", {"test": [3]}, size=64)
    _claim_shapes(other, {"test/test-0000.tar": "chair_002", "test/y.tar": "lamp_001", "train/z.tar": "mug_000"})
    assert main(["train", "warp", "--data", str(trained), "--out", str(tmp_path / "rw"), "--size", "64",
                 "--backbone", "small", "--stn-width", "16", "--stn-layers", "1", "--steps", "1",
                 "--batch-size", "2", "--threads", "1"]) == 0
    assert main(["eval", "warp", "--run", str(tmp_path / "rw"), "--data", str(other),
                 "--out", str(tmp_path / "e")]) == 0
    assert "1 shapes of" in capsys.readouterr().err
    details = json.loads((tmp_path / "e" / "details.json").read_text())
    assert details["trained_on_eval_shapes"] == ["chair_002"]  # mug_000 is train in both: no warning for it
    # the library function logs the warning the command prints, and records it alike
    with caplog.at_level(logging.WARNING, logger="sketchgen.train.evaluate"):
        res = evaluate_run("warp", tmp_path / "rw", other, tmp_path / "e2")
    assert "1 shapes of" in caplog.text and res["details"]["trained_on_eval_shapes"] == ["chair_002"]
    assert set(res["metrics"]["warp"]) == {"model", "identity", "affine"} and (tmp_path / "e2" / "warp.png").is_file()
    with pytest.raises(InputError, match="trained a warp, not a descriptor"):
        evaluate_run("descriptor", tmp_path / "rw", other, tmp_path / "e3")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sketchgen.cli", "train", "warp", "--data", str(tmp_path / "none"),
                           "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(f"{tmp_path / 'none'}: no such dataset folder")
    assert main(["eval", "warp", "--run", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2


def test_train_flags_left_out_resolve_to_the_config_records_defaults():
    from sketchgen.cli import resolve
    from sketchgen.cli.commands.train import config_from_args
    from sketchgen.train.config import TrainConfig

    for model in ("descriptor", "warp"):
        assert config_from_args(resolve(["train", model, "--data", "d", "--out", "r"])) == TrainConfig(model, "d", "r")
