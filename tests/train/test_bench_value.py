"""The learning-curve bench's pure helpers (bench/bench_value.py): budgets, pooling, reuse of a demo run."""

import json
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from bench.bench_value import budget_steps, finished_demo_run, parse_budgets, pool_splits, steps_done
from sketchgen.cli.commands.demo import demo_configs
from sketchgen.errors import InputError
from sketchgen.train.config import SECTIONS
from sketchgen.train.runs import retrain_other_recipe, same_recipe
from sketchgen.train.shards import dataset_digest


def test_budgets_parse_and_scale():
    assert parse_budgets("16,1,4,4") == [1.0, 4.0, 16.0]
    assert parse_budgets("0.5") == [0.5]
    for bad in ("1,x", "0", "-2"):
        with pytest.raises(ValueError, match="budget"):
            parse_budgets(bad)
    assert budget_steps(500, 4) == 2000
    assert budget_steps(400, 2, 0.02) == 16
    assert budget_steps(400, 1, 0.0001) == 1  # never a run of no steps


def test_pool_splits_weights_by_count():
    # 30 of 100 points right in one split and 10 of 50 in the other: 40 of 150 right together
    a = {"model": {"acc@10px": 0.3, "acc@5px": 0.1}, "hog": {"acc@10px": 0.5}}
    b = {"model": {"acc@10px": 0.2, "acc@5px": 0.4}, "hog": {"acc@10px": 0.0}, "extra": {"acc@10px": 1.0}}
    pooled = pool_splits([(a, 100), (b, 50)])
    assert list(pooled) == ["model", "hog"]  # the first split's order; a method missing from one left out
    assert pooled["model"]["acc@10px"] == pytest.approx(40 / 150)
    assert pooled["model"]["acc@5px"] == pytest.approx((10 + 20) / 150)
    assert pooled["hog"] == {"acc@10px": pytest.approx(50 / 150)}
    with pytest.raises(ValueError):
        pool_splits([])


def recorded(cfg, tables: bool, drop=(), **settings) -> dict:
    """A run's config.json of ``cfg`` as train() records it (the data as an absolute path, its kind and the
    drawing it measured), ``settings`` changed and the settings ``drop`` left out: in a table per record
    (as train writes it) or in one flat table (runs recorded before the records)."""
    flat = {**cfg.resolved().flat(), "data": str(Path(cfg.data).resolve()), "data_kind": "triplets",
            "drawing": [64, 0.43], **settings}
    flat = {k: v for k, v in flat.items() if k not in drop}
    if tables:
        tabled = {k: flat[k] for k in ("model", "data", "out") if k in flat}
        for name, record in SECTIONS.items():
            tabled[name] = {f.name: flat[f.name] for f in fields(record) if f.name in flat}
        flat = tabled
    return json.loads(json.dumps(flat))  # as config.json holds it


@pytest.mark.parametrize("tables", [True, False])
def test_demo_run_reused_only_when_it_is_the_same_finished_recipe(tmp_path, tables):
    data = tmp_path / "demo" / "data"
    desc, _ = demo_configs(data, tmp_path / "demo" / "runs", 500, 400, device="cpu", seed=0)
    run = tmp_path / "demo" / "runs" / "descriptor"
    run.mkdir(parents=True)
    saved = recorded(desc, tables)
    (run / "config.json").write_text(json.dumps(saved))
    (run / "model.pt").write_bytes(b"")
    torch.save({"step": 500}, run / "last.pt")
    bench_cfg = desc.with_settings(out=str(tmp_path / "value" / "descriptor-500"))
    assert same_recipe(saved, bench_cfg)
    # a run recorded before a setting existed has it at its default
    assert same_recipe(recorded(desc, tables, drop=("temperature",)), bench_cfg)
    assert not same_recipe(recorded(desc, tables, drop=("loss",)), bench_cfg)  # default "triplet"
    assert not same_recipe(recorded(desc, tables, drop=("model",)), bench_cfg)  # no model: no run's record
    assert finished_demo_run(run, bench_cfg)
    # another budget, another learning rate or another seed is another run
    for change in ({"steps": 2000}, {"lr": 1e-4}, {"seed": 1}, {"data": str(tmp_path / "other" / "triplets")}):
        other = bench_cfg.with_settings(**change)
        assert not finished_demo_run(run, other), change
    torch.save({"step": 300}, run / "last.pt")  # a demo stopped part way
    assert not finished_demo_run(run, bench_cfg)


