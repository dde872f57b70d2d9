import numpy as np
import pytest

from sketchgen.render.camera import Camera
from sketchgen.render.raster import encode_png, ink_to_image, rasterize, stroke_ink
from sketchgen.render.strokes import Drawing, Stroke


def make_stroke(xy, weight=None, kind="contour") -> Stroke:
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    return Stroke(xy=xy, depth=np.ones(n), points=np.zeros((n, 3)), faces=np.zeros(n, np.int64), kind=kind,
                  weight=None if weight is None else np.asarray(weight, dtype=np.float64))


def column_profile(ink, col):
    """(centroid row coordinate in pixels, ink sum) of one image column."""
    c = ink[:, col].astype(np.float64)
    return float((c * (np.arange(len(c)) + 0.5)).sum() / c.sum()), float(c.sum())


def test_horizontal_stroke_at_pixel_centre_darkens_that_row():
    ink = stroke_ink([make_stroke([[5.0, 10.5], [50.0, 10.5]])], 64, 32)
    # y = 10.5 is the centre of row 10: that row fully inked, its neighbours untouched
    assert ink[10, 20] == pytest.approx(1.0)
    assert ink[9, 20] == 0.0 and ink[11, 20] == 0.0
    centroid, total = column_profile(ink, 20)
    assert centroid == pytest.approx(10.5, abs=1e-6)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("y, width", [(10.3, 1.0), (10.0, 1.0), (17.8, 2.5), (12.25, 3.0), (8.6, 0.5)])
def test_subpixel_centroid_and_width(y, width):
    ink = stroke_ink([make_stroke([[5.0, y], [50.0, y]])], 64, 32, line_width=width)
    centroid, total = column_profile(ink, 27)
    assert abs(centroid - y) < 0.25
    assert total == pytest.approx(width, abs=0.05)


def test_vertical_and_diagonal_strokes_land_on_their_line():
    ink = stroke_ink([make_stroke([[20.25, 4.0], [20.25, 60.0]])], 64, 64)
    row = ink[30].astype(np.float64)
    assert (row * (np.arange(64) + 0.5)).sum() / row.sum() == pytest.approx(20.25, abs=0.25)
    # a diagonal of length L holds about L units of ink at width 1; every inked pixel is near the line
    a, b = np.array([5.0, 7.0]), np.array([55.0, 40.0])
    ink = stroke_ink([make_stroke([a, b])], 64, 64)
    length = np.hypot(*(b - a))
    assert ink.sum() == pytest.approx(length + 1.0, rel=0.05)  # + round caps
    rows, cols = np.nonzero(ink > 0)
    centres = np.stack([cols + 0.5, rows + 0.5], axis=1)
    normal = np.array([-(b - a)[1], (b - a)[0]]) / length
    assert np.abs((centres - a) @ normal).max() < 1.0 + 1e-6


def test_weight_scales_width_and_zero_weight_leaves_a_gap():
    xy = np.stack([np.linspace(2, 62, 61), np.full(61, 16.5)], axis=1)
    weight = np.ones(61)
    weight[25:36] = 0.0  # x in [27, 37] blank
    ink = stroke_ink([make_stroke(xy, weight)], 64, 32, line_width=2.0)
    assert ink[:, 30:35].max() == 0.0
    assert column_profile(ink, 10)[1] == pytest.approx(2.0, abs=0.05)
    half = stroke_ink([make_stroke(xy[:20], np.full(20, 0.5))], 64, 32, line_width=2.0)
    assert column_profile(half, 10)[1] == pytest.approx(1.0, abs=0.05)


def test_far_off_screen_and_nan_vertices_are_harmless():
    strokes = [make_stroke([[-1e7, 10.5], [1e7, 10.5]]), make_stroke([[-1e5, -5.0], [-1e5, 50.0]]),
               make_stroke([[np.nan, 3.0], [30.0, 3.0]])]
    ink = stroke_ink(strokes, 64, 32)
    assert np.allclose(ink[10], 1.0)
    assert ink.sum() == pytest.approx(64.0)


