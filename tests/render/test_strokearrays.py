import numpy as np
import pytest

from sketchgen.render.camera import Camera
from sketchgen.render.raster import rasterize
from sketchgen.render.strokearrays import (KIND_CODES, StrokeArrays, draw_strokes, draw_windows, from_drawing,
                                           segments, styled, to_drawing, window_segments)
from sketchgen.render.strokes import Drawing, Stroke
from sketchgen.render.style import make_style

CAM = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=128, height=96, yfov_deg=40.0)


def _stroke(xy, kind="contour", weight=None):
    """A stroke whose 3D points are the exact back-projections of ``xy`` at depth 3."""
    xy = np.asarray(xy, np.float64)
    points = CAM.pixels_to_world(xy, np.full(len(xy), 3.0))
    return Stroke(xy=xy, depth=np.full(len(xy), 3.0), points=points, faces=np.arange(len(xy)) + 10, kind=kind,
                  weight=weight)


@pytest.fixture
def drawing():
    # coordinates on a 1/8 px grid: exact in float32, so the record rasterises like the drawing
    return Drawing(CAM, [_stroke([[10.0, 10.0], [60.5, 20.25], [100.125, 80.0]]),
                         _stroke([[30.0, 70.0]], "crease"),  # a dot
                         _stroke([[5.0, 50.0], [120.0, 52.5]], "boundary", weight=np.array([1.0, 0.5]))])


def test_record_of_a_drawing_rasterises_as_the_drawing_and_survives_npz(drawing):
    labels = np.arange(100) % 7
    rec = from_drawing(drawing, line_width=1.5, face_labels=labels)
    assert len(rec) == 6 and rec.strokes == 3
    assert rec.stroke.tolist() == [0, 0, 0, 1, 2, 2]
    assert rec.kind.tolist() == [KIND_CODES["contour"]] * 3 + [KIND_CODES["crease"]] + [KIND_CODES["boundary"]] * 2
    assert rec.kind.tolist() == [0, 0, 0, 2, 1, 1]
    assert rec.part.tolist() == [3, 4, 5, 3, 3, 4] and rec.face.tolist() == [10, 11, 12, 10, 10, 11]
    assert rec.xy.dtype == np.float32 and rec.stroke.dtype == np.int32 and rec.kind.dtype == np.uint8
    back = StrokeArrays.from_npz(rec.to_npz())
    for name in ("xy", "offset", "stroke", "point", "face", "part", "kind", "weight", "width"):
        assert np.array_equal(getattr(back, name), getattr(rec, name)) and getattr(back, name).dtype == getattr(rec, name).dtype
    image = draw_strokes([back], 128, 96)[0]
    assert np.array_equal(image, rasterize(drawing, line_width=1.5))
    assert image[10, 10] < 128 and image[70, 30] < 200  # ink at a stroke end and at the dot


def test_segments_join_consecutive_vertices_of_a_stroke_only(drawing):
    a, b, wa, wb = segments(from_drawing(drawing, line_width=2.0))
    # 2 pieces of the polyline, 1 dot, 1 piece of the weighted line; never across strokes
    assert len(a) == 4
    assert np.array_equal(a[2], b[2]) and a[2].tolist() == [30.0, 70.0]
    assert wa.tolist() == [2.0, 2.0, 2.0, 2.0] and wb.tolist() == [2.0, 2.0, 2.0, 1.0]


def test_sketchy_record_offsets_are_drawn_minus_exact_projection(drawing):
    rec = styled(from_drawing(drawing, line_width=1.5), CAM, make_style("sketchy", np.random.default_rng(3),
                                                                        line_width=1.5), line_width=1.5)
    exact, _ = CAM.world_to_pixels(rec.point.astype(np.float64))
    assert np.abs(exact + rec.offset - rec.xy).max() < 1e-3
    assert 0.3 < np.abs(rec.offset).max() < 2.0 + 3.5 + 0.01  # wobble bound + longest overshoot
    clean = styled(from_drawing(drawing, line_width=1.5), CAM, make_style("clean"), line_width=1.5)
    assert not clean.offset.any()
    again = from_drawing(to_drawing(rec, CAM), line_width=1.5)
    assert np.array_equal(again.xy, rec.xy) and np.array_equal(again.offset, rec.offset)


def test_window_redraws_at_a_constant_line_width():
    line = from_drawing(Drawing(CAM, [_stroke([[0.0, 40.0], [128.0, 40.0]])]), line_width=3.0)
    for half in (8.0, 32.0):
        a, b, wa, wb = window_segments(line, (64.0, 40.0), half, 64, 1.0)
        assert np.allclose(a[:, 1], 32.0) and np.allclose(wa, 1.0)  # centred, 1 px whatever the zoom
        assert a[:, 0].min() <= 32.0 - 64 / (2 * half) * half  # reaches the window's left edge
    far = window_segments(line, (64.0, 80.0), 8.0, 64, 1.0)
    assert len(far[0]) == 0  # 40 px away from an 8 px window


