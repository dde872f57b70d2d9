"""Registration measured against known truth: an anisotropic stretch, and the bundled shapes."""

import numpy as np
import pytest
import trimesh

from sketchgen.datagen.collection import load_collection
from sketchgen.datagen.partmesh import make_partmesh
from sketchgen.datagen.procedural import exact_correspondence
from sketchgen.datagen.registration import align_points, keypoint_matches, register, register_points
from sketchgen.datagen.sampling import sample_surface


@pytest.fixture(scope="module")
def bundled():
    return load_collection().by_category()


def test_align_points_recovers_stretch():
    torus = trimesh.creation.torus(major_radius=0.7, minor_radius=0.25)
    pa = torus.sample(3000, seed=1)
    scale, offset = np.array([1.3, 0.6, 0.9]), np.array([0.2, -0.1, 0.05])
    pb = torus.sample(3000, seed=2) * scale + offset
    al = align_points(pa, pb)
    np.testing.assert_allclose(al.scale, scale, rtol=0.03)
    np.testing.assert_allclose(al.offset, offset, atol=0.02)
    assert al.quality > 0.5


def test_stretched_shape_maps_to_its_stretched_points():
    box = trimesh.creation.box(extents=(1, 1, 1))
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    sphere.apply_translation([0, 1.0, 0])
    mesh = trimesh.util.concatenate([box, sphere])
    labels = np.repeat([0, 1], [len(box.faces), len(sphere.faces)])
    a = make_partmesh(mesh.vertices, mesh.faces, labels, shape_id="a")
    b = make_partmesh(mesh.vertices * [1.5, 1.0, 0.7], mesh.faces, labels, shape_id="b")
    face, bary = sample_surface(a, 300, np.random.default_rng(3))
    reg = register(a, b, samples=1500)
    mapped, conf = reg.map_points(face, bary)
    err = np.linalg.norm(mapped - b.points(face, bary), axis=1) / b.bbox_diagonal
    assert err.mean() < 0.01
    assert conf.min() >= 0.0 and conf.max() <= 1.0 and np.median(conf) > 0.5


def test_bundled_within_five_percent(bundled):
    rng = np.random.default_rng(7)
    for category in ("chair", "mug"):
        a, b = bundled[category][2], bundled[category][5]
        reg = register(a, b, samples=800)
        face, bary = sample_surface(a, 200, rng)
        mapped, conf = reg.map_points(face, bary)
        true_face, true_bary = exact_correspondence(a, b, face, bary)
        err = np.linalg.norm(mapped - b.points(true_face, true_bary), axis=1) / b.bbox_diagonal
        assert err.mean() < 0.05, category
        # the labels of mapped points always agree: points stay on their part
        f, _, _ = reg.map(face, bary)
        np.testing.assert_array_equal(b.face_labels[f], a.face_labels[face])
        assert 0.0 <= conf.min() and conf.max() <= 1.0


def test_missing_part_falls_back_with_low_confidence(bundled):
    a, full = bundled["chair"][0], bundled["chair"][1]
    keep = np.flatnonzero(full.face_labels != 1)  # b has no back
    b = make_partmesh(full.vertices, full.faces[keep], full.face_labels[keep], part_names=full.part_names,
                      category="chair", shape_id="noback", clean=False)
    reg = register(a, b, samples=800)
    assert 1 not in reg.alignments
    face, bary = sample_surface(a, 300, np.random.default_rng(2))
    _, _, conf = reg.map(face, bary)
    on_back = a.face_labels[face] == 1
    assert on_back.any() and (~on_back).any()
    assert conf[on_back].max() <= 0.25 + 1e-12
    assert np.median(conf[~on_back]) > conf[on_back].max()


def test_self_registration_is_identity(bundled):
    a = bundled["table"][0]
    face, bary = sample_surface(a, 100, np.random.default_rng(1))
    mapped, conf = register(a, a).map_points(face, bary)
    err = np.linalg.norm(mapped - a.points(face, bary), axis=1) / a.bbox_diagonal
    # not exactly zero: the ICP pairs two independent samplings of the surface
    assert err.mean() < 0.006 and err.max() < 0.02
    assert np.median(conf) > 0.5


def test_keypoint_matches(bundled):
    a, b = bundled["lamp"][0], bundled["lamp"][1]
    ids, ia, ib = keypoint_matches(a, b)
    assert len(ids) == 10
    np.testing.assert_array_equal(a.keypoints.semantic_id[ia], ids)
    np.testing.assert_array_equal(b.keypoints.semantic_id[ib], ids)


def test_register_points_matches_register(bundled):
    a, b = bundled["mug"][0], bundled["mug"][1]
    face, bary = sample_surface(a, 50, np.random.default_rng(4))
    f1, w1, c1 = register_points(a, b, face, bary)
    f2, w2, c2 = register(a, b).map(face, bary)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_allclose(w1, w2)
    assert register_points(a, b, face, bary)[0].tolist() == f1.tolist()  # second call: cached


def test_keypoint_anchors_pull_keypoints_together(bundled):
    a, b = bundled["chair"][3], bundled["chair"][4]
    plain = register(a, b, samples=800)
    anchored = register(a, b, samples=800, keypoints=True)
    errs = []
    for reg in (plain, anchored):
        mapped, _ = reg.map_points(a.keypoints.face, a.keypoints.bary)
        errs.append(np.linalg.norm(mapped - b.keypoint_points(), axis=1).mean() / b.bbox_diagonal)
    assert errs[1] < errs[0] and errs[1] < 0.02