def test_rasterize_drawing_size_background_and_png_round_trip():
    import cv2

    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=48, height=40, yfov_deg=40.0)
    image = rasterize(Drawing(cam, [make_stroke([[4.5, 20.5], [40.5, 20.5]])]), line_width=1.0)
    assert image.shape == (40, 48) and image.dtype == np.uint8
    assert image[0, 0] == 255 and image[20, 20] == 0
    assert (image < 255).sum() == 37  # columns 4..40 of row 20 (round caps reach half a pixel)
    decoded = cv2.imdecode(np.frombuffer(encode_png(image), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, image)
    assert np.array_equal(ink_to_image(np.zeros((2, 2), np.float32)), np.full((2, 2), 255, np.uint8))


def test_batch_draws_each_image_as_a_call_of_its_own_and_scatter_max_is_exact():
    from sketchgen.render.raster import _scatter_max, segment_image_batch, segment_ink, segment_ink_batch

    rng = np.random.default_rng(5)
    a = rng.uniform(-10, 58, (60, 2))
    b = a + rng.normal(0, 9, (60, 2))
    wa, wb = rng.uniform(0.3, 3.0, 60), rng.uniform(0.3, 3.0, 60)
    image = rng.integers(0, 3, 60)
    batch = segment_ink_batch(a, b, wa, wb, image, 3, 48, 40)
    assert batch.shape == (3, 40, 48)
    for k in range(3):
        alone = segment_ink(a[image == k], b[image == k], wa[image == k], wb[image == k], 48, 40)
        np.testing.assert_array_equal(batch[k], alone)
        assert alone.sum() > 20.0
    np.testing.assert_array_equal(segment_image_batch(a, b, wa, wb, image, 3, 48, 40), ink_to_image(batch))
    # many writes to few pixels: the result is the maximum written to each
    index = rng.integers(0, 50, 5000)
    value = rng.uniform(0.01, 1.0, 5000).astype(np.float32)
    out, expected = np.zeros(64, np.float32), np.zeros(64, np.float32)
    _scatter_max(out, index, value)
    np.maximum.at(expected, index, value)
    np.testing.assert_array_equal(out, expected)


def test_compiled_kernel_gives_the_numpy_paths_pixels_bit_for_bit(monkeypatch):
    """The compiled stencil loop and grey conversion (numba) against the numpy path: random pieces of
    every kind (dots, long lines cut in pieces, thin and thick, varying width, off-screen ends) on
    several images, the same float32 ink and the same grey bytes."""
    pytest.importorskip("numba")
    from sketchgen.render import raster
    from sketchgen.render.raster import _compiled_kernel, segment_image_batch, segment_ink_batch

    monkeypatch.setattr(raster, "COMPILED_MIN", 0)  # every call compiled, however few its pieces

    assert _compiled_kernel(0) is not None and _compiled_kernel(1) is not None
    rng = np.random.default_rng(7)
    for _ in range(40):
        m = int(rng.integers(1, 300))
        w, h = int(rng.integers(16, 200)), int(rng.integers(16, 200))
        a = rng.uniform(-40, max(w, h) + 40, (m, 2))
        b = a + rng.normal(0, 1, (m, 2)) * rng.choice([0.0, 2.0, 20.0, 200.0], (m, 1))
        wa = rng.choice([0.3, 1.0, 1.5, 2.7, 6.0], m) * rng.uniform(0, 1.2, m)
        wb = np.where(rng.random(m) < 0.5, wa, rng.uniform(0, 4, m))
        img = rng.integers(0, 3, m)
        ink = segment_ink_batch(a, b, wa, wb, img, 3, w, h)
        assert np.array_equal(ink, segment_ink_batch(a, b, wa, wb, img, 3, w, h, compiled=False))
        grey = segment_image_batch(a, b, wa, wb, img, 3, w, h)
        assert np.array_equal(grey, segment_image_batch(a, b, wa, wb, img, 3, w, h, compiled=False))
        assert (grey < 255).any() or not (ink > 0).any()
