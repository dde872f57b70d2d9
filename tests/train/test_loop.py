import pytest
import torch

from sketchgen.errors import InputError
from sketchgen.train.config import TrainConfig
from sketchgen.train.loop import learning_rate, train
from sketchgen.train.runs import load_run


@pytest.fixture
def data(tmp_path, synth):
    return synth.write_dataset(tmp_path / "data", "triplet", {"train": [8]}, size=16, zooms=2)


def test_resume_continues_from_the_last_checkpoint(tmp_path, data):
    cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), steps=3, batch_size=4, lr=1e-2,
                                backbone="small", size=16, log_every=1, checkpoint_every=1)
    assert train(cfg)["step"] == 3
    at3 = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert at3["step"] == 3
    # resume with a zero learning rate: the weights after 2 more steps are those of step 3 (a fresh
    # start would give the initial weights instead), and the optimiser's own step count goes on
    res = train(cfg.with_settings(steps=5, lr=0.0))
    assert res["step"] == 5
    at5 = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert at5["step"] == 5
    conv = "backbone.layer1.0.weight"
    assert torch.equal(at5["model"][conv], at3["model"][conv])
    assert int(at5["optimizer"]["state"][0]["step"]) == 5
    steps = [int(r.split(",")[0]) for r in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4, 5]
    model, loaded = load_run(tmp_path / "run")
    assert loaded.optim.steps == 5 and torch.equal(model.state_dict()[conv], at5["model"][conv])
    # a finished run is not trained further
    assert train(cfg.with_settings(steps=5))["step"] == 5


def test_resume_refuses_another_architecture(tmp_path, data):
    cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), steps=1, batch_size=4, backbone="small",
                                size=16)
    train(cfg)
    with pytest.raises(InputError, match="size=16"):
        train(cfg.with_settings(size=32, steps=2))


def test_same_seed_same_weights(tmp_path, data):
    outs = []
    for k in range(2):
        cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / f"run{k}"), steps=2, batch_size=4,
                                    backbone="small", size=16, lr=1e-3)
        train(cfg)
        outs.append(torch.load(tmp_path / f"run{k}" / "model.pt", weights_only=True))
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_tensorboard_logs_the_loss_or_says_what_is_missing(tmp_path, data):
    cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), steps=2, batch_size=4, backbone="small",
                                size=16, log_every=1, tensorboard=True)
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pip install tensorboard"):
            train(cfg)
        return
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(cfg)
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    losses = [e.value for e in events.Scalars("descriptor/loss")]
    logged = [float(r.split(",")[1]) for r in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert [e.step for e in events.Scalars("descriptor/loss")] == [1, 2]
    assert losses == pytest.approx(logged, abs=1e-6)


def test_tensorboard_writer_is_closed_when_a_step_fails(tmp_path, data, monkeypatch):
    import sketchgen.train.loop as loop

    class Writer:
        closed = False
        scalars = 0

        def add_scalar(self, *args):
            Writer.scalars += 1

        def close(self):
            Writer.closed = True

    real_loss, calls = loop.descriptor_loss, []

    def failing_loss(model, batch, cfg, device):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of memory")
        return real_loss(model, batch, cfg, device)

    monkeypatch.setattr(loop, "tensorboard_writer", lambda out: Writer())
    monkeypatch.setattr(loop, "descriptor_loss", failing_loss)
    cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), steps=3, batch_size=4, backbone="small",
                                size=16, log_every=1, tensorboard=True)
    with pytest.raises(RuntimeError, match="out of memory"):
        train(cfg)
    assert Writer.scalars == 3 and Writer.closed  # step 1's loss, metric, rate written; then closed


def test_the_data_kind_not_the_role_count_picks_the_negatives():
    """Three roles are a classic triplet, mined across the batch, only when the run trained on a triplet
    set; a pair set's point with one negative is measured against that negative alone."""
    from sketchgen.train.losses import descriptor_loss

    # 1-D embeddings: each role's image is constant, and the fake network returns that constant
    values = torch.tensor([[0.0, 0.1, 0.9], [5.0, 5.1, 5.9], [0.2, 0.3, 0.35]])  # (B, R): anchor, positive, negative
    batch = {"zooms": values[:, :, None, None, None, None].expand(3, 3, 3, 1, 4, 4).clone()}

    def net(images):
        return images.mean(dim=(1, 2, 3, 4))[:, None]

    margin = 0.5
    d_pos = torch.full((3,), 0.1)
    for kind in ("pairs", "triplets"):
        cfg = TrainConfig.from_flat("descriptor", "d", "o", loss="hardest", margin=margin, negatives=1, data_kind=kind)
        loss, _ = descriptor_loss(net, batch, cfg, "cpu")
        own = (values[:, 2] - values[:, 0]).abs()
        if kind == "pairs":
            nearest = own
        else:  # the other two triplets' negatives are candidates too: anchor 0.0 meets negative 0.35
            every = (values[:, 2][None, :] - values[:, 0][:, None]).abs()
            nearest = every.min(dim=1).values
        expected = torch.relu(d_pos - nearest + margin).mean()
        assert abs(loss.item() - expected.item()) < 1e-5, kind
    assert TrainConfig.from_flat("descriptor", "d", "o", negatives=1).resolved().optim.negatives == 1
    with pytest.raises(InputError, match="--negatives must be >= 1"):
        TrainConfig.from_flat("descriptor", "d", "o", negatives=0).resolved()


