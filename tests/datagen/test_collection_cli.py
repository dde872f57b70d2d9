"""``sketchgen collection info``: the bundled collection's counts, a mixed directory, exit codes."""

import json
import re

from sketchgen.datagen.cli import main
from tests.datagen.test_collection import make_mixed_dir


def test_bundled_json(capsys):
    assert main(["collection", "info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    shapes = data["shapes"]
    assert all(set(s) == {"id", "path", "category", "faces", "parts", "keypoints", "status", "notes",
                                "checks", "removed"} for s in shapes)
    by_cat: dict[str, list] = {}
    for s in shapes:
        by_cat.setdefault(s["category"], []).append(s)
    assert len(by_cat) >= 4
    for rows in by_cat.values():
        assert len(rows) >= 12
        assert all(r["status"] == "ok" and r["parts"] >= 2 and r["keypoints"] >= 8 for r in rows)
    assert data["totals"]["ok"] == len(shapes) and data["totals"]["failed"] == 0


def test_mixed_directory_lists_both(tmp_path, capsys):
    root = make_mixed_dir(tmp_path / "coll")
    assert main(["collection", "info", str(root), "--json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    ok = [s for s in data["shapes"] if s["status"] == "ok"]
    failed = [s for s in data["shapes"] if s["status"] != "ok"]
    assert len(ok) == 4 and {s["category"] for s in ok} == {"chair", "table"}
    assert len(failed) >= 8 and all(s["faces"] is None for s in failed)
    assert "Traceback" not in captured.err
    assert main(["collection", "info", str(root)]) == 0
    text = capsys.readouterr().out
    assert "FAILED:" in text and "totals per category" in text
    assert re.search(r"chair\s+2 ok\s+0 warned\s+0 failed\s+24 faces", text)
    assert re.search(rf"bad\s+0 ok\s+0 warned\s+{len(failed)} failed", text)


def test_missing_path_exits_2(tmp_path, capsys):
    assert main(["collection", "info", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file or directory" in err
    assert main(["collection", "info", "--max-faces", "0"]) == 2


def test_faces_stored_twice_are_counted_as_removed(tmp_path, capsys, monkeypatch):
    """A box whose 12 triangles are each stored again with the opposite winding (double-sided export)."""
    import trimesh

    monkeypatch.setenv("SKETCHGEN_CACHE", str(tmp_path / "cache"))
    box = trimesh.creation.box()
    lines = [f"v {x} {y} {z}" for x, y, z in box.vertices]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in box.faces]
    lines += [f"f {c + 1} {b + 1} {a + 1}" for a, b, c in box.faces]
    (tmp_path / "coll").mkdir()
    (tmp_path / "coll" / "box.obj").write_text("\n".join(lines) + "\n")
    assert main(["collection", "info", str(tmp_path / "coll"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["shapes"]
    assert row["faces"] == 12 and row["removed"]["duplicate"] == 12
    assert main(["collection", "info", str(tmp_path / "coll")]) == 0
    assert "(12 duplicate faces removed)" in capsys.readouterr().out