def test_windows_of_several_records_are_each_one_window_drawn_alone(drawing):
    from sketchgen.render.raster import segment_image_batch

    first = from_drawing(drawing, line_width=1.5)
    second = from_drawing(Drawing(CAM, [_stroke([[0.0, 40.0], [128.0, 41.0]])]), line_width=3.0)
    records = [first, second]
    # interleaved records; a window far from every stroke; zooms in and out
    windows = [(1, 64.0, 40.0, 8.0), (0, 60.0, 20.0, 16.0), (0, 30.0, 70.0, 4.0), (1, 64.0, 90.0, 6.0),
               (0, 64.0, 48.0, 64.0)]
    images = draw_windows(records, windows, 32)
    assert images.shape == (5, 32, 32) and images.dtype == np.uint8
    for image, (r, cx, cy, half) in zip(images, windows):
        a, b, wa, wb = window_segments(records[r], (cx, cy), half, 32, None)
        alone = segment_image_batch(a, b, wa, wb, 0, 1, 32, 32)[0]
        assert np.array_equal(image, alone)
    assert (images[3] == 255).all() and (images[0] < 128).any() and (images[2] < 200).any()
    with pytest.raises(IndexError, match="record 2 of 2"):
        draw_windows(records, [(2, 0.0, 0.0, 4.0)], 32)


def test_corrupt_record_is_refused():
    rec = StrokeArrays.of(xy=np.zeros((2, 2)), offset=np.zeros((2, 2)), stroke=[0, 1], point=np.zeros((2, 3)),
                          face=[0, 0], part=[0, 0], kind=[0, 0], weight=[1, 1], width=[1.0, 1.0])
    with pytest.raises(ValueError, match="stroke index"):
        StrokeArrays.of(**{**{n: getattr(rec, n) for n in ("xy", "offset", "point", "face", "part", "kind",
                                                              "weight")}, "stroke": [0, 2], "width": [1.0, 1.0]})
    with pytest.raises(ValueError, match="lacks"):
        import io
        buf = io.BytesIO()
        np.savez(buf, xy=np.zeros((1, 2)))
        StrokeArrays.from_npz(buf.getvalue())


def test_npz_reader_reads_what_numpy_reads_and_leaves_other_archives_to_numpy():
    """The direct reader of stored archives against ``np.load``: ``npz_bytes`` and ``np.savez`` output give
    the same arrays (values, dtypes, shapes, writable); a compressed archive or a damaged member is left
    to ``np.load``."""
    import io
    import zipfile

    from sketchgen.render.strokearrays import FIELDS, StrokeArrays, _read_stored_npz, npz_bytes

    rng = np.random.default_rng(2)
    n = 37
    rec = StrokeArrays.of(xy=rng.normal(size=(n, 2)), offset=rng.normal(size=(n, 2)), stroke=np.sort(rng.integers(0, 5, n)),
                          point=rng.normal(size=(n, 3)), face=rng.integers(0, 99, n), part=rng.integers(-1, 3, n),
                          kind=rng.integers(0, 4, n), weight=rng.random(n), width=np.full(5, 1.5))
    for data in (rec.to_npz(), npz_bytes({"a": np.zeros((0, 3), np.float32), "b": np.arange(4, dtype=">i8")})):
        fast = _read_stored_npz(data)
        with np.load(io.BytesIO(data)) as z:
            assert set(fast) == set(z.files)
            for name in z.files:
                assert fast[name].dtype == z[name].dtype and np.array_equal(fast[name], z[name])
                assert fast[name].flags.writeable
    buf = io.BytesIO()
    np.savez(buf, **rec.fields())
    got = StrokeArrays.from_npz(buf.getvalue())
    assert all(np.array_equal(getattr(got, f), getattr(rec, f)) for f in FIELDS)
    buf = io.BytesIO()
    np.savez_compressed(buf, **rec.fields())
    assert _read_stored_npz(buf.getvalue()) is None
    assert np.array_equal(StrokeArrays.from_npz(buf.getvalue()).xy, rec.xy)
    damaged = bytearray(rec.to_npz())
    damaged[200] ^= 0xFF
    assert _read_stored_npz(bytes(damaged)) is None
    with pytest.raises((ValueError, zipfile.BadZipFile)):
        StrokeArrays.from_npz(bytes(damaged))
