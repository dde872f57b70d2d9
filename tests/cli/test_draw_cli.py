"""``sketchgen draw`` end to end: files, sizes, the sphere's analytic contour, exact point projections,
the sketchy style moving points with strokes, keypoints, camera lists, and one-line errors."""

import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from sketchgen.cli import main
from sketchgen.render.camera import Camera

RADIUS = 1.0
DISTANCE = 3.0
W, H = 160, 120  # not square: a transposed image or swapped x/y shows


@pytest.fixture
def sphere_file(tmp_path) -> Path:
    path = tmp_path / "sphere.ply"
    trimesh.creation.icosphere(subdivisions=4, radius=RADIUS).export(path)
    return path


def camera_json(path: Path, cameras) -> Path:
    path.write_text(json.dumps(cameras))
    return path


FRONT = {"position": [0.0, 0.0, DISTANCE], "look_at": [0.0, 0.0, 0.0], "up": [0.0, 1.0, 0.0],
         "yfov_deg": 40.0, "width": W, "height": H}


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


def svg_polylines(path: Path) -> list[np.ndarray]:
    root = ET.fromstring(path.read_text())
    out = []
    for element in root.iter():
        if element.tag.endswith("polyline"):
            out.append(np.array([[float(v) for v in p.split(",")] for p in element.get("points").split()]))
        elif element.tag.endswith("path"):
            for sub in element.get("d").split("M")[1:]:
                out.append(np.array(re.findall(r"-?\d+\.\d+", sub), dtype=float).reshape(-1, 2))
    return out


