"""``sketchgen draw`` against Blender (an independent renderer) on meshes and cameras sketchgen's other
tests never use. Skipped where Debian's ``blender`` is not installed; the full check with timings is
bench/compare_blender.py."""

import json
import shutil

import numpy as np
import pytest
import trimesh

from bench.blender import agreement
from bench.compare_blender import read_gray, run_blender, run_sketchgen, view_paths

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("blender") is None, reason="Debian's blender is not installed")]


@pytest.mark.parametrize("name", ["box_stack", "coarse_ellipsoid", "dome"])
def test_draw_agrees_with_blender(name, tmp_path):
    item = next(m for m in agreement.unseen_meshes(np.random.default_rng(7)) if m.name == name)
    rng = np.random.default_rng(11)
    mesh_path = tmp_path / f"{name}.obj"
    agreement.write_obj(item.mesh, mesh_path)
    mesh = trimesh.load_mesh(mesh_path, process=False)
    cams = agreement.random_cameras(mesh, rng, 2)  # one perspective, one orthographic
    (tmp_path / "cams.json").write_text(json.dumps(cams))
    points, faces = trimesh.sample.sample_surface(mesh, 400, seed=5)
    np.save(tmp_path / "points.npy", np.asarray(points, dtype=np.float64))
    (tmp_path / "points.json").write_text(json.dumps(np.asarray(points).tolist()))

    theirs = run_blender(shutil.which("blender"), mesh_path, tmp_path / "cams.json", tmp_path / "points.json",
                         tmp_path / "blender.png", smooth=item.smooth, samples=1)
    run_sketchgen(mesh_path, tmp_path / "cams.json", tmp_path / "points.npy", tmp_path / "ours.png")

    for cam, ref, png in zip(cams, theirs["views"], view_paths(tmp_path / "ours.png", 2)):
        ours = json.loads(png.with_suffix(".points.json").read_text())
        ref_xy = np.asarray(ref["xy"])
        ref_depth = np.asarray(ref["depth"])
        # both are exact projections: a half-pixel or aspect mistake would show as >= 0.5 px
        assert np.abs(np.asarray(ours["xy"], dtype=np.float64) - ref_xy).max() < 0.01
        assert np.abs(np.asarray(ours["depth"], dtype=np.float64) - ref_depth).max() < 1e-4

        visible_ref, unambiguous = agreement.reference_visibility(mesh, cam, points, faces, ref_xy, ref_depth)
        visible = np.asarray(ours["visible"], dtype=bool)
        assert unambiguous.sum() > 250 and 50 < visible_ref.sum() < 350
        assert (visible == visible_ref)[unambiguous].mean() >= 0.99

        ours_lines = agreement.line_pixels(read_gray(png))
        their_lines = agreement.line_pixels(read_gray(ref["png"]))
        assert their_lines.sum() > 150
        lines = agreement.line_agreement(ours_lines, their_lines)
        assert lines.f1 >= 0.95, (cam, lines)
        # the same lines drawn 3 px off would fail: the measure is not trivially satisfied
        assert agreement.line_agreement(np.roll(ours_lines, 3, axis=1), their_lines).f1 < 0.9
