import math

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.render.camera import Camera
from sketchgen.render.gbuffer import get_renderer
from sketchgen.render.lines import extract_lines, prepare
from sketchgen.render.views import camera_from_direction, direction


def _length(strokes):
    return sum(float(np.linalg.norm(np.diff(s.xy, axis=0), axis=1).sum()) for s in strokes)


def _edges_drawn(strokes, corners):
    """Set of (i, j) corner pairs joined by consecutive stroke vertices (all vertices must be corners)."""
    drawn = set()
    for s in strokes:
        ids = [int(np.argmin(np.linalg.norm(corners - p, axis=1))) for p in s.points]
        assert np.allclose(corners[ids], s.points, atol=1e-9)
        drawn |= {tuple(sorted(pair)) for pair in zip(ids[:-1], ids[1:])}
    return drawn


@pytest.mark.parametrize("ortho", [False, True])
def test_sphere_contour_on_analytic_circle(sphere, ortho):
    centre = np.array([0.3, -0.2, 0.0]) if ortho else np.zeros(3)
    mesh = sphere.copy()
    mesh.apply_translation(centre)
    kwargs = {"ortho_scale": 1.6} if ortho else {"yfov_deg": 40.0}
    cam = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=256, height=256, **kwargs)
    drawing = extract_lines(mesh, cam)
    assert [s.kind for s in drawing.strokes] == ["contour"]  # one closed polyline, no creases
    stroke = drawing.strokes[0]
    np.testing.assert_allclose(stroke.xy[0], stroke.xy[-1])
    radius = 1.0 * cam.focal_px if ortho else cam.focal_px * math.tan(math.asin(1.0 / 3.0))
    c_xy, _ = cam.world_to_pixels(centre[None])
    dist = np.linalg.norm(stroke.xy - c_xy, axis=1)
    assert np.abs(dist - radius).max() < 1.0
    assert abs(_length(drawing.strokes) - 2 * math.pi * radius) < 0.01 * 2 * math.pi * radius


def test_cube_has_exactly_twelve_creases(cube):
    prep = prepare(cube)
    angles = prep.edge_angle_deg
    assert len(angles) == 18 and np.count_nonzero(angles > 45.0) == 12
    assert np.count_nonzero(angles < 1e-6) == 6  # the face diagonals
    assert prep.is_closed


def test_cube_from_a_corner_view_draws_nine_edges(cube):
    cam = camera_from_direction([1.0, 0.8, 0.6], distance=4.0, width=128, height=128)
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    drawing = extract_lines(cube, cam)
    contour = _edges_drawn(drawing.by_kind("contour"), corners)
    crease = _edges_drawn(drawing.by_kind("crease"), corners)
    near = 7  # corner (+, +, +); the corner (-, -, -) = index 0 is hidden
    assert crease == {(3, 7), (5, 7), (6, 7)}  # the three edges meeting at the near corner
    # the outline: a hexagon through the six remaining visible corners, each edge a cube edge
    assert len(contour) == 6 and all(near not in e and 0 not in e for e in contour)
    assert all(np.count_nonzero(corners[i] != corners[j]) == 1 for i, j in contour)
    # an edge that is both outline and crease is typed contour; without contours it is a crease
    creases_only = _edges_drawn(extract_lines(cube, cam, kinds=("crease",)).strokes, corners)
    assert creases_only == contour | crease
    assert extract_lines(cube, cam, kinds=("crease",), crease_deg=95.0).strokes == []


def _dome(rings=16, sectors=96):
    """Open unit hemisphere y >= 0 (outward faces) whose rim lies exactly on y = 0."""
    lat = np.radians(np.linspace(0.0, 90.0, rings + 1))[:-1]
    lon = np.radians(np.linspace(0.0, 360.0, sectors + 1))[:-1]
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    verts = np.stack([np.cos(la) * np.sin(lo), np.sin(la), np.cos(la) * np.cos(lo)], -1).reshape(-1, 3)
    verts = np.vstack([verts, [0.0, 1.0, 0.0]])
    faces = []
    for i in range(rings - 1):
        for j in range(sectors):
            a, b = i * sectors + j, i * sectors + (j + 1) % sectors
            faces += [[a, b, b + sectors], [a, b + sectors, a + sectors]]
    top = len(verts) - 1
    last = (rings - 1) * sectors
    faces += [[last + j, last + (j + 1) % sectors, top] for j in range(sectors)]
    return trimesh.Trimesh(verts, faces, process=False)


