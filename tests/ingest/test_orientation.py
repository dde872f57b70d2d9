"""Orientation: --up-axis / --front-axis, a manifest's up/front/rotation columns, and the axis check."""

import csv

import numpy as np
import pytest
import trimesh

from sketchgen.ingest.collection import LoadOptions, load_collection
from sketchgen.ingest.orientation import (axes_rotation, axis_verdicts, euler_rotation, orient, principal_axes)


def _chair() -> trimesh.Trimesh:
    """A seat (1.0 x 0.2 x 1.0), a back behind it (-Z) and four legs: tall along +Y, facing +Z."""
    parts = [trimesh.creation.box(extents=(1.0, 0.2, 1.0))]
    back = trimesh.creation.box(extents=(1.0, 1.2, 0.15))
    back.apply_translation([0, 0.7, -0.45])
    parts.append(back)
    for x in (-0.4, 0.4):
        for z in (-0.4, 0.4):
            leg = trimesh.creation.box(extents=(0.1, 1.0, 0.1))
            leg.apply_translation([x, -0.6, z])
            parts.append(leg)
    return trimesh.util.concatenate(parts)


# (3, 3): turns the chair so its up (+Y) points along +Z and its front (+Z) along -Y: about X by +90 degrees
TO_Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])


def _write(folder, name, mesh):
    path = folder / f"{name}.off"
    mesh.export(path)
    return path


@pytest.fixture()
def chairs(tmp_path):
    upright = _chair()
    lying = upright.copy()
    lying.vertices = np.asarray(upright.vertices) @ TO_Z_UP.T
    return tmp_path, _write(tmp_path, "upright", upright), _write(tmp_path, "lying", lying)


def _manifest(folder, rows):
    path = folder / "manifest.csv"
    keys = sorted({k for r in rows for k in r})
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_axes_rotation_takes_up_to_y_and_front_to_z():
    for up, front in (("+z", "-y"), ("-x", "+y"), ("+y", "+z"), ("+x", "+z")):
        r = axes_rotation(up, front)
        u = np.zeros(3)
        u["xyz".index(up[1])] = 1.0 if up[0] == "+" else -1.0
        f = np.zeros(3)
        f["xyz".index(front[1])] = 1.0 if front[0] == "+" else -1.0
        np.testing.assert_allclose(r @ u, [0, 1, 0], atol=1e-12)
        np.testing.assert_allclose(r @ f, [0, 0, 1], atol=1e-12)
        assert np.isclose(np.linalg.det(r), 1.0)
    with pytest.raises(ValueError, match="perpendicular"):
        axes_rotation("+z", "-z")
    # "90 0 0": a quarter turn about X takes +Y to +Z, as TO_Z_UP does
    np.testing.assert_allclose(euler_rotation("90 0 0"), TO_Z_UP, atol=1e-12)
    with pytest.raises(ValueError, match="three angles"):
        euler_rotation("90 0")


@pytest.mark.parametrize("columns", [{"up": "+z", "front": "-y"}, {"rotation": "-90, 0, 0"}])
def test_a_manifest_row_turns_a_lying_copy_back_upright(chairs, columns):
    folder, upright, lying = chairs
    manifest = _manifest(folder, [{"mesh": upright.name, "id": "upright", "category": "chair"},
                                  {"mesh": lying.name, "id": "lying", "category": "chair", **columns}])
    coll = load_collection(manifest)
    a, b = coll.get("upright"), coll.get("lying")
    np.testing.assert_allclose(b.vertices, a.vertices, atol=1e-9)
    # the transform still maps the file's coordinates to the (turned) frame
    np.testing.assert_allclose(b.from_file_coords(np.asarray(trimesh.load(lying).vertices)), b.vertices, atol=1e-9)


def test_up_axis_turns_every_shape_and_the_copy_draws_the_same_image(chairs):
    from sketchgen.render.camera import Camera
    from sketchgen.render.draw import DrawConfig, draw_views

    folder, upright, lying = chairs
    a = load_collection(upright).shapes[0]
    b = load_collection(lying, options=LoadOptions(up_axis="+z", front_axis="-y")).shapes[0]
    np.testing.assert_allclose(b.vertices, a.vertices, atol=1e-9)
    camera = Camera.from_json({"position": [2.0, 1.2, 2.2], "look_at": [0, 0, 0], "up": [0, 1, 0],
                               "yfov_deg": 40.0, "width": 96, "height": 96})
    image_a = next(draw_views(a.trimesh, [camera], DrawConfig())).image
    image_b = next(draw_views(b.trimesh, [camera], DrawConfig())).image
    assert (image_a < 255).sum() > 100
    assert np.array_equal(image_a, image_b)
    # without the option the lying copy draws otherwise
    c = load_collection(lying).shapes[0]
    assert not np.array_equal(next(draw_views(c.trimesh, [camera], DrawConfig())).image, image_a)


def test_axis_check_names_the_shape_lying_on_its_side(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for k in range(5):
        mesh = _chair()
        mesh.vertices = np.asarray(mesh.vertices) * (1.0 + 0.1 * rng.random(3))  # not all alike
        if k == 3:
            mesh.vertices = np.asarray(mesh.vertices) @ TO_Z_UP.T
        rows.append({"mesh": _write(tmp_path, f"c{k}", mesh).name, "id": f"c{k}", "category": "chair"})
    coll = load_collection(_manifest(tmp_path, rows))
    # the chair is tallest along Y (2.4 against about 1.0 across), so its long axis is Y, Z once turned
    assert principal_axes(coll.get("c0"))[0] == 1 and principal_axes(coll.get("c3"))[0] == 2
    verdict = axis_verdicts(coll.shapes)["chair"]
    assert verdict["verdict"] == "mixed" and verdict["disagree"] == ["c3"] and verdict["majority"][0] == "y"
    turned = orient(coll.get("c3"), axes_rotation("+z", "-y"))
    assert principal_axes(turned)[0] == 1
