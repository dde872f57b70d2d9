from pathlib import Path

import numpy as np
import pytest
import trimesh

from sketchgen.render.camera import Camera
from sketchgen.render.raster import encode_png, rasterize
from sketchgen.render.strokes import Drawing, Stroke
from sketchgen.render.style import (
    SKETCHY_CONFIGS, STYLES, CleanStyle, SketchyConfig, SketchyStyle, make_style)

from shared_data import FIXTURES
CHAIR = FIXTURES / "realworld" / "psb" / "chair" / "104.off"
# parameters that switch off the style's stochastic additions, to test one at a time
PLAIN = {"drop_prob": 0.0, "retrace_prob": 0.0, "split_px": (1e9, 1e9), "gap_every_px": 0.0}


def camera(size=256, ortho=False) -> Camera:
    if ortho:
        return Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=size, height=size, ortho_scale=1.2)
    return Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=size, height=size, yfov_deg=40.0)


def make_stroke(cam, xy, kind="contour", depth=None) -> Stroke:
    """A stroke whose 3D points project exactly to ``xy`` (at depths between 2.5 and 3.5)."""
    xy = np.asarray(xy, dtype=np.float64)
    n = len(xy)
    depth = np.linspace(2.5, 3.5, n) if depth is None else np.full(n, float(depth))
    return Stroke(xy=xy, depth=depth, points=cam.pixels_to_world(xy, depth),
                  faces=np.arange(n, dtype=np.int64), kind=kind)


@pytest.fixture
def drawing() -> Drawing:
    return example_drawing(camera())


def example_drawing(cam) -> Drawing:
    """A closed circle (radius 80 about the centre), a long line, a wavy curve, a short stroke; 256x256."""
    th = np.linspace(0.0, 2.0 * np.pi, 181)
    circle = np.c_[128 + 80 * np.cos(th), 128 + 80 * np.sin(th)]
    circle[-1] = circle[0]
    x = np.linspace(20, 230, 60)
    strokes = [make_stroke(cam, circle, depth=3.0), make_stroke(cam, [[10.0, 20.0], [240.0, 30.0]], "crease"),
               make_stroke(cam, np.c_[x, 200 + 15 * np.sin(x / 17.0)], "boundary"),
               make_stroke(cam, [[100.0, 100.0], [104.0, 103.0]], "crease")]
    return Drawing(cam, strokes)


def segments(n, length, size=512, seed=0) -> Drawing:
    """``n`` straight strokes of ``length`` px, isolated from each other, in random directions."""
    cam = camera(size)
    rng = np.random.default_rng(seed)
    start = rng.uniform(40, size - 40, size=(n, 2))
    angle = rng.uniform(0, 2 * np.pi, size=n)
    end = start + length * np.c_[np.cos(angle), np.sin(angle)]
    return Drawing(cam, [make_stroke(cam, np.linspace(a, b, 5)) for a, b in zip(start, end)])


def distance_to_polyline(points, xy):
    """(P,) distance from each (P, 2) point to the polyline (N, 2)."""
    a, d = xy[:-1], np.diff(xy, axis=0)
    rel = points[:, None, :] - a[None]
    t = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-12), 0, 1)
    return np.linalg.norm(rel - t[..., None] * d, axis=-1).min(axis=1)


def distance_to_strokes(points, strokes):
    return np.min([distance_to_polyline(points, s.xy) for s in strokes], axis=0)


def on_stroke(stroke, rng, n=200):
    seg = rng.integers(0, len(stroke) - 1, size=n)
    t = rng.uniform(size=(n, 1))
    return stroke.xy[seg] + t * (stroke.xy[seg + 1] - stroke.xy[seg])


def png(drawing, seed, name="sketchy"):
    styled = make_style(name, np.random.default_rng(seed), line_width=1.5).apply(drawing)
    return encode_png(rasterize(styled, line_width=1.5))


def assert_offsets_exact(styled: Drawing):
    """Every vertex: projection of its 3D point plus its offset is its drawn position, to 1e-6 px."""
    for stroke in styled.strokes:
        projected = styled.camera.world_to_pixels(stroke.points)[0]
        offset = np.zeros_like(projected) if stroke.offset is None else stroke.offset
        assert offset.shape == stroke.xy.shape and offset.dtype == np.float64
        np.testing.assert_allclose(projected + offset, stroke.xy, rtol=0, atol=1e-6)


