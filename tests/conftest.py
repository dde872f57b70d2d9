"""Procedural meshes and cameras shared by the tests."""

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# the collection index and shape cache of read-only fixtures go here, not into the user's cache
if "SKETCHGEN_CACHE" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["SKETCHGEN_CACHE"] = tempfile.mkdtemp(prefix="sketchgen-test-cache-")
    atexit.register(shutil.rmtree, os.environ["SKETCHGEN_CACHE"], True)

from pathlib import Path

import numpy as np
import pytest
import trimesh

from sketchgen.render.camera import Camera

# Tests that take several seconds on a quiet 2-core machine (training until a loss falls, subprocesses
# killed by signals, Dask clusters, wheels installed into fresh environments): `make test-fast` leaves
# them out (-m "not slow"), `make test` and CI run them. Listed by test function, marked at collection.
SLOW_TESTS = {
    "test_warp_loss_falls_on_a_tiny_set", "test_pixel_flow_loss_both_ways_falls_on_a_tiny_affine_set",
    "test_bad_input_is_one_line_and_exit_2", "test_sigkilled_run_resumes_to_identical_output",
    "test_dask_local_cluster_with_a_killed_worker_matches_joblib", "test_descriptor_loss_falls_on_a_tiny_set",
    "test_subpackages_import_beside_a_users_train_and_render_scripts",
    "test_dask_killed_worker_is_one_failed_unit_and_the_manifest_is_written",
    "test_the_commands_of_a_wheel_installed_into_a_fresh_virtualenv",
    "test_descriptor_loss_falls_on_the_points_of_a_tiny_pair_set", "test_a_unit_that_kills_its_worker_every_time_fails_alone",
    "test_two_joblib_workers_with_one_killed_match_one_process", "test_workers_end_with_their_parent",
    "test_a_wheel_ships_the_bundled_collection", "test_render_picks_headless_egl_before_opengl_and_pyglet_load",
    "test_subprocess_bad_input_prints_one_line_without_traceback", "test_the_command_line_exits_2_with_the_one_line_reason",
    "test_no_module_uses_a_submodule_it_never_imports",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if getattr(item, "originalname", item.name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def sphere() -> trimesh.Trimesh:
    """Unit icosphere centred at the origin (5120 faces)."""
    return trimesh.creation.icosphere(subdivisions=4, radius=1.0)


@pytest.fixture
def cube() -> trimesh.Trimesh:
    """Axis-aligned cube of side 1 centred at the origin (12 faces, 12 crease edges)."""
    return trimesh.creation.box(extents=(1.0, 1.0, 1.0))


@pytest.fixture
def torus() -> trimesh.Trimesh:
    return trimesh.creation.torus(major_radius=0.7, minor_radius=0.25, major_sections=64, minor_sections=32)


@pytest.fixture
def front_camera() -> Camera:
    """Perspective camera on +Z at distance 3 looking at the origin, 256x256, 40 degrees."""
    return Camera.looking_at((0.0, 0.0, 3.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), width=256, height=256,
                             yfov_deg=40.0)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
