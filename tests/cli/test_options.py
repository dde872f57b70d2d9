"""Named-number options: ``near:4,other-shape:1``, ``clean:0.5,sketchy:0.5``."""

import pytest

from sketchgen.datagen.negatives import parse_counts
from sketchgen.datagen.stylemix import parse_style_mix
from sketchgen.named import parse_named


def test_named_numbers_in_order_with_defaults():
    assert parse_named("b:2, a ,,c:0.5", ("a", "b", "c"), what="thing") == [("b", 2.0), ("a", 1), ("c", 0.5)]
    assert parse_counts("near:4,other-shape") == (("near", 4), ("other-shape", 1))
    assert parse_style_mix("clean:1,sketchy:3") == (("clean", 0.25), ("sketchy", 0.75))


@pytest.mark.parametrize("text, message", [("wobbly:1", "unknown style 'wobbly'"),
                                           ("sketchy:lots", "'lots', not a number"),
                                           ("sketchy:-1", "must be >= 0")])
def test_bad_style_mixes_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_style_mix(text)


@pytest.mark.parametrize("text, message", [("far:2", "unknown negative kind 'far'"),
                                           ("near:2.5", "'2.5', not a whole number"), ("near:0", "at least 1")])
def test_bad_negative_counts_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_counts(text)


def test_a_config_style_mix_with_a_negative_weight_is_refused():
    from sketchgen.datagen.stylemix import check_style_mix

    with pytest.raises(ValueError, match="positive weight"):
        check_style_mix((("clean", 2.0), ("sketchy", -1.0)))
    assert check_style_mix([["clean", 1], ["sketchy", 0]]) == (("clean", 1.0), ("sketchy", 0.0))


# ------------------------------------------------------------------------- numeric options' ranges
def _numeric_options():
    """(argv prefix, action) of every option of every sketchgen command (sub-subcommands included)."""
    import argparse

    from sketchgen.cli import SUBCOMMANDS, build_parser

    found = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
            elif action.option_strings:
                found.append((parser, prefix, action))

    for command in SUBCOMMANDS:
        parser, _, _ = build_parser([command])
        walk(parser, [])
    return [(p, prefix, a) for p, prefix, a in found if prefix and prefix[0] in SUBCOMMANDS]


def _outside(kind):
    """Values just outside a Number's range (and NaN/infinity for real ones), as command-line text."""
    step = 1 if kind.cast is int else 0.5
    values = []
    if kind.low is not None:
        values.append(kind.low if kind.above else kind.low - step)
    if kind.high is not None:
        values.append(kind.high if kind.below else kind.high + step)
    if kind.cast is float:
        values += ["nan", "inf"]
    else:
        values.append("2.5")
    return [str(v) for v in values]


def test_every_numeric_option_declares_its_range_and_refuses_values_outside_it(capsys):
    from sketchgen.cli import build_parser
    from sketchgen.cli.options import Number

    checked = 0
    for _, prefix, action in _numeric_options():
        option = action.option_strings[-1]
        assert action.type not in (int, float), f"sketchgen {' '.join(prefix)} {option}: declare its range " \
                                                f"(type=whole(...) or real(...) from cli.options)"
        if not isinstance(action.type, Number):
            continue
        defaults = action.default if isinstance(action.default, (list, tuple)) else [action.default]
        for default in defaults:  # the default lies in the declared range
            assert default is None or action.type.contains(default), (prefix, option, default)
        for value in _outside(action.type):
            parser, _, _ = build_parser(prefix[:1])
            with pytest.raises(SystemExit) as exit_:
                parser.parse_args([*prefix, option, *[value] * (action.nargs if isinstance(action.nargs, int) else 1)])
            assert exit_.value.code == 2, (prefix, option, value)
            err = capsys.readouterr().err.strip().splitlines()[-1]
            assert f"argument {option}: must be {action.type.describe()}, got {value!r}" in err, err
            checked += 1
    # draw 3, collection 1, preview 1, triplets 12 + pairs 11 (shared 7 each), train 17, eval 2, demo 7
    assert checked >= 2 * 50


@pytest.mark.parametrize("argv, reason", [
    (["triplets", "--seed", "-1"], "argument --seed: must be a whole number in [0, 9223372036854775807], got '-1'"),
    (["pairs", "--max-angle", "-10"], "argument --max-angle: must be a number in [0, 180], got '-10'"),
    (["pairs", "--views", "1"], "argument --views: must be a whole number >= 2, got '1'"),
    (["draw", "--width", "0"], "argument --width: must be a number > 0, got '0'"),
    (["train", "descriptor", "--lr", "nan"], "argument --lr: must be a number > 0, got 'nan'"),
])
def test_a_bad_value_stops_the_command_before_any_work(tmp_path, capsys, argv, reason):
    """Exit 2, the reason in one line of stderr, nothing written (the first case as a user runs it, in a
    process of its own)."""
    import subprocess
    import sys

    from sketchgen.cli import main

    out = tmp_path / "out"
    extra = {"draw": [str(tmp_path / "m.obj"), "--camera", str(tmp_path / "c.json"), "--out", str(out / "a.png")],
             "train": ["--data", str(tmp_path), "--out", str(out)]}.get(argv[0], ["--out", str(out)])
    if argv[0] == "triplets":
        proc = subprocess.run([sys.executable, "-m", "sketchgen.cli", *argv, *extra], capture_output=True,
                              text=True, timeout=120)
        code, err = proc.returncode, proc.stderr
    else:
        code, err = main([*argv, *extra]), capsys.readouterr().err
    assert code == 2
    assert err == f"sketchgen {argv[0]}: error: {reason}\n"
    assert not out.exists()


def test_the_dataset_configs_refuse_what_the_command_line_refuses():
    """Python users build the configs without argparse: a negative seed or angle fails there too, before
    any unit runs (a negative seed otherwise failed every unit in numpy's SeedSequence)."""
    from sketchgen.datagen.pairs import PairConfig
    from sketchgen.datagen.triplets import TripletConfig

    for make, message in ((lambda: PairConfig(seed=-1), "seed must be >= 0"),
                          (lambda: PairConfig(max_angle_deg=-10.0), r"\[0, 180\] degrees, got -10"),
                          (lambda: TripletConfig(seed=-1), "seed must be >= 0"),
                          (lambda: TripletConfig(max_angle_deg=190.0), r"\[0, 180\] degrees, got 190")):
        with pytest.raises(ValueError, match=message):
            make()
