"""Geometry as researchers' files hold it, built procedurally: non-convex polygon faces, OFF polygons,
byte-order marks and Latin-1 bytes, 0-based indices, meshes in millimetres or kilometres, faces stored
twice or wound inconsistently, and trimesh's log noise. The real-world fixtures of these kinds are in
test_realworld_geometry.py."""

import codecs
import logging

import numpy as np
import pytest
import trimesh

from sketchgen.cli import main
from sketchgen.errors import InputError
from sketchgen.ingest.meshfile import read_mesh
from sketchgen.render.camera import Camera

L_SHAPE = [(3, 0), (3, 1), (1, 1), (1, 3), (0, 3), (0, 0)]  # reflex at (1, 1): a fan from (3, 0) crosses it
STAR = [(np.cos(a) * r, np.sin(a) * r) for a, r in zip(np.pi / 2 + np.arange(10) * np.pi / 5, [2.0, 0.8] * 5)]


def shoelace(xy) -> float:
    x, y = np.asarray(xy, float).T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def prism_obj(outline, depth=1.0) -> str:
    """OBJ text of a prism over a counter-clockwise outline: two single n-gon caps and quad sides."""
    n = len(outline)
    lines = [f"v {x} {y} {depth / 2}" for x, y in outline] + [f"v {x} {y} {-depth / 2}" for x, y in outline]
    lines.append("f " + " ".join(str(i + 1) for i in range(n)))  # front cap, normal +Z
    lines.append("f " + " ".join(str(n + i + 1) for i in reversed(range(n))))  # back cap, normal -Z
    for i in range(n):
        j = (i + 1) % n
        lines.append(f"f {i + 1} {n + i + 1} {n + j + 1} {j + 1}")
    return "\n".join(lines) + "\n"


def signed_areas_z(mesh, faces) -> np.ndarray:
    tri = mesh.vertices[mesh.faces[faces]]
    return 0.5 * np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]


@pytest.mark.parametrize("outline", [L_SHAPE, STAR], ids=["L", "star"])
def test_non_convex_caps_are_triangulated_inside_their_outline(tmp_path, outline):
    path = tmp_path / "prism.obj"
    path.write_text(prism_obj(outline))
    mesh = read_mesh(path)
    n = len(outline)
    assert len(mesh.faces) == 2 * (n - 2) + 2 * n
    np.testing.assert_array_equal(mesh.metadata["file_polygon"][: 2 * (n - 2)], np.repeat([0, 1], n - 2))
    front, back = signed_areas_z(mesh, np.arange(n - 2)), signed_areas_z(mesh, np.arange(n - 2, 2 * n - 4))
    # every cap triangle keeps its polygon's winding, and together they cover exactly its area
    assert (front > 0).all() and (back < 0).all()
    assert front.sum() == pytest.approx(shoelace(outline)) and -back.sum() == pytest.approx(shoelace(outline))
    # a fan from corner 0 would not: it covers area outside the outline (its triangles' areas differ)
    xy = np.asarray(outline, float)
    fan = [abs(shoelace(xy[[0, k, k + 1]])) for k in range(1, n - 1)]
    assert sum(fan) != pytest.approx(shoelace(outline))
    assert mesh.is_watertight and mesh.is_winding_consistent


def test_l_prism_draws_only_its_outline(tmp_path):
    from sketchgen.render.draw import DrawConfig, draw_views

    path = tmp_path / "l.obj"
    path.write_text(prism_obj(L_SHAPE))
    camera = Camera.looking_at((1.5, 1.5, 5.0), (1.5, 1.5, 0.0), width=200, height=200, ortho_scale=2.0)
    view = next(draw_views(read_mesh(path), [camera], DrawConfig(width=2.0)))
    ink = view.image < 128
    # 50 px per unit, x = 25 + 50 X, y = 175 - 50 Y: every ink pixel lies on one of the L's six sides
    rows, cols = np.nonzero(ink)
    on_side = np.zeros(len(rows), bool)
    for x in (25, 75, 175):
        on_side |= np.abs(cols + 0.5 - x) <= 1.5
    for y in (175, 125, 25):
        on_side |= np.abs(rows + 0.5 - y) <= 1.5
    assert on_side.all() and len(rows) > 500
    assert not ink[130:170, 80:170].any()  # inside the L's foot: no cap diagonal


