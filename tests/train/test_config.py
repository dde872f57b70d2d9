"""TrainConfig's records: settings routed by name, checked, read back from JSON."""

import json

import pytest

from sketchgen.errors import InputError
from sketchgen.train.config import TrainConfig


def test_flat_settings_go_to_their_records_and_an_unknown_one_is_refused():
    cfg = TrainConfig.from_flat("warp", "d", "o", steps=7, refine=32, device="cuda", data_kind="pairs")
    assert (cfg.optim.steps, cfg.network.refine, cfg.run.device, cfg.recorded.data_kind) == (7, 32, "cuda", "pairs")
    assert TrainConfig.from_flat(**cfg.flat()) == cfg == TrainConfig.from_json(json.loads(json.dumps(cfg.to_json())))
    assert cfg.with_settings(lr=0.5).optim.lr == 0.5 and cfg.with_settings(lr=0.5).network == cfg.network
    with pytest.raises(TypeError, match="no setting 'stepz'"):
        TrainConfig.from_flat("warp", "d", "o", stepz=7)


def test_warp_options_out_of_range_are_refused_in_one_line():
    for change, words in (({"refine": 8}, "--refine must be more than 16"), ({"refine": -5}, "--refine"),
                          ({"softargmax_prior": -0.1}, "--softargmax-prior"),
                          ({"refine_weight": -1.0}, "--refine-weight")):
        with pytest.raises(InputError, match=words):
            TrainConfig.from_flat("warp", "d", "o", **change).resolved()
    assert TrainConfig.from_flat("warp", "d", "o", refine=32, softargmax_prior=0.25).resolved().network.refine == 32