def test_sketchy_is_deterministic_per_seed(drawing):
    for name in STYLES[1:]:
        assert png(drawing, 7, name) == png(drawing, 7, name)
        assert png(drawing, 7, name) != png(drawing, 8, name)
    # apply is repeatable on one style object (the per-stroke draws restart), to the byte
    style = SketchyStyle(np.random.default_rng(3))
    first, second = style.apply(drawing), style.apply(drawing)
    assert len(first.strokes) == len(second.strokes)
    for a, b in zip(first.strokes, second.strokes):
        for field in ("xy", "depth", "points", "faces", "weight", "offset"):
            assert getattr(a, field).tobytes() == getattr(b, field).tobytes()
        assert (a.source, a.retrace, a.kind) == (b.source, b.retrace, b.kind)


def test_one_strokes_shape_does_not_reshuffle_the_others(drawing):
    style = SketchyStyle(np.random.default_rng(4), SketchyConfig(retrace_prob=0.5))
    cam = drawing.camera
    changed = Drawing(cam, drawing.strokes[:2] + [make_stroke(cam, [[30.0, 180.0], [90.0, 240.0], [200.0, 230.0]]),
                                                  drawing.strokes[3]])
    before = [s for s in style.apply(drawing).strokes if s.source != 2]
    after = [s for s in style.apply(changed).strokes if s.source != 2]
    assert len(before) == len(after) >= 3
    for a, b in zip(before, after):
        assert a.xy.tobytes() == b.xy.tobytes() and a.weight.tobytes() == b.weight.tobytes()
    # nor does adding strokes after it: a stroke's draws depend on its index only
    head = style.apply(Drawing(cam, drawing.strokes[:2])).strokes
    full = [s for s in style.apply(drawing).strokes if s.source < 2]
    assert [s.xy.tobytes() for s in head] == [s.xy.tobytes() for s in full]


@pytest.mark.parametrize("name", STYLES)
def test_offsets_are_exact_for_every_vertex(drawing, name):
    styled = make_style(name, np.random.default_rng(1), line_width=1.5).apply(drawing)
    assert_offsets_exact(styled)
    if name == "clean":
        assert all(s.offset is None for s in styled.strokes)  # None: zeros
        return
    style = make_style(name, np.random.default_rng(1), line_width=1.5)
    config = style.config
    for stroke in styled.strokes:
        assert np.abs(stroke.offset).max() > 0.05  # the style moved it
        assert np.linalg.norm(stroke.offset, axis=1).max() <= config.reach_px + 1e-9


@pytest.mark.parametrize("ortho", [False, True])
def test_offset_is_the_field_on_the_line_and_the_overshoot_beyond_it(ortho):
    """With no pieces or retraces, a vertex's offset is exactly the wobble field at its point's
    projection (inserted vertices carry the surface point under them), except the overshoot vertices at
    the ends, which keep the end point and are offset by the run-on as well."""
    drawing = example_drawing(camera(ortho=ortho))
    config = SketchyConfig(**PLAIN)
    style = SketchyStyle(np.random.default_rng(2), config)
    styled = style.apply(drawing)
    assert [s.source for s in styled.strokes] == [0, 1, 2, 3]
    for stroke in styled.strokes:
        projected = styled.camera.world_to_pixels(stroke.points)[0]
        field = style.displace(projected) - projected
        off_field = np.linalg.norm(stroke.offset - field, axis=1) > 1e-6
        tips = int(np.ceil(config.overshoot_px[1] / config.spacing_px))
        assert not off_field[tips:-tips].any()
        if stroke.source == 0:  # the closed circle is not overshot
            assert not off_field.any()
        else:
            run_on = np.linalg.norm(stroke.offset - field, axis=1)[[0, -1]]
            assert np.all(run_on > config.overshoot_px[0] - 0.1) and np.all(run_on < config.overshoot_px[1] + 0.1)
    # the straight line's inserted vertices lie on its 3D segment (perspective-correct)
    line = drawing.strokes[1]
    a, b = line.points
    pts = styled.strokes[1].points
    t = (pts - a) @ (b - a) / ((b - a) @ (b - a))
    np.testing.assert_allclose(pts, a + t[:, None] * (b - a), atol=1e-12)
    assert np.all(np.diff(t) >= 0) and len(pts) > 230 / config.spacing_px