MIXED_OFF = """OFF 23 5 0
# a triangle, a quad, a pentagon, a hexagon and a non-convex pentagon side by side in z = 0
0 0 0
1 0 0
0 1 0
2 0 0
3 0 0
3 1 0
2 1 0
4 0 0
5 0 0
5.5 1 0
4.5 1.7 0
3.5 1 0
7 0 0
8 0 0
8.5 0.8 0
8 1.6 0
7 1.6 0
6.5 0.8 0
12 0 0
12 2 0
11 0.8 0
10 2 0
10 0 0
3 0 1 2 255 0 0
4 3 4 5 6
5 7 8 9 10 11
6 12 13 14 15 16 17  # a comment
5 18 19 20 21 22
"""
NOTCHED = [(12, 0), (12, 2), (11, 0.8), (10, 2), (10, 0)]  # reflex at (11, 0.8): a fan from (12, 0) crosses it


def test_off_with_mixed_polygons(tmp_path):
    path = tmp_path / "mixed.off"
    path.write_text(MIXED_OFF)
    mesh = read_mesh(path)
    np.testing.assert_array_equal(mesh.metadata["file_polygon"], [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4])
    areas = signed_areas_z(mesh, np.arange(len(mesh.faces)))
    assert (areas > 0).all()  # all wound counter-clockwise as the file's polygons are
    expect = [0.5, 1.0, shoelace([(4, 0), (5, 0), (5.5, 1), (4.5, 1.7), (3.5, 1)]),
              shoelace([(7, 0), (8, 0), (8.5, 0.8), (8, 1.6), (7, 1.6), (6.5, 0.8)]), shoelace(NOTCHED)]
    for k, area in enumerate(expect):
        assert areas[mesh.metadata["file_polygon"] == k].sum() == pytest.approx(area)


def test_off_non_convex_quad_from_every_start_corner_and_counts_glued_to_the_header(tmp_path):
    # a chevron: a fan is right only from its reflex corner; from any start its triangles must cover
    # exactly its area (ModelNet's files glue the counts to the header: "OFF4 1 0")
    arrow = [(0, 0), (2, 1), (4, 0), (2, 3)]  # chevron: reflex corner (2, 1)
    for start in range(4):
        order = [(start + k) % 4 for k in range(4)]
        text = "OFF4 1 0\n" + "".join(f"{x} {y} 0\n" for x, y in arrow) + "4 " + " ".join(map(str, order)) + "\n"
        path = tmp_path / f"arrow{start}.off"
        path.write_text(text)
        mesh = read_mesh(path)
        areas = signed_areas_z(mesh, [0, 1])
        assert (areas > 0).all() and areas.sum() == pytest.approx(shoelace(arrow))


