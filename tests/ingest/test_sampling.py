"""Surface sampling: seeded, area-weighted, uniform inside triangles; nearest surface points exact."""

import numpy as np
import trimesh

from sketchgen.ingest.partmesh import make_partmesh
from sketchgen.ingest.sampling import closest_surface_points, sample_surface


def _boxes():
    small = trimesh.creation.box(extents=(1, 1, 1))
    big = trimesh.creation.box(extents=(2, 2, 2))
    big.apply_translation([4, 0, 0])
    mesh = trimesh.util.concatenate([small, big])
    return make_partmesh(mesh.vertices, mesh.faces, np.repeat([0, 1], 12), shape_id="boxes")


def test_area_weighted_and_seeded():
    shape = _boxes()
    face, bary = sample_surface(shape, 20000, np.random.default_rng(5))
    again = sample_surface(shape, 20000, np.random.default_rng(5))
    np.testing.assert_array_equal(face, again[0])
    np.testing.assert_array_equal(bary, again[1])
    # the big box has 4x the area of the small one: 80% of the samples
    assert abs((shape.face_labels[face] == 1).mean() - 0.8) < 0.01
    np.testing.assert_allclose(bary.sum(1), 1.0)
    assert bary.min() >= 0.0
    # uniform over each triangle: every weight averages 1/3 and the corner sub-triangle holds 1/4
    np.testing.assert_allclose(bary.mean(0), 1 / 3, atol=0.01)
    assert abs((bary[:, 0] > 0.5).mean() - 0.25) < 0.01


def test_labels_and_subset():
    shape = _boxes()
    face, _ = sample_surface(shape, 500, np.random.default_rng(0), labels=[0])
    assert set(shape.face_labels[face]) == {0}
    face, _ = sample_surface(shape, 500, np.random.default_rng(0), face_subset=[3, 20])
    assert set(face) == {3, 20}


def test_closest_surface_points_recovers_points():
    shape = _boxes()
    face, bary = sample_surface(shape, 200, np.random.default_rng(1))
    points = shape.points(face, bary)
    f, w, d = closest_surface_points(shape, points)
    np.testing.assert_allclose(shape.points(f, w), points, atol=1e-9)
    assert d.max() < 1e-9
    # pushed off the surface along the face normal: found again at that distance
    normals = shape.trimesh.face_normals[face]
    f, w, d = closest_surface_points(shape, points + 0.01 * normals, np.flatnonzero(shape.face_labels == 1))
    on_big = shape.face_labels[face] == 1
    np.testing.assert_allclose(d[on_big], 0.01, atol=1e-9)


def test_face_components():
    from sketchgen.ingest.partmesh import face_components

    shape = _boxes()
    comps = face_components(shape, np.arange(24))
    assert [c.tolist() for c in comps] == [list(range(12)), list(range(12, 24))]
    assert len(face_components(shape, np.array([0, 1, 12]))) == 2


def test_closest_surface_points_are_the_nearest_of_every_triangle():
    """Against brute force: the exact distance from each query to every triangle (trimesh's per-triangle
    closest point), the minimum taken; the tree finds that distance, and a point on a face at it."""
    sphere = trimesh.creation.icosphere(subdivisions=2)
    shape = make_partmesh(sphere.vertices * [1.0, 0.6, 0.8], sphere.faces, np.zeros(len(sphere.faces), int),
                          shape_id="ellipsoid")
    rng = np.random.default_rng(4)
    queries = rng.normal(size=(60, 3)) * 0.9
    tri = shape.vertices[shape.faces]
    each = np.array([np.linalg.norm(trimesh.triangles.closest_point(tri, np.repeat(q[None], len(tri), 0)) - q, axis=1)
                     for q in queries])                                     # (60, F)
    for subset in (None, np.arange(0, len(tri), 3)):
        best = each.min(axis=1) if subset is None else each[:, subset].min(axis=1)
        f, w, d = closest_surface_points(shape, queries, subset)
        np.testing.assert_allclose(d, best, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(shape.points(f, w) - queries, axis=1), best, atol=1e-9)
        np.testing.assert_allclose(each[np.arange(len(queries)), f], best, atol=1e-12)
        if subset is not None:
            assert np.isin(f, subset).all()
