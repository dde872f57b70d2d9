"""Atomic writes: the file appears whole or not at all, and nothing temporary is left behind."""

import pytest

from sketchgen.files import atomic_target, atomic_write, temporary_name


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "deep" / "out.json"
    assert atomic_write(path, "first\n") == path and path.read_text() == "first\n"
    atomic_write(path, b"\x00second")
    assert path.read_bytes() == b"\x00second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "shard.tar"
    atomic_write(path, b"old")
    with pytest.raises(OSError, match="disk full"):
        with atomic_target(path) as tmp:
            assert tmp == temporary_name(path) and tmp.name.startswith(".shard.tar.tmp")
            tmp.write_bytes(b"half of the new")
            raise OSError(28, "disk full")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["shard.tar"]
