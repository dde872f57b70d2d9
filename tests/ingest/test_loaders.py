"""Part labels from every source the loaders read, ShapeNet-Part point transfer, PartNet, decimation."""

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.ingest.loaders import load_partmesh, read_labels


def _two_boxes():
    """Two unit boxes side by side along x: faces 0-11 the left box (x < 0), 12-23 the right one."""
    left = trimesh.creation.box(extents=(1, 1, 1))
    left.apply_translation([-0.75, 0, 0])
    right = trimesh.creation.box(extents=(1, 1, 1))
    right.apply_translation([0.75, 0, 0])
    return trimesh.util.concatenate([left, right])


@pytest.mark.parametrize("suffix", [".seg", ".txt", ".npy"])
def test_face_labels_beside_mesh(tmp_path, suffix):
    mesh = _two_boxes()
    mesh.export(tmp_path / "m.ply")
    labels = np.repeat([3, 5], 12)
    if suffix == ".npy":
        np.save(tmp_path / "m.npy", labels)
    else:
        (tmp_path / f"m{suffix}").write_text("\n".join(map(str, labels)) + "\n")
    shape = load_partmesh(tmp_path / "m.ply")
    np.testing.assert_array_equal(shape.face_labels, labels)
    assert shape.part_names == {3: "part3", 5: "part5"}
    # normalised frame: extents 2.5 x 1 x 1 centred; farthest corner at 1
    ext = np.ptp(shape.vertices, axis=0)
    np.testing.assert_allclose(ext / ext[0], [1.0, 0.4, 0.4], atol=1e-6)
    back = shape.to_file_coords(shape.vertices)
    np.testing.assert_allclose(np.ptp(back, axis=0), [2.5, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(shape.from_file_coords(back), shape.vertices, atol=1e-12)


def test_vertex_labels_and_mismatch(tmp_path):
    mesh = _two_boxes()
    vertex_labels = (mesh.vertices[:, 0] > 0).astype(int) + 1
    np.testing.assert_array_equal(read_labels_file(tmp_path, vertex_labels, mesh), np.repeat([1, 2], 12))
    (tmp_path / "bad.seg").write_text("1\n2\n3\n")
    with pytest.raises(InputError, match=r"bad.seg: has 3 labels, but the mesh has 24 faces or 16 vertices"):
        read_labels(tmp_path / "bad.seg", 24, 16, mesh.faces)


def read_labels_file(tmp_path, values, mesh):
    path = tmp_path / "v.txt"
    path.write_text(" ".join(map(str, values)))
    return read_labels(path, len(mesh.faces), len(mesh.vertices), mesh.faces)


def test_obj_groups_and_materials(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n"
    (tmp_path / "g.obj").write_text(text + "g seat\nf 1 2 3\nf 1 2 4\ng back\nf 1 3 4\nf 2 3 4\n")
    shape = load_partmesh(tmp_path / "g.obj")
    assert [shape.part_names[l] for l in shape.face_labels] == ["seat", "seat", "back", "back"]
    (tmp_path / "m.obj").write_text(text + "usemtl red\nf 1 2 3\nusemtl blue\nf 1 2 4\nf 1 3 4\nusemtl red\nf 2 3 4\n")
    shape = load_partmesh(tmp_path / "m.obj")
    assert [shape.part_names[l] for l in shape.face_labels] == ["red", "blue", "blue", "red"]


def test_shapenet_part_points(tmp_path):
    mesh = _two_boxes()
    mesh.export(tmp_path / "1a2b.obj")
    pts = mesh.sample(400, seed=1)
    (tmp_path / "1a2b.pts").write_text("\n".join(" ".join(f"{c:.6f}" for c in p) for p in pts))
    (tmp_path / "1a2b.seg").write_text("\n".join(str(1 + int(p[0] > 0)) for p in pts))
    shape = load_partmesh(tmp_path / "1a2b.obj")
    centroids = shape.to_file_coords(shape.vertices[shape.faces].mean(1))
    np.testing.assert_array_equal(shape.face_labels, 1 + (centroids[:, 0] > 0))


def test_partnet(tmp_path):
    shape_dir = tmp_path / "173"
    (shape_dir / "objs").mkdir(parents=True)
    for name, dx in (("new-0", -0.75), ("new-1", 0.75), ("new-2", 2.25)):
        box = trimesh.creation.box()
        box.apply_translation([dx, 0, 0])
        box.export(shape_dir / "objs" / f"{name}.obj")
    tree = [{"text": "Chair", "name": "chair", "id": 0, "children": [
        {"name": "chair_seat", "id": 1, "objs": ["new-0"]},
        {"name": "chair_base", "id": 2, "children": [{"name": "leg", "id": 3, "objs": ["new-1", "new-2"]}]}]}]
    (shape_dir / "result.json").write_text(json.dumps(tree))
    shape = load_partmesh(shape_dir)
    assert shape.shape_id == "173" and shape.category == "chair" and shape.n_faces == 36
    names = [shape.part_names[l] for l in shape.face_labels]
    assert names == ["chair_seat"] * 12 + ["chair_base"] * 24


def test_degenerate_duplicates_removed_keypoints_follow(tmp_path):
    (tmp_path / "d.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nv 2 0 0\n"
                                    "f 1 2 3\nf 1 2 5\nf 2 3 1\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    (tmp_path / "d.seg").write_text("0 0 0 1 1 1")
    (tmp_path / "d.keypoints.json").write_text(json.dumps({"keypoints": [
        {"face": 2, "bary": [0.5, 0.3, 0.2], "semantic_id": 4}, {"face": 5, "bary": [1, 0, 0], "semantic_id": 5},
        {"face": 1, "bary": [0.5, 0.25, 0.25], "semantic_id": 6}]}))
    shape = load_partmesh(tmp_path / "d.obj")
    assert shape.cleanup == {"degenerate": 1, "duplicate": 1, "decimated": 0}
    assert shape.n_faces == 4
    np.testing.assert_array_equal(shape.file_face, [0, 3, 4, 5])
    np.testing.assert_array_equal(shape.face_labels, [0, 1, 1, 1])
    # the keypoint on the duplicate face moved to its twin, at the same point: 0.5*v2 + 0.3*v3 + 0.2*v1;
    # the one on the degenerate face (1, 2, 5), a point of the x axis, moved to a kept face through it
    np.testing.assert_allclose(shape.to_file_coords(shape.keypoint_points()),
                               [[0.5, 0.3, 0], [1, 0, 0], [0.75, 0, 0]], atol=1e-12)
    np.testing.assert_array_equal(shape.keypoints.semantic_id, [4, 5, 6])


def test_decimation_keeps_labels(tmp_path):
    a = trimesh.creation.icosphere(subdivisions=4)
    b = trimesh.creation.icosphere(subdivisions=4)
    b.apply_translation([3, 0, 0])
    mesh = trimesh.util.concatenate([a, b])
    mesh.export(tmp_path / "s.ply")
    np.save(tmp_path / "s.npy", np.repeat([0, 1], len(a.faces)))
    shape = load_partmesh(tmp_path / "s.ply", max_faces=2000)
    assert 1500 <= shape.n_faces <= 2000
    assert shape.cleanup["decimated"] == 10240 - shape.n_faces
    for label, centre in ((0, 0.0), (1, 3.0)):
        pts = shape.to_file_coords(shape.vertices[np.unique(shape.faces[shape.face_labels == label])])
        np.testing.assert_allclose(np.linalg.norm(pts - [centre, 0, 0], axis=1), 1.0, atol=0.03)


def test_load_row_and_point_checks(tmp_path):
    """Rows load with their keys; labelled points that give every face one label are reported."""
    from sketchgen.ingest.loaders import load_row, point_check_note, transfer_point_labels

    mesh = _two_boxes()
    mesh.export(tmp_path / "m.obj")
    centroids = mesh.triangles_center
    corners = np.asarray(mesh.vertices)
    # label 1 at every face centroid, label 2 only at corners: on the surface, yet no face is nearest a 2
    np.savetxt(tmp_path / "p.pts", np.concatenate([centroids, corners]))
    (tmp_path / "p.seg").write_text("\n".join(["1"] * len(centroids) + ["2"] * len(corners)))
    labels, check = transfer_point_labels(tmp_path / "p.pts", tmp_path / "p.seg", np.asarray(mesh.vertices),
                                          np.asarray(mesh.faces))
    assert set(labels.tolist()) == {1} and check["median"] < 1e-9 and check["point_labels"] == 2
    note = point_check_note(check)
    assert note is not None and "p.pts" in note and "every face received the same one" in note
    row = {"mesh": tmp_path / "m.obj", "points": tmp_path / "p.pts", "labels": tmp_path / "p.seg",
           "category": "thing", "id": "t1", "layout": "manifest"}
    shape = load_row(row)
    assert (shape.shape_id, shape.category, shape.n_faces, shape.notes) == ("t1", "thing", 24, (note,))
    with pytest.raises(InputError, match=r"p\.pts.*\(strict\)"):
        load_row(row, strict=True)


def test_layouts_that_do_not_look_beside(tmp_path):
    """A ShapeNetCore row never reads the files beside its OBJ; a plain one does."""
    from sketchgen.ingest.loaders import load_row

    _two_boxes().export(tmp_path / "m.obj")
    (tmp_path / "m.seg").write_text("\n".join(["4"] * 12 + ["5"] * 12))
    (tmp_path / "m.json").write_text(json.dumps({"id": "m", "numVertices": 16}))  # metadata, not keypoints
    plain = load_row({"mesh": tmp_path / "m.obj", "layout": "plain"})
    core = load_row({"mesh": tmp_path / "m.obj", "layout": "shapenetcore-v2", "id": "x", "category": "chair"})
    assert sorted(np.unique(plain.face_labels).tolist()) == [4, 5] and len(plain.keypoints) == 0
    assert np.unique(core.face_labels).tolist() == [0]


def test_partnet_single_child_chain_walked_to_the_split(tmp_path):
    # PartNet-Mobility's bottles: root -> normal_bottle (a type node, no OBJ of its own) -> body, neck, lid
    shape_dir = tmp_path / "3763"
    (shape_dir / "textured_objs").mkdir(parents=True)
    for k, dy in enumerate((0.0, 1.5, 3.0)):
        box = trimesh.creation.box()
        box.apply_translation([0, dy, 0])
        box.export(shape_dir / "textured_objs" / f"original-{k}.obj")
    tree = [{"name": "bottle", "id": 0, "children": [{"name": "normal_bottle", "id": 1, "children": [
        {"name": "body", "id": 2, "objs": ["original-0"]}, {"name": "neck", "id": 3, "objs": ["original-1"]},
        {"name": "lid", "id": 4, "children": [{"name": "cap", "id": 5, "objs": ["original-2"]}]}]}]}]
    (shape_dir / "result.json").write_text(json.dumps(tree))
    shape = load_partmesh(shape_dir)
    assert sorted(shape.part_names.values()) == ["body", "lid", "neck"]
    # each part is the box placed at its height: its faces' centroids are 1.5 file units apart
    for name, dy in (("body", 0.0), ("neck", 1.5), ("lid", 3.0)):
        label = next(k for k, n in shape.part_names.items() if n == name)
        centre = shape.to_file_coords(shape.vertices[shape.faces[shape.face_labels == label]].mean((0, 1)))
        np.testing.assert_allclose(centre[0], [0.0, dy, 0.0], atol=1e-9)


def test_partnet_mobility_bottle_of_the_corpus():
    from shared_data import CORPUS

    bottle = CORPUS / "partnet_mobility" / "bottle_3763"
    if not bottle.is_dir():
        pytest.skip("the shared corpus is not here")
    shape = load_partmesh(bottle)
    assert sorted(shape.part_names.values()) == ["body", "lid", "neck"]
    # the lid sits on top of the neck, the neck on the body (the bottle stands on +Y in the file)
    height = {shape.part_names[l]: shape.vertices[shape.faces[shape.face_labels == l]][..., 1].mean()
              for l in shape.parts}
    assert height["body"] < height["neck"] < height["lid"]