def distance_to_polylines(points: np.ndarray, lines: list[np.ndarray]) -> np.ndarray:
    best = np.full(len(points), np.inf)
    for xy in lines:
        if len(xy) < 2:
            xy = np.repeat(xy, 2, axis=0)
        a, d = xy[:-1], np.diff(xy, axis=0)
        rel = points[:, None, :] - a[None]
        t = np.clip((rel * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(rel - t[..., None] * d, axis=-1).min(axis=1))
    return best


def contour_radius_px() -> float:
    """Projected radius of a sphere's occluding contour: the silhouette cone has half-angle asin(r/d)."""
    focal = H / (2.0 * math.tan(math.radians(20.0)))
    return focal * math.tan(math.asin(RADIUS / DISTANCE))


def test_sphere_end_to_end(tmp_path, sphere_file):
    cam_path = camera_json(tmp_path / "cam.json", FRONT)
    mesh = trimesh.load(sphere_file, process=False)
    points = np.concatenate([mesh.vertices[::37], [[0.0, 0.0, 5.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0]]])
    np.save(tmp_path / "pts.npy", points)
    out = tmp_path / "out" / "sphere.png"
    assert main(["draw", str(sphere_file), "--camera", str(cam_path), "--out", str(out),
                 "--points", str(tmp_path / "pts.npy")]) == 0

    image = read_png(out)
    assert image.shape == (H, W) and image.dtype == np.uint8
    rows, cols = np.nonzero(image < 128)
    r = np.hypot(cols + 0.5 - W / 2, rows + 0.5 - H / 2)
    expected = contour_radius_px()
    assert len(r) > 2 * math.pi * expected * 0.8  # a closed circle of ink
    assert np.abs(r - expected).max() < 1.0
    angles = np.arctan2(rows + 0.5 - H / 2, cols + 0.5 - W / 2)
    assert len(np.unique(np.floor((angles + np.pi) / (2 * np.pi) * 90))) == 90  # no piece missing

    lines = svg_polylines(out.with_suffix(".svg"))
    assert lines and np.abs(np.hypot(*(np.concatenate(lines) - [W / 2, H / 2]).T) - expected).max() < 0.5

    data = json.loads(out.with_suffix(".points.json").read_text())
    assert set(data) == {"xy", "depth", "visible"}
    cam = Camera.from_json(FRONT)
    xy, depth = cam.world_to_pixels(points)
    got_xy = np.array([[np.nan if v is None else v for v in p] for p in data["xy"]], dtype=float)
    np.testing.assert_allclose(got_xy, xy, atol=1e-9)
    np.testing.assert_allclose(data["depth"], depth, atol=1e-9)
    assert data["xy"][-3] == [None, None]  # behind the camera
    visible = np.array(data["visible"])
    assert visible[-3:].tolist() == [False, False, True]  # behind the eye, back pole, front pole
    # vertices clearly on the near side of the contour are visible, clearly on the far side hidden
    toward_eye = (points[:-3] @ [0, 0, 1.0]) - RADIUS / DISTANCE  # > 0 on the visible cap
    assert visible[:-3][toward_eye > 0.05].all() and not visible[:-3][toward_eye < -0.05].any()


def test_camera_list_writes_numbered_outputs(tmp_path, sphere_file):
    side = dict(FRONT, position=[DISTANCE, 0.0, 0.0], width=64, height=48)
    cam_path = camera_json(tmp_path / "cams.json", [FRONT, side])
    np.save(tmp_path / "pts.npy", np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    out = tmp_path / "view.png"
    assert main(["draw", str(sphere_file), "--camera", str(cam_path), "--out", str(out),
                 "--points", str(tmp_path / "pts.npy")]) == 0
    assert not out.exists()
    assert read_png(tmp_path / "view_000.png").shape == (H, W)
    assert read_png(tmp_path / "view_001.png").shape == (48, 64)
    for k in range(2):
        assert (tmp_path / f"view_{k:03d}.svg").exists()
    v0 = json.loads((tmp_path / "view_000.points.json").read_text())["visible"]
    v1 = json.loads((tmp_path / "view_001.points.json").read_text())["visible"]
    assert v0 == [True, False] and v1 == [False, True]
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind


def test_sketchy_is_reproducible_and_points_follow_strokes(tmp_path, sphere_file):
    cam_path = camera_json(tmp_path / "cam.json", FRONT)
    # points on the analytic contour circle (the silhouette of the sphere seen from the camera)
    theta = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    rim_r = RADIUS * math.sqrt(1 - (RADIUS / DISTANCE) ** 2)
    rim = np.stack([rim_r * np.cos(theta), rim_r * np.sin(theta), np.full(40, RADIUS ** 2 / DISTANCE)], axis=1)
    np.save(tmp_path / "rim.npy", rim)
    outs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = tmp_path / f"{name}.png"
        assert main(["draw", str(sphere_file), "--camera", str(cam_path), "--out", str(out), "--style", "sketchy",
                     "--seed", str(seed), "--width", "1.5", "--points", str(tmp_path / "rim.npy")]) == 0
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].with_suffix(".svg").read_bytes() == outs[1].with_suffix(".svg").read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()

    xy = np.array(json.loads(outs[0].with_suffix(".points.json").read_text())["xy"])
    plain = Camera.from_json(FRONT).world_to_pixels(rim)[0]
    moved = np.linalg.norm(xy - plain, axis=1)
    assert moved.max() < 3.0 and moved.mean() > 0.2  # displaced, boundedly
    # the moved points still lie on the (moved) contour strokes, unmoved ones do not; the few that fall
    # in one of the style's gaps (width + at most 2.5 px long) are within half a gap of ink
    lines = svg_polylines(outs[0].with_suffix(".svg"))
    near = distance_to_polylines(xy, lines)
    assert np.median(near) < 0.1 and (near < 0.25).mean() >= 0.85 and near.max() < (1.5 + 2.5) / 2 + 0.25
    assert np.median(distance_to_polylines(plain, lines)) > np.median(near) + 0.2


def test_keypoints_are_projected_in_file_order_with_semantic_ids(tmp_path, sphere_file):
    mesh = trimesh.load(sphere_file, process=False)
    faces = [5, 200, 1000]
    bary = [[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]]
    kp_path = tmp_path / "kp.json"
    kp_path.write_text(json.dumps({"keypoints": [{"face": f, "bary": b, "semantic_id": s}
                                                 for f, b, s in zip(faces, bary, (7, 2, 9))]}))
    out = tmp_path / "kp.png"
    assert main(["draw", str(sphere_file), "--camera", str(camera_json(tmp_path / "c.json", FRONT)),
                 "--out", str(out), "--keypoints", str(kp_path)]) == 0
    data = json.loads(out.with_suffix(".points.json").read_text())
    assert data["semantic_id"] == [7, 2, 9]
    pts = np.einsum("nk,nkd->nd", np.array(bary), mesh.vertices[mesh.faces[faces]])
    xy, depth = Camera.from_json(FRONT).world_to_pixels(pts)
    np.testing.assert_allclose(np.array(data["xy"], dtype=float), xy, atol=1e-9)
    np.testing.assert_allclose(data["depth"], depth, atol=1e-9)
    assert data["visible"] == (pts[:, 2] > RADIUS / DISTANCE).tolist()


def test_keypointnet_file_with_several_models_picks_the_mesh_files_model(tmp_path):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=RADIUS)
    mesh_path = tmp_path / "88382b.ply"  # the KeypointNet model id is the mesh file's stem
    mesh.export(mesh_path)

    def entry(model_id, face):
        return {"class_id": "03001627", "model_id": model_id, "keypoints": [
            {"xyz": [0, 0, 0], "semantic_id": 4, "pcd_info": {"point_index": 0},
             "mesh_info": {"face_index": face, "face_uv": [0.2, 0.5, 0.3]}}]}

    kp_path = tmp_path / "chair.json"
    kp_path.write_text(json.dumps([entry("ffff00", 3), entry("88382b", 17)]))
    out = tmp_path / "kpn.png"
    assert main(["draw", str(mesh_path), "--camera", str(camera_json(tmp_path / "c.json", FRONT)),
                 "--out", str(out), "--keypoints", str(kp_path)]) == 0
    data = json.loads(out.with_suffix(".points.json").read_text())
    loaded = trimesh.load(mesh_path, process=False)
    point = np.array([0.2, 0.5, 0.3]) @ loaded.vertices[loaded.faces[17]]
    np.testing.assert_allclose(data["xy"], Camera.from_json(FRONT).world_to_pixels(point[None])[0], atol=1e-9)
    assert data["semantic_id"] == [4]