def test_hemisphere_boundary_hidden_behind_its_dome():
    dome = _dome()
    eye = np.array([0.0, 1.5, 2.6])
    cam = Camera.looking_at(eye, (0, 0, 0), (0, 1, 0), width=256, height=256, yfov_deg=50.0)
    drawing = extract_lines(dome, cam)
    rim = drawing.by_kind("boundary")
    assert rim and np.allclose(np.concatenate([s.points for s in rim])[:, 1], 0.0, atol=1e-9)
    # a rim point P (|P| = 1) is seen iff the ray to the eye leaves the ball: P . eye >= 1, an arc of
    # half-width acos(1 / |eye_xz|) about the eye's azimuth
    half = math.degrees(math.acos(1.0 / np.linalg.norm(eye[[0, 2]])))
    points = np.concatenate([s.points for s in rim])
    azimuth = np.degrees(np.arctan2(points[:, 0], points[:, 2]))
    assert np.abs(azimuth).max() < half + 1.0
    drawn_arc = sum(float(np.abs(np.diff(np.unwrap(np.arctan2(s.points[:, 0], s.points[:, 2])))).sum())
                    for s in rim)
    assert abs(math.degrees(drawn_arc) - 2 * half) < 2.0
    # seen from below the rim plane, the whole rim shows
    below = Camera.looking_at((0.0, -1.5, 2.6), (0, 0, 0), (0, 1, 0), width=256, height=256, yfov_deg=50.0)
    full = extract_lines(dome, below, kinds=("boundary",)).strokes
    assert len(full) == 1 and np.allclose(full[0].points[0], full[0].points[-1])


@pytest.mark.parametrize("ortho", [False, True])
def test_boundary_cut_where_an_open_sheet_covers_it(ortho):
    # a square sheet at z = 0 and, in front of it, a sheet covering x < 0: the cut lies on x = 0
    back = trimesh.Trimesh([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], [[0, 1, 2], [0, 2, 3]])
    front = trimesh.Trimesh([[-3, -3, 0.5], [0, -3, 0.5], [0, 3, 0.5], [-3, 3, 0.5]], [[0, 1, 2], [0, 2, 3]])
    mesh = trimesh.util.concatenate([back, front])
    kwargs = {"ortho_scale": 1.5} if ortho else {"yfov_deg": 50.0}
    cam = Camera.looking_at((0, 0, 4), (0, 0, 0), (0, 1, 0), width=128, height=128, **kwargs)
    back_strokes = [s for s in extract_lines(mesh, cam, kinds=("boundary",)).strokes
                    if np.allclose(s.points[:, 2], 0.0)]
    assert len(back_strokes) == 1  # top, right and bottom edges chained; left edge hidden
    s = back_strokes[0]
    assert len(s) == 4
    # the ends are the cuts: on x = 0 in 3D, and within 1/20 px of the image of the front sheet's edge
    np.testing.assert_allclose(s.points[[0, -1], 0], 0.0, atol=0.02)
    edge_xy, _ = cam.world_to_pixels(np.array([[0.0, 1.0, 0.5], [0.0, -1.0, 0.5]]))
    ray_hits = cam.pixels_to_world(s.xy[[0, -1]], s.depth[[0, -1]])
    np.testing.assert_allclose(ray_hits, s.points[[0, -1]], atol=1e-9)
    if ortho:
        assert np.abs(s.xy[[0, -1], 0] - edge_xy[:, 0]).max() < 0.05
    else:  # the front sheet's edge at x = 0 projects to the centre column too
        assert np.abs(s.xy[[0, -1], 0] - 64.0).max() < 0.05


