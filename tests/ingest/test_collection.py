"""Collections: manifests, directory scanning, and a directory mixing good and every kind of bad file."""

import json
import os
import struct

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.ingest.collection import load_collection

# file name -> words its failure reason must contain
BAD = {
    "zero.ply": "empty file",
    "garbage.off": "cannot parse",
    "nan.obj": "NaN or infinite",
    "pastend.ply": "refers to vertex 7",
    "pointsonly.obj": "no faces",
    "short.stl": "claims 12 triangles but the file holds 5",
    "mismatch.obj": "has 5 labels, but the mesh has 12 faces",
    "kpbad.obj": "keypoint 0 on face 99, but the mesh has 12 faces",
    "locked.ply": "cannot read",
}


def make_mixed_dir(root):
    """Two good meshes per category (chair/, table/) plus one of each bad kind in bad/."""
    for category in ("chair", "table"):
        (root / category).mkdir(parents=True)
        for k in range(2):
            box = trimesh.creation.box(extents=(1 + k, 1, 1))
            box.export(root / category / f"good{k}.obj")
            (root / category / f"good{k}.seg").write_text("\n".join(["0"] * 6 + ["1"] * 6))
    bad = root / "bad"
    bad.mkdir()
    box_obj = trimesh.creation.box().export(file_type="obj")
    header = ("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
              "element face 1\nproperty list uchar int vertex_indices\nend_header\n")
    files = {
        "zero.ply": b"",
        "garbage.off": os.urandom(300),
        "nan.obj": b"v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n",
        "pastend.ply": (header + "0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n").encode(),
        "pointsonly.obj": b"v 0 0 0\nv 1 0 0\nv 0 1 0\n",
        "short.stl": b"\0" * 80 + struct.pack("<I", 12) + b"\0" * 250,
        "mismatch.obj": box_obj.encode(),
        "kpbad.obj": box_obj.encode(),
        "locked.ply": trimesh.creation.box().export(file_type="ply"),
    }
    for name, data in files.items():
        (bad / name).write_bytes(data)
    (bad / "mismatch.seg").write_text("0\n1\n0\n1\n0\n")
    (bad / "kpbad.keypoints.json").write_text(json.dumps({"keypoints": [{"face": 99, "bary": [1, 0, 0]}]}))
    os.chmod(bad / "locked.ply", 0)
    if os.access(bad / "locked.ply", os.R_OK):  # running as root: permissions do not bite
        os.remove(bad / "locked.ply")
    return root


def expected_failures(root):
    return {k: v for k, v in BAD.items() if (root / "bad" / k).exists()}


def test_mixed_directory(tmp_path):
    root = make_mixed_dir(tmp_path / "coll")
    expected = expected_failures(root)
    coll = load_collection(root)
    assert sorted((s.category, s.n_faces) for s in coll.shapes) == [("chair", 12)] * 2 + [("table", 12)] * 2
    assert all(set(s.parts) == {0, 1} for s in coll.shapes)
    reasons = {os.path.basename(f.path): f.reason for f in coll.failures}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name] and name.split(".")[0] in reasons[name], reasons[name]
        assert "\n" not in reasons[name]


def test_manifests(tmp_path):
    root = make_mixed_dir(tmp_path / "coll")
    (tmp_path / "m.csv").write_text("mesh,category,labels,id\ncoll/chair/good0.obj,seat-thing,coll/chair/good0.seg,A\n"
                                    "coll/table/good1.obj,,,B\ncoll/bad/nan.obj,x,,C\n")
    coll = load_collection(tmp_path / "m.csv")
    assert [(s.shape_id, s.category, len(s.parts)) for s in coll.shapes] == [("A", "seat-thing", 2), ("B", "table", 2)]
    assert len(coll.failures) == 1 and "NaN" in coll.failures[0].reason and coll.failures[0].category == "x"
    (tmp_path / "m.json").write_text(json.dumps({"shapes": [{"mesh": "coll/chair/good1.obj", "id": "J"}]}))
    coll = load_collection(tmp_path / "m.json")
    shape = coll.shapes[0]
    assert shape.shape_id == "J" and np.ptp(shape.to_file_coords(shape.vertices)[:, 0]) == pytest.approx(2.0)
    with pytest.raises(InputError, match="no such file"):
        load_collection(tmp_path / "nothing")
    (tmp_path / "broken.csv").write_text("category\nchair\n")
    with pytest.raises(InputError, match="row 1 has no \"mesh\""):
        load_collection(tmp_path / "broken.csv")


def test_named_parts_share_labels_across_a_category(tmp_path):
    text = "v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n"
    (tmp_path / "chair").mkdir()
    (tmp_path / "chair" / "a.obj").write_text(text + "g seat\nf 1 2 3\nf 1 2 4\ng back\nf 1 3 4\nf 2 3 4\n")
    (tmp_path / "chair" / "b.obj").write_text(text + "g back\nf 1 2 3\ng leg\nf 1 2 4\ng seat\nf 1 3 4\nf 2 3 4\n")
    coll = load_collection(tmp_path)
    a, b = coll.shapes
    assert a.part_names == {0: "back", 2: "seat"} and b.part_names == {0: "back", 1: "leg", 2: "seat"}
    np.testing.assert_array_equal(a.face_labels, [2, 2, 0, 0])
    np.testing.assert_array_equal(b.face_labels, [0, 1, 2, 2])
    assert a.shape_id != b.shape_id  # content hashes of different meshes


def test_manifest_with_shapenet_part_points(tmp_path):
    box = trimesh.creation.box(extents=(2, 1, 1))
    box.export(tmp_path / "m.obj")
    pts = box.sample(300, seed=0)
    (tmp_path / "p.pts").write_text("\n".join(" ".join(f"{c:.6f}" for c in p) for p in pts))
    (tmp_path / "p.seg").write_text("\n".join(str(1 + int(p[0] > 0)) for p in pts))
    (tmp_path / "m.csv").write_text("mesh,points,labels,category\nm.obj,p.pts,p.seg,bench\n")
    (shape,) = load_collection(tmp_path / "m.csv").shapes
    centroids = shape.to_file_coords(shape.vertices[shape.faces].mean(1))
    # faces straddling x = 0 do not exist on a box: every face is on one side
    np.testing.assert_array_equal(shape.face_labels, 1 + (centroids[:, 0] > 0))
    assert shape.category == "bench"


def test_bundled_style_spec_with_a_bad_entry(tmp_path):
    from sketchgen.ingest.procedural import generate_spec

    spec = generate_spec(3, instances=2)
    del spec["shapes"][1]["params"]["seat_w"]
    spec["shapes"][2]["category"] = "sofa"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    coll = load_collection(path)
    assert len(coll.shapes) == len(spec["shapes"]) - 2
    reasons = sorted(f.reason for f in coll.failures)
    assert "spec.json#chair_001" in reasons[0] and "missing parameter 'seat_w'" in reasons[0]
    assert "unknown bundled category 'sofa'" in reasons[1]


def test_manifest_row_with_a_number_for_a_path_is_one_line_naming_the_row(tmp_path):
    from sketchgen.ingest.collection import read_collection_manifest

    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"mesh": "a.obj"}, {"mesh": 7}]))
    with pytest.raises(InputError, match=r'm\.json: row 2: "mesh" must be a file path, got 7'):
        read_collection_manifest(path)