def test_steps_done_reads_a_checkpoint_and_names_a_broken_one(tmp_path):
    assert steps_done(tmp_path) == 0  # no last.pt: nothing trained yet
    torch.save({"step": 37}, tmp_path / "last.pt")
    assert steps_done(tmp_path) == 37
    (tmp_path / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"last\.pt: unreadable checkpoint"):
        steps_done(tmp_path)


@pytest.mark.parametrize("tables", [True, False])
def test_a_run_of_another_recipe_is_trained_again_and_one_of_the_same_kept(tmp_path, caplog, tables):
    data = tmp_path / "demo" / "data"
    desc, _ = demo_configs(data, tmp_path / "demo" / "runs", 500, 400, device="cpu", seed=0)
    run = Path(desc.out)
    run.mkdir(parents=True)
    saved, former = recorded(desc, tables), recorded(desc, tables, loss="triplet")
    (run / "config.json").write_text(json.dumps(saved))
    torch.save({"step": 300, "config": json.dumps(saved)}, run / "last.pt")
    assert not retrain_other_recipe(desc)  # the same recipe part way: kept, the demo resumes it
    assert (run / "last.pt").is_file()
    # a finished run of the former recipe (semi-hard triplet loss): removed, trained afresh
    (run / "config.json").write_text(json.dumps(former))
    assert retrain_other_recipe(desc)
    assert not run.exists()
    assert "trained with other settings" in caplog.text
    assert not retrain_other_recipe(desc)  # nothing there: nothing to do
    # config.json rewritten by a start that then resumed the former recipe's checkpoint: the
    # checkpoint's own record decides
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(saved))
    torch.save({"step": 2000, "config": json.dumps(former)}, run / "last.pt")
    assert retrain_other_recipe(desc)
    assert not run.exists()


@pytest.mark.parametrize("tables", [True, False])
def test_a_run_of_the_same_recipe_on_rebuilt_data_is_trained_again(tmp_path, caplog, tables):
    data = tmp_path / "demo" / "data"
    desc, _ = demo_configs(data, tmp_path / "demo" / "runs", 500, 400, device="cpu", seed=0)
    shards = [{"shard": "train/a-000.tar", "sha256": "1" * 64}, {"shard": "test/b-000.tar", "sha256": "2" * 64}]
    Path(desc.data).mkdir(parents=True)
    (Path(desc.data) / "manifest.json").write_text(json.dumps({"dataset": "triplets", "shards": shards}))
    digest = dataset_digest(desc.data)
    assert len(digest) == 64
    run = Path(desc.out)
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(recorded(desc, tables, data_sha256=digest)))
    assert not retrain_other_recipe(desc)  # the same settings on the same data: kept
    # the builder run again with other options: one shard's bytes differ, the run is of other data
    shards[1]["sha256"] = "3" * 64
    (Path(desc.data) / "manifest.json").write_text(json.dumps({"dataset": "triplets", "shards": shards}))
    assert dataset_digest(desc.data) != digest
    assert retrain_other_recipe(desc)
    assert not run.exists()
    assert "trained with other settings" in caplog.text


def test_dataset_digest_follows_the_shards_not_their_order(tmp_path):
    shards = [{"shard": f"train/s-{i:03d}.tar", "sha256": f"{i:064x}"} for i in range(3)]
    for name, listed in (("a", shards), ("b", shards[::-1])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps({"shards": listed}))
    assert dataset_digest(tmp_path / "a") == dataset_digest(tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "manifest.json").write_text(json.dumps({"shards": shards[:2]}))
    assert dataset_digest(tmp_path / "c") != dataset_digest(tmp_path / "a")
    assert dataset_digest(tmp_path) is None  # no manifest: nothing to digest


def test_the_spg_table_has_a_column_per_category_and_the_mean():
    from bench.bench_value import format_curve

    rows = {"1x": {"model": {"airplane": 0.6, "coffee_cup": 0.7, "mean": 0.65}, "hog": {"airplane": 0.5}}}
    text = format_curve("SPG", "descriptor", rows, {"1x": 1000}, ["airplane", "coffee_cup", "mean"])
    lines = text.splitlines()
    assert lines[1].split()[-3:] == ["airplane", "coffee_cup", "mean"]
    assert lines[2].split()[-3:] == ["0.600", "0.700", "0.650"]
    assert lines[3].split()[-3:] == ["0.500", "nan", "nan"]  # a figure not measured is not made up