def test_stroke_vertices_are_consistent_and_visible(torus):
    cam = camera_from_direction(direction(50.0, 20.0), distance=2.8, width=192, height=192)
    drawing = extract_lines(torus, cam, kinds=("contour", "boundary", "crease", "suggestive"))
    prep = prepare(torus)
    mids = []
    for s in drawing.strokes:
        xy, depth = cam.world_to_pixels(s.points)
        np.testing.assert_allclose(s.xy, xy, atol=1e-9)
        np.testing.assert_allclose(s.depth, depth, atol=1e-12)
        # every vertex lies on the plane of its face
        off = np.einsum("ij,ij->i", prep.face_normals[s.faces], s.points) - prep.face_offsets[s.faces]
        assert np.abs(off).max() < 1e-9
        assert s.weight.shape == (len(s),) and np.all((s.weight >= 0) & (s.weight <= 1))
        mids.append(0.5 * (s.points[:-1] + s.points[1:]))
    # independent check with the GL depth buffer: the middle of every drawn piece is not hidden, i.e.
    # not every pixel within a pixel of it holds a surface clearly in front of it (an interpolated
    # contour may lie just outside the faceted silhouette, over background)
    mids = np.concatenate(mids)
    mid_xy, mid_depth = cam.world_to_pixels(mids)
    depth = get_renderer().render(torus, cam, normals=False).depth
    padded = np.pad(depth, 1, constant_values=np.inf)
    col, row = np.floor(mid_xy[:, 0]).astype(int) + 1, np.floor(mid_xy[:, 1]).astype(int) + 1
    near = np.stack([padded[row + di, col + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)], axis=1)
    hidden = (near < 0.99 * mid_depth[:, None]).all(axis=1)
    assert len(mids) > 200 and hidden.mean() < 0.01
    # and the check has teeth: the same midpoints seen from the opposite side are mostly hidden
    behind = Camera.looking_at(2 * prepare(torus).centre - cam.position, prepare(torus).centre, (0, 0, 1),
                               width=192, height=192, yfov_deg=40.0)
    xy_b, depth_b = behind.world_to_pixels(mids)
    depth = np.pad(get_renderer().render(torus, behind, normals=False).depth, 1, constant_values=np.inf)
    col, row = np.floor(xy_b[:, 0]).astype(int) + 1, np.floor(xy_b[:, 1]).astype(int) + 1
    near = np.stack([depth[row + di, col + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)], axis=1)
    assert (near < 0.99 * depth_b[:, None]).all(axis=1).mean() > 0.3
    assert _length(drawing.by_kind("contour")) > 500


def test_faceted_contours_are_front_back_edges(torus):
    cam = camera_from_direction(direction(50.0, 20.0), distance=2.8, width=192, height=192)
    prep = prepare(torus)
    drawing = extract_lines(torus, cam, kinds=("contour",), smooth=False)
    assert drawing.strokes
    eye = cam.position
    for s in drawing.strokes:
        # each piece runs along one mesh edge whose two faces face opposite ways
        for a, b in zip(s.points[:-1], s.points[1:]):
            mid = 0.5 * (a + b)
            v = np.argmin(np.linalg.norm(prep.vertices - a, axis=1))
            w = np.argmin(np.linalg.norm(prep.vertices - b, axis=1))
            edge = np.flatnonzero(np.all(np.sort(prep.edges, 1) == sorted((v, w)), axis=1))
            if len(edge) != 1:  # a cut piece: it still lies on some edge of its face
                continue
            f0, f1 = prep.edge_faces[edge[0]]
            side = prep.face_normals[[f0, f1]] @ eye - prep.face_offsets[[f0, f1]]
            assert side[0] * side[1] < 0, mid


def test_suggestive_contours_on_torus_not_on_sphere(torus, sphere):
    cam = camera_from_direction(direction(60.0, 10.0), distance=3.0, width=256, height=256)
    sugg = extract_lines(torus, cam, kinds=("suggestive",)).strokes
    assert _length(sugg) > 30.0
    assert all(s.kind == "suggestive" for s in sugg)
    # they lie on the inner (negatively curved) half of the torus: nearer the axis than the tube's centre
    pts = np.concatenate([s.points for s in sugg])
    assert np.all(np.linalg.norm(pts[:, :2], axis=1) < 0.7)
    assert extract_lines(sphere, cam, kinds=("suggestive",)).strokes == []
    assert extract_lines(torus, cam, kinds=("suggestive",), suggestive_threshold=1e6).strokes == []