def test_points_on_strokes_stay_on_styled_strokes(drawing, rng):
    for name in STYLES[1:]:
        style = make_style(name, np.random.default_rng(11))
        styled = style.apply(drawing)
        for k, before in enumerate(drawing.strokes):
            drawn = [s for s in styled.strokes if s.source == k and not s.retrace]
            assert drawn, (name, k)
            points = on_stroke(before, rng)
            moved = style.displace(points)
            assert distance_to_strokes(moved, drawn).max() < 0.01
            # and the field really moved them
            assert np.linalg.norm(moved - points, axis=1).mean() > 0.2


def test_displaced_points_land_on_ink(drawing, rng):
    from scipy.ndimage import distance_transform_edt

    width = 1.5
    for config, share in ((SketchyConfig(gap_every_px=0.0), 1.0), (SketchyConfig(gap_every_px=60.0), 0.9)):
        style = SketchyStyle(np.random.default_rng(5), config, line_width=width)
        image = rasterize(style.apply(drawing), line_width=width)
        # distance from each pixel centre to the nearest pixel centre with visible ink
        far = distance_transform_edt(image > 160)
        points = style.displace(np.concatenate([on_stroke(s, rng) for s in drawing.strokes]))
        col, row = np.floor(points).astype(int).T
        assert (far[row, col] <= width).mean() >= share


def test_retraces_at_the_configured_rate():
    drawing = segments(400, 40.0)
    config = SketchyConfig(**{**PLAIN, "retrace_prob": 0.3})
    styled = SketchyStyle(np.random.default_rng(0), config).apply(drawing)
    retraces = [s for s in styled.strokes if s.retrace]
    # binomial(400, 0.3): 120 +- 9.2
    assert 120 - 37 <= len(retraces) <= 120 + 37
    assert len(styled.strokes) == 400 + len(retraces)
    assert len({s.source for s in retraces}) == len(retraces)
    mains = {s.source: s for s in styled.strokes if not s.retrace}
    near = []
    for r in retraces:
        d = distance_to_polyline(r.xy, mains[r.source].xy)
        # off the line by its offset (0.7 - 1.8 px) give or take its wander (0.6 px)
        assert d.max() <= 1.8 + 0.6 + 0.05
        near.append(np.median(d))
        arc = np.hypot(*np.diff(r.xy, axis=0).T).sum()
        assert 0.5 * 40 - 2 <= arc <= 40 + 2  # covers half to all of the stroke
        assert r.weight.max() <= 0.85 + 1e-9
    assert np.median(near) > 0.7
    # none when switched off; the heavy variant retraces more than the light one
    assert not any(s.retrace for s in SketchyStyle(np.random.default_rng(0), SketchyConfig(**PLAIN)).apply(
        drawing).strokes)
    count = {name: sum(s.retrace for s in make_style(name, np.random.default_rng(0)).apply(drawing).strokes)
             for name in ("sketchy-light", "sketchy-heavy")}
    assert count["sketchy-light"] < 0.25 * 400 < 0.45 * 400 < count["sketchy-heavy"]
    # strokes shorter than retrace_min_px are never retraced
    short = segments(200, 10.0)
    assert not any(s.retrace for s in SketchyStyle(np.random.default_rng(0), config).apply(short).strokes)


def test_short_strokes_dropped():
    config = SketchyConfig(**{**PLAIN, "drop_prob": 0.4, "drop_below_px": 3.0})
    styled = SketchyStyle(np.random.default_rng(0), config).apply(segments(300, 2.0))
    # binomial(300, 0.6) kept: 180 +- 8.5
    assert 180 - 34 <= len(styled.strokes) <= 180 + 34
    assert len({s.source for s in styled.strokes}) == len(styled.strokes)
    # strokes at least drop_below_px long are all kept
    assert len(SketchyStyle(np.random.default_rng(0), config).apply(segments(300, 3.5)).strokes) == 300
    # a short stroke joining two others at both ends is a fragment of a longer line: kept
    cam = camera()
    chain = []
    for k in range(100):
        y = 2.0 + 2.5 * k
        chain += [make_stroke(cam, [[10.0, y], [60.0, y]]), make_stroke(cam, [[60.0, y], [62.0, y]]),
                  make_stroke(cam, [[62.0, y], [120.0, y]])]
    styled = SketchyStyle(np.random.default_rng(0), config).apply(Drawing(cam, chain))
    assert len(styled.strokes) == 300


