"""One drawing configuration: ``render.draw.DrawConfig`` is what ``sketchgen draw`` and the dataset builders
take; a builder's candidate spacing is its own setting."""

import pytest

from sketchgen.datagen.manifest import drawing_width, to_jsonable
from sketchgen.datagen.pairs import PairConfig
from sketchgen.datagen.regenerate import from_jsonable, upgrade_config
from sketchgen.datagen.triplets import TripletConfig
from sketchgen.render.draw import DrawConfig


def test_the_builders_draw_with_draws_record_at_their_own_width():
    for cls in (TripletConfig, PairConfig):
        config = cls()
        assert isinstance(config.drawing, DrawConfig)
        # the builders' strokes stay 1.5 px wide (draw's own default is 1 px); lines and creases as draw's
        assert config.drawing == DrawConfig(width=1.5) != DrawConfig()
    assert TripletConfig().spacing_px == 3.0 and not hasattr(PairConfig(), "spacing_px")


@pytest.mark.parametrize("change", [{"style": "sketchy"}, {"seed": 3}])
def test_a_dataset_refuses_a_drawing_style_or_seed_of_its_own(change):
    with pytest.raises(ValueError, match="style mix"):
        TripletConfig(drawing=DrawConfig(width=1.5, **change))


def test_a_manifest_of_the_old_line_config_reads_as_the_drawing_config():
    old_lines = {"kinds": ["contour", "crease"], "crease_deg": 30.0, "spacing_px": 2.0, "width": 2.5}
    for cls in (TripletConfig, PairConfig):
        data = to_jsonable(cls())
        del data["drawing"]
        data["lines"] = old_lines
        config = from_jsonable(cls, upgrade_config(cls, data))
        assert config.drawing == DrawConfig(lines=("contour", "crease"), crease_deg=30.0, width=2.5)
        assert getattr(config, "spacing_px", 2.0) == 2.0
        assert drawing_width(data, 1.5) == 2.5
    # a manifest of today is read as written
    today = to_jsonable(TripletConfig(spacing_px=4.0))
    assert from_jsonable(TripletConfig, upgrade_config(TripletConfig, today)) == TripletConfig(spacing_px=4.0)
    assert drawing_width(today, 9.0) == 1.5 and drawing_width({}, 9.0) == 9.0