@pytest.mark.parametrize("bom, encoding", [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")])
def test_byte_order_mark_keeps_the_first_vertex(tmp_path, bom, encoding):
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\n"
    plain, marked = tmp_path / "plain.obj", tmp_path / "bom.obj"
    plain.write_text(text)
    marked.write_bytes(bom + text.encode(encoding))
    a, b = read_mesh(plain), read_mesh(marked)
    np.testing.assert_array_equal(b.vertices, a.vertices)
    np.testing.assert_array_equal(b.faces, [[0, 1, 2], [0, 1, 3]])
    off = tmp_path / "bom.off"
    off.write_bytes(codecs.BOM_UTF8 + b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    assert len(read_mesh(off).faces) == 1


def test_latin1_bytes_in_comments_and_names_are_read(tmp_path):
    from sketchgen.ingest.formats.obj import read_obj

    path = tmp_path / "latin1.obj"
    path.write_bytes("# Gr\xf6\xdfe in Metern\nv 0 0 0\nv 1 0 0\nv 0 1 0\ng T\xfcr\nf 1 2 3\n".encode("latin-1"))
    obj = read_obj(path)
    assert obj.group_names == ["T\u00fcr"] and len(obj.faces) == 1


@pytest.mark.parametrize("text, line, rule", [
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", 4, "OBJ vertex indices start at 1"),
    ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 2 3 4\n", 5, "the file has 3 vertices (OBJ indices run 1..3)"),
    ("v 0 0 0\nv 1 0 0\nf -1 -2 -3\nv 0 1 0\n", 3, "reaches before the first vertex"),
])
def test_obj_bad_indices_name_file_line_and_rule(tmp_path, capsys, text, line, rule):
    path = tmp_path / "bad.obj"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_mesh(path)
    assert str(info.value).startswith(f"{path}: line {line}: ") and rule in str(info.value)
    cam = tmp_path / "c.json"
    cam.write_text('{"position": [0, 0, 3], "look_at": [0, 0, 0], "up": [0, 1, 0], "yfov_deg": 40, '
                   '"width": 32, "height": 32}')
    assert main(["draw", str(path), "--camera", str(cam), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: line {line}" in err and rule in err


def test_off_one_based_indices_are_refused_with_a_hint(tmp_path):
    path = tmp_path / "one.off"
    path.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 1 2 3\n")
    with pytest.raises(InputError, match=r"one.off: line 6: face index 3, but OFF vertex indices run "
                                         r"from 0 to 2 \(a 1-based file\?\)"):
        read_mesh(path)


def _two_shapes() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(1.0, 0.6, 0.8))
    ball = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    ball.apply_translation([0.0, 0.6, 0.0])
    return trimesh.util.concatenate([box, ball])


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_scaled_copy_draws_the_same_without_clip_planes(scale):
    from sketchgen.render.draw import DrawConfig, draw_views

    mesh = _two_shapes()
    big = mesh.copy()
    big.apply_scale(scale)
    points = np.array([[0.1, 0.1, 0.4], [0.0, 0.0, -0.4]])  # on the front face (seen), on the back (hidden)
    cam = Camera.looking_at((1.2, 1.0, 2.5), (0.0, 0.2, 0.0), width=160, height=160, yfov_deg=40.0)
    cam_big = Camera.looking_at(np.array([1.2, 1.0, 2.5]) * scale, np.array([0.0, 0.2, 0.0]) * scale,
                                width=160, height=160, yfov_deg=40.0)
    a = next(draw_views(mesh, [cam], DrawConfig(), points=points))
    b = next(draw_views(big, [cam_big], DrawConfig(), points=points * scale))
    assert (a.image < 128).sum() > 400
    assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 2
    np.testing.assert_array_equal(b.points.visible, [True, False])
    np.testing.assert_allclose(b.points.xy, a.points.xy, atol=1e-6)


def doubled(mesh: trimesh.Trimesh, flip=None) -> trimesh.Trimesh:
    """Every face stored twice with opposite winding (the copies interleaved); ``flip``: (F,) bool faces
    whose first copy is rewound too (inconsistent winding)."""
    faces = np.asarray(mesh.faces).copy()
    if flip is not None:
        faces[flip] = faces[flip][:, ::-1]
    both = np.stack([faces, faces[:, ::-1]], axis=1).reshape(-1, 3)
    return trimesh.Trimesh(mesh.vertices, both, process=False)


def test_double_sided_and_inconsistently_wound_box_draws_like_the_clean_one():
    from sketchgen.render.draw import DrawConfig, draw_views

    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    cam = Camera.looking_at((2.0, 1.5, 3.0), (0.0, 0.0, 0.0), width=128, height=128, yfov_deg=40.0)
    flip = np.random.default_rng(3).random(len(box.faces)) < 0.5
    for lines in (("contour",), ("contour", "boundary", "crease")):
        config = DrawConfig(lines=lines)
        clean = next(draw_views(box, [cam], config))
        assert (clean.image < 128).sum() > 150
        for mesh in (doubled(box), doubled(box, flip)):
            view = next(draw_views(mesh, [cam], config))
            np.testing.assert_array_equal(view.image, clean.image)
            kinds = sorted(s.kind for s in view.drawing.strokes)
            assert kinds == sorted(s.kind for s in clean.drawing.strokes)
            # the outline is contour (not crease); strokes name faces of the mesh passed in
            assert "contour" in kinds and all(s.faces.max() < len(mesh.faces) for s in view.drawing.strokes)


def test_collections_remove_the_same_duplicates():
    from sketchgen.ingest.partmesh import make_partmesh
    from sketchgen.render.cleanup import without_duplicates

    sphere = trimesh.creation.icosphere(subdivisions=1)
    mesh = doubled(sphere)
    part = make_partmesh(mesh.vertices, mesh.faces)
    kept, cleanup = without_duplicates(mesh)
    assert part.n_faces == len(kept.faces) == 80 and part.cleanup["duplicate"] == cleanup.duplicate == 80
    np.testing.assert_array_equal(part.file_face, cleanup.keep)
    assert without_duplicates(sphere)[0] is sphere  # nothing to remove: the same object


def test_missing_texture_logs_no_trimesh_traceback(tmp_path, caplog):
    box = trimesh.creation.box()
    header = ("ply\nformat ascii 1.0\ncomment TextureFile missing.png\nelement vertex 8\nproperty float x\n"
              "property float y\nproperty float z\nproperty float texture_u\nproperty float texture_v\n"
              "element face 12\nproperty list uchar int vertex_indices\nend_header\n")
    body = "".join(f"{a} {b} {c} 0.5 0.5\n" for a, b, c in box.vertices)
    body += "".join(f"3 {a} {b} {c}\n" for a, b, c in box.faces)
    path = tmp_path / "textured.ply"
    path.write_text(header + body)
    with caplog.at_level(logging.DEBUG):
        mesh = read_mesh(path)
    assert len(mesh.faces) == 12
    assert not [r for r in caplog.records if r.name.startswith("trimesh")]
    assert logging.getLogger("trimesh").level == logging.NOTSET  # restored after loading


@pytest.mark.parametrize("name, text, reason", [
    ("short_long.obj", "v 0 0 0 1\nv 1 0\nv 0 1 0\nf 1 2 3\n", "line 2"),
    ("short_long.off", "OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 3\n0 1 2\n", "line 7"),
    ("huge.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99999999999999999999\n", "line 4"),
    ("huge.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 99999999999999999999\n", "line 6"),
])
def test_ragged_lines_and_huge_indices_are_refused_with_their_line(tmp_path, name, text, reason):
    """A 4-number line beside a 2-number line must not pass for two 3-number lines; an index past any
    integer type is a bad index, not a crash."""
    from sketchgen.errors import InputError
    from sketchgen.ingest.meshfile import read_mesh

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_mesh(path)
    message = str(err.value)
    assert str(path) in message and reason in message and "\n" not in message


def test_a_mesh_of_degenerate_faces_only_is_refused_by_draw_in_one_line(tmp_path, capsys):
    from sketchgen.cli import main

    mesh = tmp_path / "collinear.off"
    mesh.write_text("OFF\n4 2 0\n0 0 0\n1 0 0\n2 0 0\n3 0 0\n3 0 1 2\n3 1 2 3\n")
    cam = tmp_path / "cam.json"
    cam.write_text('{"position": [0, 0, 5], "look_at": [0, 0, 0], "up": [0, 1, 0], "yfov_deg": 40, '
                   '"width": 64, "height": 64}')
    assert main(["draw", str(mesh), "--camera", str(cam), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(mesh) in err and "all 2 faces are degenerate" in err
