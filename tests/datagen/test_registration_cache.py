"""The registration cache: a pair of shapes registered once, by content; what it gives back is what
``register`` computes, bit for bit."""

from dataclasses import replace

import numpy as np
import pytest

from sketchgen.datagen import registration_cache
from sketchgen.datagen.registration import register, register_points
from sketchgen.ingest.collection import load_collection
from sketchgen.ingest.sampling import sample_surface


def _copy(shape, **changes):
    """The same content (or with ``changes``) in a new object, as a fresh unit loads it."""
    return replace(shape, **{"vertices": shape.vertices.copy(), "faces": shape.faces.copy(), **changes})


@pytest.fixture
def pair(monkeypatch, tmp_path):
    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path))
    registration_cache._MEMORY.clear()
    chairs = load_collection().by_category()["chair"]
    return chairs[0], chairs[1], tmp_path


def test_a_registration_is_computed_once_and_read_back_exactly(pair, monkeypatch):
    a, b, cache = pair
    face, bary = sample_surface(a, 200, np.random.default_rng(0))
    want = register(a, b).map(face, bary)
    first = register_points(a, b, face, bary)
    files = list((cache / "registration").glob("*/*.npz"))
    assert len(files) == 1
    # new objects with the same content, nothing in memory: read from disk, never computed
    registration_cache._MEMORY.clear()
    monkeypatch.setattr("sketchgen.datagen.registration.register", lambda *a, **k: pytest.fail("computed again"))
    again = register_points(_copy(a), _copy(b), face, bary)
    for x, y, z in zip(want, first, again):
        assert np.array_equal(x, y) and np.array_equal(x, z)


def test_other_content_or_settings_is_another_key_and_a_damaged_file_is_replaced(pair):
    a, b, cache = pair
    key = registration_cache.registration_key(a, b, {})
    moved = _copy(a, vertices=a.vertices + [0.0, 1e-9, 0.0])
    assert registration_cache.registration_key(_copy(a), _copy(b), {}) == key
    assert registration_cache.registration_key(moved, b, {}) != key
    assert registration_cache.registration_key(b, a, {}) != key
    assert registration_cache.registration_key(a, b, {"samples": 500}) != key
    reg = registration_cache.cached_register(a, b)
    path = registration_cache._path(key)
    path.write_bytes(path.read_bytes()[:100])
    registration_cache._MEMORY.clear()
    again = registration_cache.cached_register(a, b)
    assert again is not reg and np.array_equal(again.alignments[-1].matrix, reg.alignments[-1].matrix)
    assert registration_cache.from_bytes(a, b, path.read_bytes()).pieces[0].a_faces.tolist() == \
        reg.pieces[0].a_faces.tolist()
    with pytest.raises(ValueError):
        registration_cache.from_bytes(a, b, b"not a file")
