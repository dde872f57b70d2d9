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

import numpy as np
import pytest
import trimesh

from sketchgen.render.camera import Camera


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