def test_long_strokes_are_drawn_in_overlapping_pieces():
    cam = camera(512)
    line = make_stroke(cam, [[50.0, 100.0], [350.0, 100.0]])
    config = SketchyConfig(**{**PLAIN, "split_px": (70.0, 100.0), "split_overlap_px": (3.0, 8.0),
                              "split_drift_px": (0.5, 1.5), "wobble_px": 0.0})
    counts = []
    for seed in range(10):
        pieces = SketchyStyle(np.random.default_rng(seed), config).apply(Drawing(cam, [line])).strokes
        counts.append(len(pieces))
        assert 3 <= len(pieces) <= 4  # floor(300 / 70..100)
        for a, b in zip(pieces[:-1], pieces[1:]):
            # consecutive pieces share the seam vertex exactly, on the line
            shared = np.all(a.xy[:, None, :] == b.xy[None, :, :], axis=2)
            assert shared.any() and np.all(np.abs(a.xy[shared.any(axis=1), 1] - 100.0) < 1e-9)
            # and overlap by 2 x 3..8 px (the ends drift sideways by at most 1.5 px)
            overlap = a.xy[-1, 0] - b.xy[0, 0]
            assert 2 * 3.0 - 1.6 <= overlap <= 2 * 8.0 + 0.1
            # the free ends land off the line by 0.5-1.5 px
            for tip in (a.xy[-1], b.xy[0]):
                assert 0.5 - 0.35 <= abs(tip[1] - 100.0) <= 1.5 + 1e-9
        # the stroke's own ends stay on the line (they overshoot along it) and taper
        assert abs(pieces[0].xy[0, 1] - 100.0) < 1e-9 and abs(pieces[-1].xy[-1, 1] - 100.0) < 1e-9
        assert pieces[0].weight[0] < 0.5 and pieces[1].weight[0] < 0.5
    assert set(counts) == {3, 4}


def test_displacement_is_bounded_and_smooth(drawing, rng):
    config = SketchyConfig(wobble_px=2.0, retrace_prob=0.5)
    style = SketchyStyle(np.random.default_rng(5), config)
    grid = rng.uniform(0, 256, size=(5000, 2))
    shift = np.linalg.norm(style.displace(grid) - grid, axis=1)
    assert shift.max() <= config.wobble_px + 1e-9
    assert shift.max() > 0.5 * config.wobble_px
    # neighbours 1 px apart move almost together: the field is smooth, not jitter
    step = np.linalg.norm(style.displace(grid + [1.0, 0.0]) - (style.displace(grid) + [1.0, 0.0]), axis=1)
    assert step.max() < 0.25
    # every styled vertex stays within the style's reach of its original stroke
    styled = style.apply(drawing)
    for after in styled.strokes:
        before = drawing.strokes[after.source]
        assert distance_to_polyline(after.xy, before.xy).max() <= config.reach_px + 1e-6
        assert len(after.xy) == len(after.depth) == len(after.points) == len(after.faces) == len(after.weight)
        assert after.kind == before.kind


def test_pressure_overshoot_and_gaps(drawing):
    config = SketchyConfig(gap_every_px=60.0)
    styled = SketchyStyle(np.random.default_rng(2), config, line_width=1.0).apply(drawing)
    weights = np.concatenate([s.weight for s in styled.strokes if not s.retrace])
    assert weights.min() == 0.0 and weights.max() <= 1.0
    inked = weights[weights > 0]
    assert inked.min() < 0.7 and inked.max() > 0.9  # pressure between 0.6 and 1, tapering tips lower
    # the closed circle is not overshot: its first piece starts where its last ends
    circle = [s for s in styled.strokes if s.source == 0 and not s.retrace]
    np.testing.assert_allclose(circle[0].xy[0], circle[-1].xy[-1], atol=1e-9)


def test_clean_style_and_factory(drawing):
    clean = make_style("clean")
    assert isinstance(clean, CleanStyle) and clean.apply(drawing) is drawing
    assert_offsets_exact(drawing)  # extracted strokes project exactly
    xy = np.array([[1.5, 2.5]])
    np.testing.assert_array_equal(clean.displace(xy), xy)
    assert STYLES == ("clean", "sketchy", "sketchy-light", "sketchy-heavy")
    for name in STYLES[1:]:
        style = make_style(name, np.random.default_rng(0), line_width=2.0)
        assert isinstance(style, SketchyStyle) and style.config == SKETCHY_CONFIGS[name]
        assert style.line_width == 2.0
    custom = SketchyConfig(wobble_px=0.5)
    assert make_style("sketchy", np.random.default_rng(0), config=custom).config is custom
    with pytest.raises(ValueError, match="watercolour"):
        make_style("watercolour")
    with pytest.raises(ValueError, match="Generator"):
        make_style("sketchy-heavy")
    empty = Drawing(drawing.camera, [])
    assert make_style("sketchy", np.random.default_rng(0)).apply(empty).strokes == []


