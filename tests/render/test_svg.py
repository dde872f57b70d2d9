import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from sketchgen.render.camera import Camera
from sketchgen.render.strokes import Drawing, Stroke
from sketchgen.render.svg import drawing_svg

SVG = "{http://www.w3.org/2000/svg}"


def make_stroke(xy, kind, weight=None) -> Stroke:
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    return Stroke(xy=xy, depth=np.ones(n), points=np.zeros((n, 3)), faces=np.zeros(n, np.int64), kind=kind,
                  weight=weight)


def parse_points(text):
    return np.array([[float(v) for v in pair.split(",")] for pair in text.split()])


def test_svg_viewbox_classes_and_coordinates_equal_stroke_xy(rng):
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=320, height=200, yfov_deg=40.0)
    strokes = [make_stroke(rng.uniform(0, 200, size=(n, 2)), kind)
               for n, kind in ((5, "contour"), (17, "crease"), (2, "boundary"), (9, "suggestive"))]
    root = ET.fromstring(drawing_svg(Drawing(cam, strokes), line_width=1.5))
    assert root.get("viewBox") == "0 0 320 200"
    assert (root.get("width"), root.get("height")) == ("320", "200")
    assert root.find(f"{SVG}g").get("stroke-width") == "1.5"
    lines = root.findall(f".//{SVG}polyline")
    assert [p.get("class") for p in lines] == ["contour", "crease", "boundary", "suggestive"]
    for element, stroke in zip(lines, strokes):
        np.testing.assert_allclose(parse_points(element.get("points")), stroke.xy, atol=5e-4)


def test_gapped_stroke_is_one_path_with_a_subpath_per_inked_run():
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=64, height=64, yfov_deg=40.0)
    xy = np.stack([np.arange(10.0) + 0.25, np.full(10, 7.5)], axis=1)
    weight = np.array([1, 1, 1, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5])
    text = drawing_svg(Drawing(cam, [make_stroke(xy, "contour", weight)]))
    root = ET.fromstring(text)
    (path,) = root.findall(f".//{SVG}path")
    assert not root.findall(f".//{SVG}polyline")
    subpaths = [np.array(re.findall(r"-?\d+\.\d+", sub), dtype=float).reshape(-1, 2)
                for sub in path.get("d").split("M")[1:]]
    np.testing.assert_allclose(subpaths[0], xy[:3], atol=5e-4)
    np.testing.assert_allclose(subpaths[1], xy[5:], atol=5e-4)
    assert float(path.get("stroke-width")) == pytest.approx(np.mean(weight[weight > 0]), abs=1e-3)


def test_empty_drawing_is_a_valid_blank_svg():
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=16, height=8, yfov_deg=40.0)
    root = ET.fromstring(drawing_svg(Drawing(cam, [])))
    assert root.get("viewBox") == "0 0 16 8"
    assert not root.findall(f".//{SVG}polyline") and not root.findall(f".//{SVG}path")
