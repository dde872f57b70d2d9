"""Named-number options: ``near:4,other-shape:1``, ``clean:0.5,sketchy:0.5``."""

import pytest

from sketchgen.datagen.negatives import parse_counts
from sketchgen.datagen.options import parse_named
from sketchgen.datagen.stylemix import parse_style_mix


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