def test_deterministic(torus):
    cam = camera_from_direction(direction(40.0, 70.0), distance=2.8, width=160, height=160)
    a = extract_lines(torus, cam, kinds=("contour", "suggestive"))
    b = extract_lines(torus.copy(), cam, kinds=("contour", "suggestive"))
    assert len(a.strokes) == len(b.strokes) > 0
    for s, t in zip(a.strokes, b.strokes):
        assert s.kind == t.kind
        np.testing.assert_array_equal(s.xy, t.xy)
        np.testing.assert_array_equal(s.faces, t.faces)


def test_camera_that_sees_nothing_gives_empty_drawing(cube):
    away = Camera.looking_at((0, 0, 3), (0, 0, 6), (0, 1, 0), width=64, height=64, yfov_deg=40.0)
    assert extract_lines(cube, away).strokes == []
    inside_clip = Camera.looking_at((0, 0, 3), (0, 0, 0), (0, 1, 0), width=64, height=64, yfov_deg=40.0,
                                    zfar=1.0)  # everything lies beyond zfar
    assert extract_lines(cube, inside_clip).strokes == []


def test_unknown_line_type_is_input_error(cube, front_camera):
    with pytest.raises(InputError, match="ridge"):
        extract_lines(cube, front_camera, kinds=("contour", "ridge"))


def test_chaining_joins_pieces_at_shared_ends_only():
    from sketchgen.render.chain import chain_segments

    # pieces: 0: 1->2, 1: 3->2 (reversed), 2: 3->4, 3: 4->5, 4: 4->6 (node 4 is a junction of three),
    # 5: 7->8, 6: 8->7 (a two-piece loop)
    node0 = np.array([1, 3, 3, 4, 4, 7, 8])
    node1 = np.array([2, 2, 4, 5, 6, 8, 7])
    order, flipped, lengths = chain_segments(node0, node1)
    chains = np.split(np.stack([order, flipped], 1), np.cumsum(lengths)[:-1])
    as_lists = [[(int(p), bool(f)) for p, f in c] for c in chains]
    assert as_lists == [[(0, False), (1, True), (2, False)], [(3, False)], [(4, False)], [(5, False), (6, False)]]


def test_prepared_data_follows_mesh_changes(cube):
    cam = Camera.looking_at((0, 0, 4), (0, 0, 0), (0, 1, 0), width=64, height=64, ortho_scale=1.0)
    prep = prepare(cube)
    assert prepare(cube) is prep  # cached per mesh
    before = extract_lines(cube, cam).strokes[0].xy
    cube.apply_translation([0.25, 0.0, 0.0])
    assert prepare(cube) is not prep
    after = extract_lines(cube, cam).strokes[0].xy
    np.testing.assert_allclose(after, before + [0.25 * cam.focal_px, 0.0], atol=1e-9)


def test_mixed_and_inside_out_winding_is_repaired(sphere, front_camera):
    faces = sphere.faces.copy()
    faces[::3] = faces[::3, ::-1]  # a third of the faces wound the other way
    mixed = trimesh.Trimesh(sphere.vertices, faces, process=False)
    inside_out = trimesh.Trimesh(sphere.vertices, sphere.faces[:, ::-1], process=False)
    radius = front_camera.focal_px * math.tan(math.asin(1.0 / 3.0))
    for mesh, rewound in ((mixed, len(faces[::3])), (inside_out, len(faces))):
        prep = prepare(mesh)
        assert prep.reoriented == rewound and prep.is_closed and not prep.edge_flip.any()
        np.testing.assert_array_equal(np.sort(prep.faces, axis=1), np.sort(mesh.faces, axis=1))  # same faces
        strokes = extract_lines(mesh, front_camera, kinds=("contour", "crease", "suggestive")).strokes
        assert [s.kind for s in strokes] == ["contour"]
        dist = np.linalg.norm(strokes[0].xy - 128.0, axis=1)
        assert np.abs(dist - radius).max() < 1.0


def test_prepared_from_another_mesh_is_refused(cube, sphere, front_camera):
    with pytest.raises(InputError, match="another mesh"):
        extract_lines(sphere, front_camera, prepared=prepare(cube))


