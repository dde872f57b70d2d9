"""Registration measured against known truth: an anisotropic stretch, and the bundled shapes."""

import numpy as np
import pytest
import trimesh

from sketchgen.datagen.registration import align_points, keypoint_matches, register, register_points
from sketchgen.ingest.collection import load_collection
from sketchgen.ingest.partmesh import make_partmesh
from sketchgen.ingest.procedural import exact_correspondence
from sketchgen.ingest.sampling import sample_surface


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


# ------------------------------------------------------------------------ per-shape labels, no label read
def _per_shape(shape, permutation, turn=None):
    """``shape`` with its label ids permuted (as PSB ships segment ids) and declared per-shape; ``turn``
    (3, 3): the shape turned about the origin as well."""
    import dataclasses

    vertices = shape.vertices if turn is None else shape.vertices @ np.asarray(turn).T
    labels = np.asarray(permutation)[shape.face_labels]
    return dataclasses.replace(shape, vertices=vertices, face_labels=labels, label_semantics="per-shape",
                               source=f"test:{shape.shape_id}",  # not bundled: no exact correspondence
                               part_names={int(l): f"segment{int(l)}" for l in np.unique(labels)})


def test_label_free_registration_pairs_segments_by_geometry_not_id(bundled):
    """Two bundled chairs whose label ids are permuted differently, one also turned half a turn about +Y:
    points land on the same true part (the bundled shapes' exact correspondence gives it) and near the
    true point, though equal ids name different parts."""
    from sketchgen.datagen.flow import correspondence_method
    from sketchgen.datagen.registration import LABEL_FREE, register_label_free, up_turn

    a0, b0 = bundled["chair"][0], bundled["chair"][1]
    a = _per_shape(a0, [2, 0, 1])
    b = _per_shape(b0, [1, 2, 0], turn=up_turn(2))
    assert correspondence_method(a, b) == LABEL_FREE
    reg = register_label_free(a, b, samples=800)
    assert reg.method == LABEL_FREE and reg.match.turn == 2
    # the pairing relates each of a's ids to b's id of the same true part
    truth = {int(a.face_labels[f]): int(b.face_labels[f]) for f in range(a.n_faces)}
    assert dict(reg.match.pairs) == truth and reg.match.trust > 0.9
    face, bary = sample_surface(a, 400, np.random.default_rng(5))
    fb, wb, conf = reg.map(face, bary)
    true_face, true_bary = exact_correspondence(a0, b0, face, bary)
    assert np.mean(b.face_labels[fb] == b.face_labels[true_face]) >= 0.95
    error = np.linalg.norm(b.points(fb, wb) - b.points(true_face, true_bary), axis=1)
    assert np.median(error) < 0.05 * b.bbox_diagonal and np.median(conf) > 0.5


def test_segments_that_do_not_pair_up_are_not_trusted(bundled, monkeypatch):
    """A chair against a mug: no pairing of their segments covers both; every confidence is 0."""
    from sketchgen.datagen import registration
    from sketchgen.datagen.flow import partner_trouble
    from sketchgen.datagen.registration import register_label_free

    a = _per_shape(bundled["chair"][0], [0, 1, 2])
    b = _per_shape(bundled["table"][0], [0, 1])
    reg = register_label_free(a, b, samples=500)
    assert reg.match.agreement < 0.8 and reg.match.trust == 0.0
    assert np.all(reg.map(*sample_surface(a, 100, np.random.default_rng(0)))[2] == 0.0)
    monkeypatch.setattr(registration, "register_label_free", lambda a, b: reg)  # the same pair, registered above
    assert "not trusted" in partner_trouble(a, b)


def test_consistent_labels_disagreeing_are_named(bundled, monkeypatch):
    """Four bundled chairs declared consistent, one with labels 0 and 2 swapped: the label-free check names
    it, with the swap, and no other."""
    import dataclasses

    from sketchgen.datagen import consistency
    from sketchgen.datagen.consistency import compare_category, label_disagreements

    monkeypatch.setattr(consistency, "SAMPLES", 400)
    chairs = list(bundled["chair"][:4])
    swapped = chairs[3]
    chairs[3] = dataclasses.replace(swapped, face_labels=np.array([2, 1, 0])[swapped.face_labels])
    named = label_disagreements(compare_category(chairs))
    assert list(named) == [swapped.shape_id]
    assert named[swapped.shape_id] in ("0->2, 2->0",)


def test_consistent_labels_swapped_on_one_shape_are_not_matched_by_id(bundled, monkeypatch):
    """Two chairs declared consistent, the second with labels 0 and 2 swapped: matching them by label would
    carry a point to another part; the pair is declined with the swap named. Unswapped, it is not."""
    import dataclasses

    from sketchgen.datagen import consistency
    from sketchgen.datagen.flow import correspondence_method, partner_trouble
    from sketchgen.datagen.registration import PART_LABELS

    monkeypatch.setattr(consistency, "SAMPLES", 400)
    a = dataclasses.replace(bundled["chair"][0], source="test:a")
    b = dataclasses.replace(bundled["chair"][1], source="test:b")
    swapped = dataclasses.replace(b, face_labels=np.array([2, 1, 0])[b.face_labels])
    assert correspondence_method(a, swapped) == PART_LABELS
    assert partner_trouble(a, b) is None
    why = partner_trouble(a, swapped)
    assert "declared consistent, disagree" in why and "0->2" in why and "2->0" in why


PSB = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "realworld" / "psb"


@pytest.mark.skipif(not PSB.is_dir(), reason="shared real-world fixtures not present")
def test_psb_segment_ids_are_never_matched_by_id():
    from sketchgen.datagen.flow import correspond, correspondence_method
    from sketchgen.datagen.registration import LABEL_FREE, cached_registration

    coll = load_collection(PSB)
    assert coll.shapes and all(s.label_semantics == "per-shape" for s in coll.shapes)
    for shapes in coll.by_category().values():
        assert all(correspondence_method(a, b) == LABEL_FREE for a in shapes for b in shapes if a is not b)
    a, b = coll.by_category()["chair"][3:5]  # 107 and 108, both upright
    face, bary = sample_surface(a, 200, np.random.default_rng(0))
    fb, wb, conf = correspond(a, b, face, bary)
    reg = cached_registration(a, b, LABEL_FREE)
    assert reg.method == LABEL_FREE and np.all((conf >= 0) & (conf <= 1))
    # where a pairing is trusted, points follow the segments it pairs, whatever their ids
    paired = dict(reg.match.pairs)
    if reg.match.trust > 0:
        on = np.isin(a.face_labels[face], list(paired)) & (conf >= 0.5)
        hit = b.face_labels[fb[on]] == np.array([paired[int(l)] for l in a.face_labels[face[on]]])
        assert hit.mean() >= 0.8
    else:
        assert np.all(conf == 0)
