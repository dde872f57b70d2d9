"""Keypoints: KeypointNet's real chair lands on its annotated xyz; sketchgen format round-trips."""

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from sketchgen.errors import InputError
from sketchgen.ingest.keypoints import Keypoints, load_keypoints
from sketchgen.ingest.meshfile import read_mesh

from shared_data import FIXTURES

FIXTURE = FIXTURES / "keypointnet"


@pytest.mark.skipif(not (FIXTURE / "chair_88382b.ply").exists(), reason="KeypointNet fixture absent")
def test_keypointnet_chair_lands_on_xyz(tmp_path):
    mesh = read_mesh(FIXTURE / "chair_88382b.ply")
    assert mesh.faces.shape == (3304, 3)
    kp = load_keypoints(FIXTURE / "chair_88382b.json", mesh)
    assert len(kp) == 10
    np.testing.assert_array_equal(kp.semantic_id, [0, 1, 2, 3, 4, 5, 10, 11, 12, 13])
    err = np.linalg.norm(kp.points(mesh.vertices, mesh.faces) - kp.xyz, axis=1)
    assert err.max() < 1e-6
    # by model id in a multi-model annotation file, as KeypointNet ships them
    entry = json.loads((FIXTURE / "chair_88382b.json").read_text())[0]
    other = dict(entry, model_id="other", keypoints=entry["keypoints"][:2])
    multi = tmp_path / "chair.json"
    multi.write_text(json.dumps([other, entry]))
    assert len(load_keypoints(multi, mesh, model_id=entry["model_id"])) == 10
    with pytest.raises(InputError, match="holds 2 models"):
        load_keypoints(multi, mesh)


def test_own_format_round_trip(tmp_path):
    box = trimesh.creation.box()
    kp = Keypoints(np.array([0, 5, 11]), np.array([[1, 0, 0], [0.2, 0.3, 0.5], [1 / 3] * 3]), np.array([7, 8, 9]))
    path = tmp_path / "k.json"
    path.write_text(json.dumps(kp.to_json()))
    back = load_keypoints(path, box)
    np.testing.assert_array_equal(back.face, [0, 5, 11])
    np.testing.assert_array_equal(back.semantic_id, [7, 8, 9])
    pts = back.points(box.vertices, box.faces)
    np.testing.assert_allclose(pts[0], box.vertices[box.faces[0, 0]])
    np.testing.assert_allclose(pts[2], box.triangles_center[11])


def test_bad_keypoints(tmp_path):
    box = trimesh.creation.box()
    path = tmp_path / "k.json"
    path.write_text(json.dumps({"keypoints": [{"face": 3, "bary": [1, 0, 0]}, {"face": 12, "bary": [1, 0, 0]}]}))
    with pytest.raises(InputError, match=r"k.json: keypoint 1 on face 12, but the mesh has 12 faces"):
        load_keypoints(path, box)
    path.write_text(json.dumps({"keypoints": [{"face": 3, "bary": [1, -2, 0]}]}))
    with pytest.raises(InputError, match="invalid barycentric"):
        load_keypoints(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_keypoints(path)


@pytest.mark.skipif(not (FIXTURE / "chair_88382b.ply").exists(), reason="KeypointNet fixture absent")
def test_keypointnet_chair_as_a_collection():
    """Scanning the fixture's folder: the keypoints file beside the PLY is found, the id and category
    come from the annotation, and after removing the PLY's 1661 doubled (reversed) faces every
    keypoint still lands on its xyz."""
    from sketchgen.ingest.collection import load_collection

    coll = load_collection(FIXTURE)
    assert not coll.failures
    (shape,) = coll.shapes
    assert shape.shape_id == "88382b877be91b2a572f8e1c1caad99e" and shape.category == "chair"
    assert shape.cleanup["duplicate"] == 1661 and shape.n_faces == 3304 - 1661
    err = np.linalg.norm(shape.to_file_coords(shape.keypoint_points()) - shape.keypoints.xyz, axis=1)
    assert len(err) == 10 and err.max() < 1e-6
