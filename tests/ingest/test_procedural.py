"""The bundled collection: counts, part labels, keypoints, shared face lists, variety, determinism."""

import json

import numpy as np
import pytest

from sketchgen.ingest import procedural
from sketchgen.ingest.collection import load_collection
from sketchgen.render.cleanup import clean_faces


@pytest.fixture(scope="module")
def bundled():
    return load_collection()


def test_asset_is_generate_spec_of_its_seed():
    spec = json.loads(procedural.SPEC_PATH.read_text())
    assert spec == json.loads(json.dumps(procedural.generate_spec(spec["seed"])))
    assert procedural.generate_spec(1) != procedural.generate_spec(0)
    assert procedural.SPEC_PATH.stat().st_size < 64 * 1024


def test_counts_parts_keypoints(bundled):
    assert not bundled.failures
    groups = bundled.by_category()
    assert len(groups) >= 4
    for category, shapes in groups.items():
        assert len(shapes) >= 12
        for s in shapes:
            assert len(s.parts) >= 2 and set(s.parts) == set(procedural.PART_NAMES[category])
            assert 1500 <= s.n_faces <= 5000
            assert len(s.keypoints) >= 8 and len(np.unique(s.keypoints.semantic_id)) == len(s.keypoints)
            assert sorted(s.keypoints.semantic_id) == list(range(len(procedural.KEYPOINT_NAMES[category])))
            # unit-sphere frame: centred bounding box, farthest vertex at 1
            assert np.linalg.norm(s.vertices, axis=1).max() == pytest.approx(1.0)
            np.testing.assert_allclose(s.vertices.min(0) + s.vertices.max(0), 0.0, atol=1e-12)


def test_shared_faces_are_exact_correspondence(bundled):
    for shapes in bundled.by_category().values():
        a = shapes[0]
        for b in shapes[1:]:
            np.testing.assert_array_equal(a.faces, b.faces)
            np.testing.assert_array_equal(a.face_labels, b.face_labels)
            np.testing.assert_array_equal(a.keypoints.face, b.keypoints.face)
            np.testing.assert_array_equal(a.keypoints.semantic_id, b.keypoints.semantic_id)
        face, bary = np.array([0, 7]), np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
        f, w = procedural.exact_correspondence(a, shapes[1], face, bary)
        np.testing.assert_array_equal(f, face)
    with pytest.raises(procedural.InputError):
        procedural.exact_correspondence(bundled.shapes[0], bundled.by_category()["mug"][0], face, bary)


def test_not_scaled_copies(bundled):
    """No instance is a scaled copy of another: whole shapes differ after the best similarity fit, and
    every part differs even after the best affine fit (its shape, not only its proportions, varies)."""
    for shapes in bundled.by_category().values():
        for i in range(4):
            for j in range(i + 1, 4):
                assert _procrustes_residual(shapes[i].vertices, shapes[j].vertices) > 0.03
        for label in shapes[0].parts:
            parts = [s.vertices[np.unique(s.faces[s.face_labels == label])] for s in shapes[:4]]
            for i in range(4):
                for j in range(i + 1, 4):
                    assert _affine_residual(parts[i], parts[j]) > 5e-4


def _affine_residual(p, q):
    """RMS residual of the best affine map p -> q, relative to q's spread."""
    ph = np.c_[p, np.ones(len(p))]
    x, *_ = np.linalg.lstsq(ph, q, rcond=None)
    r = q - ph @ x
    return float(np.sqrt((r ** 2).sum() / ((q - q.mean(0)) ** 2).sum()))


def _procrustes_residual(p, q):
    p0, q0 = p - p.mean(0), q - q.mean(0)
    p0 /= np.linalg.norm(p0)
    q0 /= np.linalg.norm(q0)
    u, s, vt = np.linalg.svd(p0.T @ q0)
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * s.sum())))


def test_clean_closed_outward(bundled):
    for shapes in bundled.by_category().values():
        s = shapes[3]
        c = clean_faces(s.vertices, s.faces)
        assert c.degenerate == 0 and c.duplicate == 0
        mesh = s.trimesh
        for label in s.parts:
            part = mesh.submesh([np.flatnonzero(s.face_labels == label)], append=True)
            assert part.is_watertight
            assert part.volume > 0  # faces point outwards


def test_keypoints_at_named_places(bundled):
    chair = bundled.by_category()["chair"][0]
    pts = chair.to_file_coords(chair.keypoint_points())
    p = procedural.load_spec()["shapes"][0]["params"]
    feet = pts[6:10]
    np.testing.assert_allclose(feet[:, 1], 0.0, atol=1e-9)  # legs end on the floor
    np.testing.assert_allclose(pts[:4, 1], p["seat_h"], atol=1e-9)  # seat corners on the seat top
    assert np.all(pts[4:6, 1] > p["seat_h"] + 0.5 * p["back_h"])  # back corners well above the seat