def test_sketchy_mesh_drawing(torus, front_camera):
    """A procedural mesh drawn through render.draw: every vertex's offset exact, points on the
    strokes' surface points land on the sketchy ink, and the same seed redraws the same bytes."""
    from scipy.ndimage import distance_transform_edt

    from sketchgen.render.draw import DrawConfig, draw_view

    width = 1.5
    clean = draw_view(torus, front_camera, DrawConfig(width=width))
    surface = np.concatenate([s.points for s in clean.drawing.strokes])
    config = DrawConfig(width=width, style="sketchy", seed=3)
    view = draw_view(torus, front_camera, config, points=surface)
    again = draw_view(torus, front_camera, config, points=surface)
    assert encode_png(view.image) == encode_png(again.image)
    assert view.image.tobytes() != clean.image.tobytes()
    assert_offsets_exact(view.drawing)
    assert {s.source for s in view.drawing.strokes} <= set(range(len(clean.drawing.strokes)))
    assert len(view.drawing.strokes) >= len(clean.drawing.strokes) // 2
    moved = view.points.xy
    far = distance_transform_edt(view.image > 160)
    col, row = np.floor(moved).astype(int).T
    assert (far[row, col] <= width).mean() >= 0.9
    shift = np.linalg.norm(moved - front_camera.world_to_pixels(surface)[0], axis=1)
    assert shift.max() <= view.style.config.wobble_px + 1e-9 and shift.mean() > 0.2


@pytest.mark.skipif(not CHAIR.is_file(), reason="shared fixtures not present")
def test_sketchy_chair_offsets_and_ink():
    """A real PSB mesh: offsets exact for every vertex of every variant, points land on ink."""
    from scipy.ndimage import distance_transform_edt

    from sketchgen.render.draw import DrawConfig, draw_view
    from sketchgen.render.views import orbit

    mesh = trimesh.load(CHAIR, process=False)
    mesh.apply_translation(-mesh.bounds.mean(axis=0))
    mesh.apply_scale(2.0 / mesh.extents.max())
    cam = orbit([20.0], [30.0], distance=3.0, width=256, height=256)[0]
    clean = draw_view(mesh, cam, DrawConfig(width=1.5))
    surface = np.concatenate([s.points for s in clean.drawing.strokes])
    for name in STYLES[1:]:
        view = draw_view(mesh, cam, DrawConfig(width=1.5, style=name, seed=1), points=surface)
        assert_offsets_exact(view.drawing)
        far = distance_transform_edt(view.image > 160)
        col, row = np.floor(view.points.xy).astype(int).T
        assert (far[row, col] <= 1.5).mean() >= 0.85, name


def test_kept_points_keep_their_ink_through_gaps_and_drops():
    """Points given as ``keep`` (a zoom's correspondence) lie on ink even where the style would leave a
    gap or drop the short stroke they lie on; without ``keep`` the same draws take the ink of some."""
    width = 1.5
    cam = camera(512)
    long_lines = segments(60, 120.0, size=512, seed=3)
    short = segments(200, 2.0, size=512, seed=4)
    drawing = Drawing(cam, long_lines.strokes + short.strokes)
    rng = np.random.default_rng(1)
    points = np.concatenate([on_stroke(s, rng, n=10) for s in drawing.strokes])
    points = points[((points > 8) & (points < 504)).all(axis=1)]  # inside the image, with room for the wobble
    config = SketchyConfig(**{**PLAIN, "gap_every_px": 25.0, "drop_prob": 0.9, "drop_below_px": 3.0})

    def inked(keep):
        style = SketchyStyle(np.random.default_rng(7), config, line_width=width)
        image = rasterize(style.apply(drawing, keep=keep), line_width=width)
        col, row = np.floor(style.displace(points)).astype(int).T
        # darkest pixel of the 3x3 around each displaced point
        near = np.min([image[row + dr, col + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)], axis=0)
        return near < 128

    without = inked(None)
    assert without.mean() < 0.9  # frequent gaps and dropped short strokes took ink from many points
    assert inked(points).all()
