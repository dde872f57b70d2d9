"""``sketchgen collection info``: the bundled collection's counts, a mixed directory, exit codes."""

import json
import re

from sketchgen.cli import main
from tests.ingest.test_collection import make_mixed_dir


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


def test_label_semantics_per_category_from_the_layout_and_declared(tmp_path, capsys):
    from tests.ingest.layout_trees import coseg, psb_benchmark

    psb_benchmark(tmp_path / "psb", {101: 2, 102: 3})
    coseg(tmp_path / "cs", {"chairs": 2})
    assert main(["collection", "info", str(tmp_path), "--json"]) == 0
    cats = json.loads(capsys.readouterr().out)["categories"]
    assert cats["chair"]["labels"] == "per-shape" and cats["chairs"]["labels"] == "consistent"
    assert cats["chair"]["aligned"] and cats["chair"]["shapes"] == 2 and 0 <= cats["chair"]["cross_shape"] <= 2
    # --labels declares every row without its own column; a manifest's column wins over it
    assert main(["collection", "info", str(tmp_path / "cs"), "--json", "--labels", "per-shape", "--no-checks"]) == 0
    cats = json.loads(capsys.readouterr().out)["categories"]
    assert cats["chairs"]["labels"] == "per-shape" and not cats["chairs"]["aligned"]
    assert main(["collection", "info", str(tmp_path / "psb"), "--labels", "consistent", "--no-checks"]) == 0
    assert re.search(r"chair\s+labels consistent", capsys.readouterr().out)
    (tmp_path / "m.csv").write_text("mesh,category,label_semantics\npsb/off/101.off,chair,per-shape\n"
                                    "psb/off/102.off,chair,consistent\n")
    assert main(["collection", "info", str(tmp_path / "m.csv"), "--json", "--labels", "per-shape", "--no-checks"]) == 0
    assert json.loads(capsys.readouterr().out)["categories"]["chair"]["labels"] == "mixed"
    (tmp_path / "bad.csv").write_text("mesh,label_semantics\npsb/off/101.off,sometimes\n")
    assert main(["collection", "info", str(tmp_path / "bad.csv"), "--json", "--no-checks"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["shapes"]
    assert "label_semantics must be consistent or per-shape" in row["status"]


def test_collection_info_names_the_rotated_shape_and_takes_up_axis(tmp_path, capsys):
    import numpy as np

    from tests.ingest.test_orientation import TO_Z_UP, _chair

    for k in range(4):
        mesh = _chair()
        mesh.vertices = np.asarray(mesh.vertices) * [1.0, 1.0 + 0.05 * k, 1.0]
        if k == 2:
            mesh.vertices = np.asarray(mesh.vertices) @ TO_Z_UP.T
        mesh.export(tmp_path / f"c{k}.off")
    (tmp_path / "manifest.csv").write_text("mesh,id,category\n" + "".join(f"c{k}.off,c{k},chair\n" for k in range(4)))
    assert main(["collection", "info", str(tmp_path), "--no-checks"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"chair\s+labels consistent\s+not checked\s+orientation mixed \(1 off\)", out)
    assert re.search(r"main axes \(bounding box\) of c2 disagree", out)
    # the whole collection turned (+Z up): c2 stands upright, the three others' long axis is Z now
    assert main(["collection", "info", str(tmp_path), "--json", "--up-axis=+z", "--front-axis=-y"]) == 0
    cat = json.loads(capsys.readouterr().out)["categories"]["chair"]
    assert cat["orientation_axes"][0] == "z" and cat["orientation_disagree"] == ["c2"]
    assert main(["collection", "info", str(tmp_path), "--up-axis", "+z", "--front-axis", "+z"]) == 2
