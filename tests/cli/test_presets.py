"""``--config FILE``, ``--preset NAME`` and ``--print-config`` (cli.presets) on the commands."""

import dataclasses
import hashlib
from pathlib import Path

import pytest

from sketchgen.cli import main, resolve
from sketchgen.cli.presets import list_presets, preset_path, read_toml, resolved, to_toml

from tests.datagen.tiny_datasets import tiny_spec


def _tree_hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.glob("*/*.tar"))}


def test_triplets_from_a_config_file_write_the_bytes_of_the_same_flags(tmp_path):
    spec = tiny_spec(tmp_path, n=2)
    flags = ["--collection", str(spec), "--views", "2", "--points", "2", "--size", "32", "--max-angle", "70",
             "--extra-negatives", "near:1", "--zoom-jitter", "0", "--no-progress"]
    assert main(["triplets", "--out", str(tmp_path / "flags"), *flags]) == 0
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'collection = "{spec}"\nviews = 2\npoints = 2\nsize = 32\nmax-angle = 70\n'
                   'extra_negatives = "near:1"\nzoom-jitter = 0.0\nno-progress = true\n')
    assert main(["triplets", "--config", str(cfg), "--out", str(tmp_path / "file")]) == 0
    flagged, filed = _tree_hashes(tmp_path / "flags"), _tree_hashes(tmp_path / "file")
    assert flagged and flagged == filed
    # the resolved options print as a file --config reads back to the same options
    printed = tmp_path / "printed.toml"
    text = to_toml(resolved(_triplets_parser(), resolve(["triplets", "--config", str(cfg), "--out", "o"])))
    assert "views = 2\n" in text and 'extra-negatives = "near:1"\n' in text and 'out = "o"\n' in text
    printed.write_text(text)
    assert to_toml(resolved(_triplets_parser(), resolve(["triplets", "--config", str(printed)]))) == text


def _triplets_parser():
    from sketchgen.cli import build_parser

    return build_parser(["triplets"])[2]


def test_flags_override_a_config_file_and_a_config_file_overrides_a_preset(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("views = 5\npoints = 3\n")
    args = resolve(["triplets", "--preset", "demo", "--config", str(cfg), "--points", "7", "--out", "o"])
    preset = read_toml(preset_path("triplets", "demo"))
    assert (args.views, args.points) == (5, 7)             # config over preset, flag over config
    assert args.max_angle == preset["max-angle"] == 60.0   # the preset where nothing overrides it
    assert args.other_same_view is True and args.zoom_jitter == 0.0


def test_print_config_prints_the_resolved_options_and_builds_nothing(tmp_path, capsys):
    assert main(["pairs", "--preset", "demo", "--out", str(tmp_path / "p"), "--print-config"]) == 0
    text = capsys.readouterr().out
    assert "pairs = 6\n" in text and "size = 256\n" in text and "max-angle = 60.0\n" in text
    assert not (tmp_path / "p").exists()


def test_the_demo_triplet_preset_draws_at_the_descriptors_size_and_width():
    from sketchgen.cli.commands.demo import DESCRIPTOR_SIZE
    from sketchgen.train.zooms import point_drawing

    preset = read_toml(preset_path("triplets", "demo"))
    native, width = point_drawing(DESCRIPTOR_SIZE)
    assert preset["size"] == native and preset["width"] == pytest.approx(width, abs=1e-6)


def test_a_train_preset_resolves_to_the_config_of_its_flags(tmp_path):
    from sketchgen.cli.commands.demo import demo_configs
    from sketchgen.cli.commands.train import config_from_args

    common = ["--data", "d", "--out", "r"]
    by_preset = config_from_args(resolve(["train", "--preset", "demo-warp", *common]))
    by_flags = config_from_args(resolve(
        ["train", "warp", *common, "--steps", "400", "--batch-size", "8", "--lr", "2e-3", "--schedule", "cosine",
         "--backbone", "small", "--size", "128", "--stn-width", "64", "--stn-layers", "2", "--warp-base",
         "softargmax", "--softargmax-prior", "0.25", "--refine", "32", "--checkpoint-every", "50"]))
    assert by_preset == by_flags
    desc, warp = demo_configs(Path("data"), Path("runs"), 1000, 400, device="cpu", seed=0)
    assert dataclasses.replace(warp, data="d", out="r") == by_preset
    assert (desc.model, desc.optim.loss, desc.optim.temperature, desc.optim.augment, desc.network.size,
            desc.network.backbone, desc.optim.lr) == ("descriptor", "infonce", 0.1, False, 64, "small", 1e-3)
    assert desc.data == str(Path("data") / "triplets") and warp.out == str(Path("runs") / "warp")


@pytest.mark.parametrize("text, reason", [
    ("viewz = 3\n", "unknown option 'viewz'"),
    ('views = "3"\n', "views: expected a whole number"),
    ("width = true\n", "width: expected a number"),
    ('anchors = "grid"\n', "anchors: 'grid' is not one of poisson, keypoints"),
    ("near-px = [1.0]\n", "near-px: expected 2 values"),
    ("views = \n", "not a TOML file"),
    ("views = 0\n", "views: must be a whole number >= 2"),
    ("max-angle = 200.0\n", "max-angle: must be a number in [0, 180]"),
])
def test_a_bad_config_file_is_one_line_naming_the_file_and_the_key(tmp_path, capsys, text, reason):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    assert main(["triplets", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(cfg) in err and reason in err
    assert not (tmp_path / "o").exists()


def test_a_folder_given_as_config_file_is_one_line(tmp_path, capsys):
    assert main(["triplets", "--config", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0] and "cannot read the configuration file" in err[0]


def test_unknown_presets_are_named_with_the_ones_there_are(capsys):
    assert main(["train", "descriptor", "--preset", "nope", "--data", "d", "--out", "r"]) == 2
    err = capsys.readouterr().err
    assert "no preset 'nope'" in err and "demo-descriptor, demo-warp" in err
    assert list_presets("triplets") == ["demo"] and list_presets("pairs") == ["demo"]


def test_a_command_of_actions_takes_a_config_file_for_its_action(tmp_path, capsys):
    """collection info and export sfnet read their options from --config after the action: the file's
    keys are the action's options, flags still win, and --print-config prints them."""
    from sketchgen.cli import main

    cfg = tmp_path / "info.toml"
    cfg.write_text('path = "/nowhere/at/all"\njson = true\nup-axis = "+z"\n')
    args = resolve(["collection", "info", "--config", str(cfg), "--up-axis", "+x"])
    assert (args.path, args.json, args.up_axis) == ("/nowhere/at/all", True, "+x")
    assert main(["collection", "info", "--config", str(cfg), "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert 'path = "/nowhere/at/all"' in printed and "json = true" in printed and 'up-axis = "+z"' in printed
    bad = tmp_path / "bad.toml"
    bad.write_text("viewz = 3\n")
    assert main(["export", "sfnet", "--config", str(bad)]) == 2
    assert f"{bad}: unknown option 'viewz'" in capsys.readouterr().err
