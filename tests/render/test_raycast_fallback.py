"""Visibility without embree: trimesh's intersector behind the same scene call gives the same answers."""

import sys

import numpy as np
import trimesh

from sketchgen.render.camera import Camera
from sketchgen.render.prepared import PreparedMesh, TrimeshRayScene
from sketchgen.render.visibility import project_points


def _scene_of_two_boxes():
    near = trimesh.creation.box(extents=(1.0, 1.0, 0.2))
    far = trimesh.creation.box(extents=(3.0, 3.0, 0.2))
    far.apply_translation((0.0, 0.0, -2.0))
    return trimesh.util.concatenate([near, far])


def test_trimesh_scene_reports_the_first_face_within_reach():
    mesh = _scene_of_two_boxes()
    scene = TrimeshRayScene(mesh.vertices, mesh.faces)
    origins = np.array([[0.0, 0.0, 5.0], [1.2, 0.0, 5.0], [1.2, 0.0, 5.0], [2.5, 0.0, 5.0], [0.0, 0.0, 5.0]])
    dirs = np.array([[0.0, 0.0, -10.0]] * 5)
    # t = 0.49 reaches z = 0.1 (the near box's top face); t = 0.69 reaches z = -1.9 (the far box's top)
    prim = scene.run(origins, dirs, dists=np.array([0.5, 0.5, 0.9, 0.9, 0.48]))["primID"]
    top = mesh.triangles_center[:, 2]
    assert prim[0] >= 0 and np.isclose(top[prim[0]], 0.1)    # near box top, at t = 0.49
    assert prim[1] == -1                                       # beside the near box, far box beyond reach
    assert prim[2] >= 0 and np.isclose(top[prim[2]], -1.9)    # the far box's top, at t = 0.69
    assert prim[3] == -1                                       # beside both boxes
    assert prim[4] == -1                                       # stops just short of the near box


def test_visibility_is_the_same_without_embreex(monkeypatch):
    mesh = _scene_of_two_boxes()
    camera = Camera.looking_at((0.0, 0.0, 6.0), (0.0, 0.0, 0.0), width=64, height=64, yfov_deg=40.0)
    points, faces = trimesh.sample.sample_surface(mesh, 400, seed=1)
    with_embree = project_points(mesh, camera, points, faces=faces).visible
    monkeypatch.setitem(sys.modules, "embreex", None)  # import embreex now raises ImportError
    prep = PreparedMesh(mesh)
    assert isinstance(prep.ray_scene, TrimeshRayScene)
    without = project_points(mesh, camera, points, faces=faces, prepared=prep).visible
    assert with_embree.sum() > 100 and (~with_embree).sum() > 100
    assert np.mean(with_embree == without) > 0.99