def _distance_to_polylines(points, strokes):
    """(N,) float64 distance in pixels from each (N, 2) point to the nearest piece of any stroke."""
    a = np.concatenate([s.xy[:-1] for s in strokes])
    d = np.concatenate([s.xy[1:] for s in strokes]) - a
    rel = points[:, None, :] - a[None]
    t = np.clip(np.einsum("nmk,mk->nm", rel, d) / np.maximum(np.einsum("mk,mk->m", d, d), 1e-12), 0.0, 1.0)
    return np.linalg.norm(rel - t[..., None] * d[None], axis=2).min(axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coarse_convex_polyhedron_outline_fully_drawn(seed):
    # a random convex hull: large faces, many meeting at less than 30 degrees, where vertex normals
    # would be shared and an interpolated contour would cut across faces, off the outline
    rng = np.random.default_rng(seed)
    hull = trimesh.convex.convex_hull(rng.normal(size=(30, 3)) * [1.0, 0.8, 0.6])
    shallow = hull.face_adjacency_angles < math.radians(30.0)
    assert shallow.sum() >= 5
    radius = float(np.linalg.norm(hull.vertices, axis=1).max())
    for k, kwargs in enumerate(({"yfov_deg": 35.0}, {"ortho_scale": 1.1 * radius})):
        # framed so that the whole hull is in the image
        cam = camera_from_direction(rng.normal(size=3), distance=4.0 * radius, width=256, height=256, **kwargs)
        # the exact outline, found independently: edges between a front- and a back-facing face (a
        # convex solid's are all visible), sampled every 0.25 px in the image
        to_eye = (-cam.forward[None] if cam.is_ortho
                  else cam.position - hull.triangles_center)
        front = np.einsum("ij,ij->i", hull.face_normals, to_eye) > 0
        pairs = hull.face_adjacency
        outline = hull.face_adjacency_edges[front[pairs[:, 0]] != front[pairs[:, 1]]]
        ends, _ = cam.world_to_pixels(hull.vertices[outline.ravel()])
        ends = ends.reshape(-1, 2, 2)
        samples = np.concatenate([a + np.linspace(0, 1, max(2, int(np.linalg.norm(b - a) * 4)))[:, None] * (b - a)
                                  for a, b in ends])
        assert len(outline) >= 5 and len(samples) > 500
        assert samples.min() > 0 and samples.max() < 256
        contour = extract_lines(hull, cam, kinds=("contour",)).strokes
        recall = (_distance_to_polylines(samples, contour) <= 1.0).mean()
        assert recall >= 0.99, (seed, k, recall)
        # and nothing is drawn off the outline (on a convex solid every contour is outline)
        drawn = np.concatenate([s.xy for s in contour])
        near = np.min(np.linalg.norm(drawn[:, None] - samples[None], axis=2), axis=1)
        assert near.max() <= 1.0


def test_only_coarse_meshes_get_faceted_contours(sphere, torus):
    from sketchgen.render.prepared import SMOOTH_MAX_DEVIATION, SMOOTH_SHARP_DEG

    def coarse_fraction(mesh):
        prep = prepare(mesh)
        joined = (prep.edge_count == 2) & (prep.edge_angle_deg <= SMOOTH_SHARP_DEG)
        return prep.coarse_vertices(joined, SMOOTH_MAX_DEVIATION).mean()

    # a 320-face icosphere's contours could stray 1.8 / 1000 of its size from its outline, a 5120-face
    # one's 0.12 / 1000, a 1280-face one's 0.48 / 1000 (sagitta theta * h / 8)
    assert coarse_fraction(trimesh.creation.icosphere(subdivisions=2)) == 1.0
    assert coarse_fraction(trimesh.creation.icosphere(subdivisions=3)) == 0.0
    assert coarse_fraction(sphere) == 0.0 and coarse_fraction(torus) == 0.0
    # a coarse sphere's contour is then its faceted outline: every piece runs along a mesh edge
    coarse = trimesh.creation.icosphere(subdivisions=2)
    cam = camera_from_direction([0.3, 0.5, 0.8], distance=3.0, width=128, height=128)
    faceted = extract_lines(coarse, cam, kinds=("contour",), smooth=False).strokes
    default = extract_lines(coarse, cam, kinds=("contour",)).strokes
    assert len(default) == len(faceted)
    for s, t in zip(default, faceted):
        np.testing.assert_allclose(s.points, t.points, atol=1e-12)
