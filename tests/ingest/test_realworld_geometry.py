"""``sketchgen draw`` on the real-world geometry fixtures, against the answers their README gives.

Ink is any pixel darker than 128. Each fixture stands for a kind of input; tests/ingest/
test_geometry_kinds.py builds other inputs of the same kinds procedurally.
"""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from sketchgen.cli import main

from shared_data import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "realworld"
pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="real-world fixtures not present")


def draw(tmp_path, folder, name, *extra) -> np.ndarray:
    """Draw FIXTURES/folder/name with the folder's cam.json; returns the ink mask (H, W) bool."""
    out = tmp_path / f"{Path(name).stem}.png"
    assert main(["draw", str(FIXTURES / folder / name), "--camera", str(FIXTURES / folder / "cam.json"),
                 "--out", str(out), *extra]) == 0
    return cv2.imread(str(out), cv2.IMREAD_GRAYSCALE) < 128


def extent(ink: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(ink)
    return int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())


def near_lines(ink: np.ndarray, xs=(), ys=(), tol=1.5) -> np.ndarray:
    """(H, W) bool: ink pixels whose centre lies within ``tol`` px of one of the vertical lines x = xs
    or horizontal lines y = ys."""
    rows, cols = np.nonzero(ink)
    cx, cy = cols + 0.5, rows + 0.5
    on = np.zeros(len(rows), bool)
    for x in xs:
        on |= np.abs(cx - x) <= tol
    for y in ys:
        on |= np.abs(cy - y) <= tol
    out = np.zeros_like(ink)
    out[rows[on], cols[on]] = True
    return out


def test_concave_ngon_caps_leave_the_notch_open(tmp_path):
    ink = draw(tmp_path, "concave_ngon", "u_prism.obj")
    # U: outer x 60-240, y 60-240; notch x 120-180 down to y 180; box front face x 132-168, y 78-132
    assert extent(ink) == (59, 240, 59, 240)
    straight = near_lines(ink, xs=(60, 120, 180, 240, 132, 168), ys=(60, 180, 240, 78, 132))
    assert (ink & ~straight).sum() == 0  # no diagonal strokes across a cap
    # a 1 px line on a pixel boundary is two 50% grey pixels, not ink: check the box at 2 px
    ink = draw(tmp_path, "concave_ngon", "u_prism.obj", "--width", "2")
    notch = np.zeros_like(ink)
    notch[62:178, 122:178] = True
    # inside the notch only the box's outline: its sides all the way from y = 80 down past y = 120
    assert (ink & notch & ~near_lines(ink, xs=(132, 168), ys=(78, 132))).sum() == 0
    for x in (132, 168):
        assert ink[80:131, x - 1:x + 1].any(axis=1).all()
    assert not ink[140:178, 122:178].any()  # the notch below the box is open: no cap across it


def test_mm_part_is_drawn_with_fitted_clip_planes_and_its_points_visible(tmp_path):
    ink = draw(tmp_path, "mm_units", "part_mm.stl", "--points", str(FIXTURES / "mm_units" / "pts.npy"))
    x0, x1, y0, y1 = extent(ink)
    assert (x0, x1, y1) == (110, 289, 194) and y0 == 59  # box face x 110.5-289.5 px; cylinder ink up to y = 59
    for y in (105, 195):  # the face's top and bottom edges, y = 105.2 and 194.8 px, drawn all along
        assert ink[y - 1:y + 1, 112:288].any(axis=0).all()
    points = json.loads((tmp_path / "part_mm.points.json").read_text())
    np.testing.assert_allclose(points["xy"][:2], [[289.5, 105.2], [110.5, 194.8]], atol=0.1)
    near_face = np.isclose(np.load(FIXTURES / "mm_units" / "pts.npy")[:, 2], 75.0)
    assert near_face.sum() == 2 and all(np.array(points["visible"])[near_face])


def test_mm_part_with_a_far_plane_that_cuts_it_warns_once_naming_the_file(tmp_path, caplog, capsys):
    cam = json.loads((FIXTURES / "mm_units" / "cam.json").read_text())
    cam_path = tmp_path / "cam.json"
    cam_path.write_text(json.dumps([dict(cam, zfar=100.0)] * 2))
    mesh = FIXTURES / "mm_units" / "part_mm.stl"
    # the far plane leaves nothing of the part: both cameras see nothing of it (exit 1, one line each)
    assert main(["draw", str(mesh), "--camera", str(cam_path), "--out", str(tmp_path / "o.png")]) == 1
    assert capsys.readouterr().err.count(f"{mesh}: camera ") == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(mesh) in warnings[0] and "zfar 100" in warnings[0]
    assert (cv2.imread(str(tmp_path / "o_000.png"), cv2.IMREAD_GRAYSCALE) == 255).all()  # kept: clipped away


def test_latin1_comment_loads_and_draws(tmp_path):
    ink = draw(tmp_path, "latin1_comment", "latin1.obj")
    assert extent(ink) == (49, 150, 49, 150)  # front face x 50-150, y 50-150 px
    assert (ink & ~near_lines(ink, xs=(50, 150), ys=(50, 150))).sum() == 0


@pytest.mark.parametrize("name", ["sphere_double.obj", "sphere_clean.obj"])
@pytest.mark.parametrize("lines", [[], ["--lines", "contour"]])
def test_double_sided_sphere_draws_its_circle(tmp_path, name, lines):
    ink = draw(tmp_path, "double_sided", name, *lines)
    ys, xs = np.nonzero(ink)
    radius = np.hypot(xs + 0.5 - 150.0, ys + 0.5 - 150.0)
    assert len(radius) > 500  # a whole circle (2 pi 94.5 = 594 px)
    assert np.all(np.abs(radius - 94.5) <= 1.0)  # nothing inside it
    angle = np.arctan2(ys + 0.5 - 150.0, xs + 0.5 - 150.0)
    assert len(np.unique(np.floor((angle + np.pi) / (2 * np.pi) * 72))) == 72  # closed all round


def test_off_polygons_load_and_draw(tmp_path):
    ink = draw(tmp_path, "off_polygons", "hexprism.off")
    assert extent(ink) == (49, 250, 99, 200)  # front view x 50-250, y 100-200 px
    # the three side faces seen edge-on at x = 100, 200 and the caps' outline: nothing else
    assert (ink & ~near_lines(ink, xs=(50, 100, 200, 250), ys=(100, 200))).sum() == 0
    pyramid = draw(tmp_path, "off_polygons", "pentapyramid.off")
    x0, x1, y0, y1 = extent(pyramid)
    assert y0 < 52 and y1 == 150  # apex at y = 50, base seen edge-on at y = 150


def test_psb_triangle_off_reads_as_trimesh_reads_it():
    import trimesh

    from sketchgen.ingest.meshfile import read_mesh

    path = FIXTURES / "psb" / "airplane" / "61.off"
    mesh, reference = read_mesh(path), trimesh.load(path, process=False)
    assert len(mesh.faces) == 10796  # one label per face in 61.seg: the file's faces, in its order
    np.testing.assert_array_equal(mesh.faces, reference.faces)
    np.testing.assert_array_equal(mesh.vertices, reference.vertices)