def test_camera_that_sees_nothing_gives_a_blank_drawing_and_exit_1(tmp_path, sphere_file):
    away = dict(FRONT, look_at=[0.0, 0.0, 10.0])
    out = tmp_path / "blank.png"
    assert main(["draw", str(sphere_file), "--camera", str(camera_json(tmp_path / "c.json", away)),
                 "--out", str(out)]) == 1
    image = read_png(out)
    assert image.shape == (H, W) and (image == 255).all()
    assert not svg_polylines(out.with_suffix(".svg"))


def _bad_mesh(tmp_path, kind) -> Path:
    path = tmp_path / f"{kind}.obj"
    if kind == "missing":
        return path
    path.write_bytes({
        "corrupt": b"\x00\x01garbage\xff\xfe" * 10,
        "empty": b"",
        "nan": b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
        "inf": b"v 0 0 0\nv inf 0 0\nv 0 1 0\nf 1 2 3\n",
        "past": b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n",
        "nofaces": b"v 0 0 0\nv 1 0 0\nv 0 1 0\n",
    }[kind])
    return path


@pytest.mark.parametrize("kind", ["missing", "corrupt", "empty", "nan", "inf", "past", "nofaces"])
def test_bad_mesh_one_line_exit_2(tmp_path, capsys, kind):
    mesh = _bad_mesh(tmp_path, kind)
    cam = camera_json(tmp_path / "c.json", FRONT)
    assert main(["draw", str(mesh), "--camera", str(cam), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(mesh) in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("change, reason", [
    ({"position": None}, "position"),
    ({"width": None}, "width"),
    ({"up": [0.0, 0.0, 0.0]}, "zero length"),
    ({"up": [0.0, 0.0, 2.0]}, "parallel"),
    ({"look_at": [0.0, 0.0, DISTANCE]}, "look_at equals position"),
    ({"width": 0}, "width"),
    ({"height": -5}, "height"),
    ({"yfov_deg": None}, "yfov_deg"),
])
def test_bad_camera_one_line_exit_2(tmp_path, capsys, sphere_file, change, reason):
    cam = {k: v for k, v in dict(FRONT, **change).items() if v is not None}
    cam_path = camera_json(tmp_path / "c.json", cam)
    assert main(["draw", str(sphere_file), "--camera", str(cam_path), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(cam_path) in err and reason in err


@pytest.mark.parametrize("content, reason", [
    (np.zeros((4, 2)), "(N, 3)"),
    (np.zeros(3), "(N, 3)"),
    (np.array([[0.0, 0.0, 1.0], [np.nan, 0.0, 0.0]]), "NaN"),
    (np.array([["a", "b", "c"]]), "numbers"),
    (b"not a numpy file", "not a .npy"),
    (None, "no such file"),
])
def test_bad_points_one_line_exit_2(tmp_path, capsys, sphere_file, content, reason):
    path = tmp_path / "p.npy"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        np.save(path, content)
    cam = camera_json(tmp_path / "c.json", FRONT)
    assert main(["draw", str(sphere_file), "--camera", str(cam), "--out", str(tmp_path / "o.png"),
                 "--points", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and reason in err


def test_bad_options_exit_2(tmp_path, capsys, sphere_file):
    cam = str(camera_json(tmp_path / "c.json", FRONT))
    for extra in (["--lines", "contour,hatching"], ["--width", "0"], ["--crease-deg", "200"]):
        assert main(["draw", str(sphere_file), "--camera", cam, "--out", str(tmp_path / "o.png")] + extra) == 2
        assert capsys.readouterr().err.count("\n") == 1
    assert main(["draw", str(sphere_file), "--camera", cam, "--out", str(tmp_path / "o.jpg")]) == 2


def test_subprocess_bad_input_prints_one_line_without_traceback(tmp_path):
    cam = camera_json(tmp_path / "c.json", FRONT)
    missing = tmp_path / "nowhere.obj"
    for argv, named in (([str(missing)], str(missing)), ([str(missing), "--lines", "hatching"], "hatching")):
        proc = subprocess.run([sys.executable, "-m", "sketchgen.cli", "draw", *argv, "--camera", str(cam),
                               "--out", str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[2])
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and named in proc.stderr and proc.stdout == ""


def test_draw_views_prepares_the_mesh_once_for_all_cameras(monkeypatch):
    import sketchgen.render.lines
    import sketchgen.render.prepared
    from sketchgen.render.draw import DrawConfig, draw_views
    from sketchgen.render.views import orbit

    calls = []
    real = sketchgen.render.prepared.prepare

    def counting(mesh):
        calls.append(mesh)
        return real(mesh)

    monkeypatch.setattr(sketchgen.render.prepared, "prepare", counting)
    monkeypatch.setattr(sketchgen.render.lines, "prepare", counting)
    mesh = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    cams = orbit([20.0], [0.0, 90.0, 180.0, 270.0], distance=3.0, width=64, height=64)
    views = list(draw_views(mesh, cams, DrawConfig(), points=np.array([[0.1, -0.2, 0.5]])))  # on the +Z face
    assert len(calls) == 1 and len(views) == 4
    # a cube from four sides: every view has its 9 visible edges drawn (3 faces seen, hidden ones removed)
    assert all((v.image < 128).sum() > 60 for v in views)
    assert [bool(v.points.visible[0]) for v in views] == [True, False, False, False]


def test_mesh_in_millimetres_draws_and_a_cutting_far_plane_warns_once(tmp_path, caplog, capsys):
    box = trimesh.creation.box(extents=(300.0, 150.0, 150.0))  # millimetres, seen from 1.5 m
    mesh_path = tmp_path / "part_mm.stl"
    box.export(mesh_path)
    cam = {"position": [0.0, 0.0, 1500.0], "look_at": [0.0, 0.0, 0.0], "up": [0.0, 1.0, 0.0],
           "yfov_deg": 20.0, "width": 400, "height": 300}
    corners = np.array([[150.0, 75.0, 75.0], [-150.0, -75.0, 75.0]])  # on the near face
    np.save(tmp_path / "pts.npy", corners)
    out = tmp_path / "fitted.png"
    assert main(["draw", str(mesh_path), "--camera", str(camera_json(tmp_path / "c.json", cam)),
                 "--out", str(out), "--points", str(tmp_path / "pts.npy")]) == 0
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    ink = read_png(out) < 128
    ys, xs = np.nonzero(ink)
    assert (xs.min(), xs.max(), ys.min(), ys.max()) == (110, 289, 105, 194)  # face x 110.5-289.5, y 105.2-194.8
    assert json.loads(out.with_suffix(".points.json").read_text())["visible"] == [True, True]
    out = tmp_path / "cut.png"
    # the far plane 1,425 mm short of the box: every camera sees nothing of it (exit 1, said per camera)
    assert main(["draw", str(mesh_path), "--camera", str(camera_json(tmp_path / "z.json", [dict(cam, zfar=100.0)] * 3)),
                 "--out", str(out), "--points", str(tmp_path / "pts.npy")]) == 1
    assert capsys.readouterr().err.count("sees nothing of the mesh: the whole mesh lies outside its clip planes "
                                         "(znear ") == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(mesh_path) in warnings[0] and "zfar 100" in warnings[0]
    assert "2 other cameras" in warnings[0]
    assert json.loads(tmp_path.joinpath("cut_000.points.json").read_text())["visible"] == [False, False]


@pytest.mark.parametrize("camera, reason", [
    ({"position": [0.0, 0.0, 0.2], "look_at": [0.0, 0.0, 1.0]},
     "the camera is inside the mesh: it sees only the inside of the surface"),
    ({"position": [0.0, 0.0, DISTANCE], "look_at": [0.0, 0.0, 2 * DISTANCE]},
     "the whole mesh lies behind the camera, which faces away from it"),
    ({"position": [0.0, 0.0, DISTANCE], "look_at": [10.0, 0.0, DISTANCE]}, "the mesh lies outside its field of view"),
])
def test_a_camera_that_sees_nothing_of_the_mesh_exits_1_naming_it(tmp_path, capsys, sphere_file, camera, reason):
    """Inside the closed sphere, or with the sphere behind it or beside its 40-degree view, a camera draws
    a blank image: the view is written, and one line on stderr names the mesh, the camera and why."""
    cam = camera_json(tmp_path / "c.json", [FRONT, {**FRONT, **camera}])
    out = tmp_path / "o.png"
    assert main(["draw", str(sphere_file), "--camera", str(cam), "--out", str(out)]) == 1
    assert capsys.readouterr().err == (f"sketchgen draw: warning: {sphere_file}: camera 1 of {cam} sees nothing of the mesh: "
                           f"{reason}; {tmp_path / 'o_001.png'} is written as drawn\n")
    assert (read_png(tmp_path / "o_001.png") == 255).all()
    assert (read_png(tmp_path / "o_000.png") < 128).sum() > 100  # the front camera's view holds the contour


def test_the_library_marks_unseen_views_and_only_them(sphere_file):
    from sketchgen.ingest.meshfile import read_mesh
    from sketchgen.render.draw import draw_views

    mesh = read_mesh(sphere_file)
    inside = Camera.from_json({**FRONT, "position": [0.0, 0.0, 0.0], "look_at": [1.0, 0.0, 0.0]})
    views = list(draw_views(mesh, [Camera.from_json(FRONT), inside]))
    assert [v.unseen for v in views] == [None, "the camera is inside the mesh: it sees only the inside of the surface"]


def test_max_faces_draws_a_decimated_mesh_in_its_own_coordinates(tmp_path, sphere_file):
    """A 5,120-face sphere drawn with --max-faces 400: the stored strokes index at most 400 faces, and the
    contour stays on the full mesh's circle (within 2 px: the decimated sphere's silhouette), with the
    points placed on the full mesh still projected where they were."""
    from sketchgen.render.strokearrays import StrokeArrays

    cam = str(camera_json(tmp_path / "c.json", FRONT))
    np.save(tmp_path / "p.npy", np.array([[0.0, 0.0, RADIUS], [0.6 * RADIUS, 0.0, 0.8 * RADIUS]]))  # facing the camera
    full, small = tmp_path / "full.png", tmp_path / "small.png"
    for out, extra in ((full, []), (small, ["--max-faces", "400"])):
        assert main(["draw", str(sphere_file), "--camera", cam, "--out", str(out), "--points",
                     str(tmp_path / "p.npy"), *extra]) == 0
    record = StrokeArrays.from_npz(small.with_suffix(".strokes.npz").read_bytes())
    assert record.face.max() < 400 <= StrokeArrays.from_npz(full.with_suffix(".strokes.npz").read_bytes()).face.max()
    extents = []
    for out in (full, small):
        ys, xs = np.nonzero(read_png(out) < 128)
        extents.append(np.array([xs.min(), xs.max(), ys.min(), ys.max()]))
    assert np.abs(extents[0] - extents[1]).max() <= 2
    a, b = (json.loads(p.with_suffix(".points.json").read_text()) for p in (full, small))
    np.testing.assert_allclose(a["xy"], b["xy"], atol=1e-9)
    assert a["visible"] == b["visible"] == [True, True]


def test_views_frame_the_mesh_itself_and_write_the_cameras_they_used(tmp_path, capsys):
    from sketchgen.render.views import framing_views

    # a box far from the origin, in millimetres: framing must not assume the unit sphere
    box = trimesh.creation.box(extents=(400.0, 100.0, 200.0))
    box.apply_translation((1000.0, -50.0, 300.0))
    mesh = tmp_path / "box.ply"
    box.export(mesh)
    assert main(["draw", str(mesh), "--views", "3", "--size", "128", "--out", str(tmp_path / "v" / "box.png")]) == 0
    said = capsys.readouterr().out
    assert f"draw: 3 view(s) of {mesh}" in said and "box.cameras.json" in said
    cams = json.loads((tmp_path / "v" / "box.cameras.json").read_text())
    assert len(cams) == 3
    for k, cam in enumerate(map(Camera.from_json, cams)):
        img = cv2.imread(str(tmp_path / "v" / f"box_{k:03d}.png"), cv2.IMREAD_GRAYSCALE)
        assert img.shape == (128, 128)
        xy, depth = cam.world_to_pixels(box.vertices)
        # every corner in the image and in front of the camera; the box spans a good part of the frame
        assert (depth > 0).all() and (xy >= 0).all() and (xy <= 128).all()
        assert np.ptp(xy, axis=0).max() > 0.4 * 128
        ink = np.argwhere(img < 128)
        assert ink.size and ink.min(axis=0).min() >= 0
    # azimuths evenly spaced about the box's centre, at the elevation asked for
    centre = box.bounds.mean(axis=0)
    dirs = [c.position - centre for c in framing_views(box.vertices, 3, elevation_deg=20.0)]
    az = sorted(np.degrees(np.arctan2(d[0], d[2])) % 360 for d in dirs)
    assert np.allclose(np.diff(az), 120.0, atol=1e-6)
    assert all(np.degrees(np.arcsin(d[1] / np.linalg.norm(d))) == pytest.approx(20.0) for d in dirs)
    # the camera file reads back to the same drawings
    assert main(["draw", str(mesh), "--camera", str(tmp_path / "v" / "box.cameras.json"),
                 "--out", str(tmp_path / "again" / "box.png")]) == 0
    assert (tmp_path / "v" / "box_001.png").read_bytes() == (tmp_path / "again" / "box_001.png").read_bytes()


def test_winding_number_tells_inside_from_outside_and_a_stroked_view_from_inside_is_unseen():
    """Generalised winding number of a closed, outward-wound icosphere: 1 at points inside, 0 outside,
    about a half on an open hemisphere's rim plane; a view that holds strokes is unseen only from inside."""
    import trimesh

    from sketchgen.render.draw import unseen_reason, winding_number
    from sketchgen.render.prepared import prepare
    from sketchgen.render.strokes import Drawing, Stroke

    sphere = trimesh.creation.icosphere(subdivisions=2)
    prep = prepare(sphere)
    assert prep.is_closed
    for point in ([0.0, 0.0, 0.0], [0.3, -0.5, 0.2], [0.0, 0.0, 0.95]):
        assert abs(winding_number(prep, point) - 1.0) < 1e-9
    for point in ([0.0, 0.0, 1.05], [3.0, 1.0, -2.0]):
        assert abs(winding_number(prep, point)) < 1e-9
    cap = sphere.submesh([np.flatnonzero(sphere.triangles_center[:, 2] > 0)], append=True)
    # the centre sees the open upper hemisphere as half of all directions (its rim is not exactly planar)
    assert 0.4 < abs(winding_number(prepare(cap), [0.0, 0.0, 0.0])) < 0.6
    stroke = Stroke(xy=np.array([[10.0, 10.0], [20.0, 20.0]]), depth=np.ones(2), points=np.zeros((2, 3)),
                    faces=np.zeros(2, np.int64), kind="crease")
    for position, expected in (([0.0, 0.0, 0.2], "the camera is inside the mesh: it sees only the inside of the surface"),
                               ([0.0, 0.0, 3.0], None)):
        cam = Camera.looking_at(position, (0, 0, -1), (0, 1, 0), width=64, height=64, yfov_deg=40.0)
        assert unseen_reason(sphere, cam, Drawing(cam, [stroke]), prep) == expected
