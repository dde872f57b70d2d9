"""Training and evaluation on a CUDA device give what they give on the CPU (skipped where torch sees no GPU)."""

import json

import pytest
import torch

from sketchgen.cli import main
from sketchgen.train.evaluate import evaluate_run

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_both_models_train_and_evaluate_on_cuda_as_on_the_cpu(tmp_path, synth):
    trip = synth.write_dataset(tmp_path / "trip", "triplet", {"train": [8], "test": [4]}, size=32)
    pairs = synth.write_dataset(tmp_path / "pairs", "pair", {"train": [4], "test": [3]}, size=64)
    common = ["--backbone", "small", "--steps", "3", "--batch-size", "4", "--threads", "1", "--device", "cuda"]
    assert main(["train", "descriptor", "--data", str(trip), "--out", str(tmp_path / "rd"), "--size", "32",
                 *common]) == 0
    assert main(["train", "warp", "--data", str(pairs), "--out", str(tmp_path / "rw"), "--size", "64",
                 "--stn-width", "16", "--stn-layers", "1", "--refine", "32", "--softargmax-prior", "0.25",
                 *common]) == 0
    log = (tmp_path / "rw" / "log.csv").read_text().splitlines()
    assert len(log) >= 2  # a header and at least one logged step
    for model, run in (("descriptor", "rd"), ("warp", "rw")):
        got = {}
        for device in ("cuda", "cpu"):
            got[device] = evaluate_run(model, tmp_path / run, pairs, tmp_path / f"e-{model}-{device}",
                                       triplets=str(trip) if model == "descriptor" else None,
                                       device=device)["metrics"][model]
        # the same checkpoint on either device: the same figures up to float rounding of near ties
        for method, figures in got["cpu"].items():
            for name, value in figures.items():
                assert got["cuda"][method][name] == pytest.approx(value, abs=0.05), (model, method, name)
    # the GPU's generator is checkpointed beside the CPU's, so a resumed run draws what it would have drawn
    ckpt = torch.load(tmp_path / "rw" / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 3 and ckpt["cuda_rng"].dtype == torch.uint8 and len(ckpt["cuda_rng"]) > 0
    config = json.loads((tmp_path / "rw" / "config.json").read_text())
    assert config["run"]["device"] == "cuda" and config["network"]["refine"] == 32