def test_cosine_schedule_falls_from_lr_to_zero():
    cfg = TrainConfig.from_flat("descriptor", "d", "o", steps=100, lr=1e-3, schedule="cosine")
    assert [round(learning_rate(cfg, s) / 1e-3, 6) for s in (0, 50, 100)] == [1.0, 0.5, 0.0]
    assert learning_rate(TrainConfig.from_flat("descriptor", "d", "o", steps=100, lr=1e-3), 70) == 1e-3
    with pytest.raises(InputError, match="schedule"):
        TrainConfig.from_flat("descriptor", "d", "o", schedule="linear").resolved()




def test_validation_is_logged_at_checkpoints_and_changes_no_training_draw(tmp_path, synth):
    import csv

    import numpy as np

    from sketchgen.train.loader import make_loader
    from sketchgen.train.losses import descriptor_loss
    from sketchgen.train.runs import load_run, log_fields

    data = synth.write_dataset(tmp_path / "data", "triplet", {"train": [8], "val": [6]}, size=16, zooms=2)
    common = dict(steps=4, batch_size=4, lr=1e-2, backbone="small", size=16, log_every=1, checkpoint_every=2)
    res = train(TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), **common))
    silent = train(TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "quiet"), val_batches=0, **common))
    with open(tmp_path / "run" / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == log_fields("descriptor") and "violating" in rows[0] and "metric" not in rows[0]
    assert [r["step"] for r in rows if r["val_loss"]] == ["2", "4"]   # every checkpoint, nothing between
    # the logged figure is the loss over the val split's batches (6 triplets: a batch of 4 and one of 2),
    # recomputed here from the saved weights
    model, cfg = load_run(tmp_path / "run")
    model.eval()
    with torch.no_grad():
        losses = [descriptor_loss(model, b, cfg, torch.device("cpu"))[0].item() for b in make_loader(cfg, 0, "val")]
    assert len(losses) == 2
    assert float(rows[-1]["val_loss"]) == pytest.approx(np.mean(losses), rel=1e-4)
    assert res["val_loss"] == pytest.approx(np.mean(losses), rel=1e-4)
    # validation restores the random state: the same weights as a run without it
    a, _ = load_run(tmp_path / "run")
    b, _ = load_run(tmp_path / "quiet")
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert "val_loss" not in silent and silent["loss"] == res["loss"]


def test_a_run_records_its_config_by_concern_and_a_flat_config_of_earlier_runs_still_loads(tmp_path, data):
    import json

    cfg = TrainConfig.from_flat("descriptor", str(data), str(tmp_path / "run"), steps=2, batch_size=4,
                                backbone="small", size=16, lr=1e-3, loss="hardest", margin=0.5, seed=3)
    train(cfg)
    path = tmp_path / "run" / "config.json"
    tables = json.loads(path.read_text())
    assert set(tables) == {"model", "data", "out", "network", "optim", "run", "recorded"}
    assert (tables["network"]["size"], tables["optim"]["loss"], tables["optim"]["margin"], tables["run"]["seed"],
            tables["recorded"]["data_kind"]) == (16, "hardest", 0.5, 3, "triplets")
    model, loaded = load_run(tmp_path / "run")
    # config.json as runs wrote it before the tables: one flat table, with a setting sketchgen has since
    # dropped and without one it has since added (its default then)
    flat = {k: v for k, v in loaded.flat().items() if k != "val_batches"}
    path.write_text(json.dumps({**flat, "retired_setting": 1}))
    again, old = load_run(tmp_path / "run")
    assert old == loaded.with_settings(val_batches=4)
    assert (old.network.size, old.optim.loss, old.run.seed, old.recorded.drawing) == (16, "hardest", 3,
                                                                                     loaded.recorded.drawing)
    assert all(torch.equal(again.state_dict()[k], model.state_dict()[k]) for k in model.state_dict())
    path.write_text(json.dumps({"network": {"size": 16}}))  # no model, data or folder: no run's
    with pytest.raises(InputError, match="not a valid run config"):
        load_run(tmp_path / "run")
