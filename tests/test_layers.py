"""The folders follow the data's flow, and imports only go down it:

    ingest (collections -> PartMesh) -> render (drawings) -> datagen (samples, shards) -> train (models)

with ``cli`` on top, and the shared ``sketchgen.errors``, ``sketchgen.files`` and ``sketchgen.named``
under everything. Every import counts, at module level or inside a function."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = {"errors", "files", "named"}
# what each layer may import besides itself and the shared modules
MAY_IMPORT = {
    "sketchgen": set(),
    "render": set(),
    "ingest": {"render"},  # mesh clean-up rules and the photo renderer's appearance record
    "datagen": {"ingest", "render"},
    "train": {"datagen", "render"},  # the shard schema; strokes re-rasterised at the model's size
    "cli": {"ingest", "render", "datagen", "train"},
}


def imported_layers(path: Path) -> dict[str, int]:
    """{sketchgen subpackage or module: first line importing it} of the Python file ``path``."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "sketchgen":
                names += [f"sketchgen.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "sketchgen" and len(parts) > 1:
                found.setdefault(parts[1], node.lineno)
    return found


def test_imports_follow_the_data_flow():
    wrong, seen = [], set()
    for layer, allowed in MAY_IMPORT.items():
        files = sorted((ROOT / layer).rglob("*.py"))
        assert files, layer
        for path in files:
            for target, line in imported_layers(path).items():
                seen.add((layer, target))
                if target not in allowed | SHARED | {layer}:
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports sketchgen.{target}")
    assert not wrong, wrong
    # the scan sees the imports it checks: the CLI reaches every layer, datagen reads ingest's collections
    assert {("cli", "train"), ("datagen", "ingest"), ("train", "datagen"), ("render", "errors")} <= seen


def test_the_scan_finds_a_function_level_import(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from sketchgen.train.loop import train\n    from sketchgen import errors\n")
    assert imported_layers(path) == {"train": 2, "errors": 3}


def test_every_sketchgen_module_imported_by_the_code_or_the_benches_exists():
    """A module moved to another layer leaves no import of its old path behind (in ``bench/`` too, which
    no test imports whole)."""
    import importlib.util

    modules: dict[str, str] = {}
    for folder in (*MAY_IMPORT, "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                module = node.module if isinstance(node, ast.ImportFrom) and node.level == 0 else None
                if (module or "").startswith("sketchgen."):
                    modules.setdefault(module, f"{path.relative_to(ROOT)}:{node.lineno}")
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith("sketchgen."):
                            modules.setdefault(alias.name, f"{path.relative_to(ROOT)}:{node.lineno}")
    assert {"sketchgen.cli.options", "sketchgen.ingest.collection"} <= set(modules)  # the scan sees what it checks
    missing = [where + " " + name for name, where in sorted(modules.items()) if importlib.util.find_spec(name) is None]
    assert not missing, missing
