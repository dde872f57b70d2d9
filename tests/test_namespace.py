"""One import namespace: ``sketchgen.render``, ``sketchgen.datagen``, ``sketchgen.train`` and
``sketchgen.cli``, and nothing else at top level, so a user's own ``train.py`` or ``render.py`` never
shadows them."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

USER_SCRIPTS = {"train.py": "raise SystemExit('the user train.py was imported')\n",
                "render.py": "raise SystemExit('the user render.py was imported')\n",
                "datagen.py": "raise SystemExit('the user datagen.py was imported')\n",
                "cli.py": "raise SystemExit('the user cli.py was imported')\n"}


def test_subpackages_import_beside_a_users_train_and_render_scripts(tmp_path):
    for name, text in USER_SCRIPTS.items():
        (tmp_path / name).write_text(text)
    code = ("import sketchgen.train.shards, sketchgen.render.camera, sketchgen.ingest.collection, sketchgen\n"
            "import sketchgen.cli.options\n"
            "print(sketchgen.train.__name__, sketchgen.render.__name__, sketchgen.datagen.__name__,"
            " sketchgen.cli.__name__, sketchgen.load_collection.__module__)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["sketchgen.train", "sketchgen.render", "sketchgen.datagen", "sketchgen.cli",
                                   "sketchgen.ingest.collection"]


def test_the_distribution_installs_only_sketchgen_at_top_level(tmp_path):
    top = metadata.distribution("sketchgen").read_text("top_level.txt")
    assert top is not None and top.split() == ["sketchgen"]
    # from a folder with no user scripts, the old top-level names are not importable at all
    code = "import importlib.util as u; print([u.find_spec(n) is None for n in ('render', 'datagen', 'train', 'cli')])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[True, True, True, True]", proc.stderr


def test_importing_sketchgen_loads_neither_opengl_nor_torch(tmp_path):
    code = "import sys, sketchgen; print('OpenGL' in sys.modules, 'torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False False", proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of the sources, built as a user's ``pip wheel .`` builds it (no editable install)."""
    # built from a copy of the sources: no stale build/ of the checkout can slip into the wheel
    tmp = tmp_path_factory.mktemp("wheel")
    root = Path(__file__).resolve().parents[1]
    src = tmp / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".*", "out", "build", "*.egg-info", "__pycache__",
                                                             "tests", "bench"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found, = (tmp / "dist").glob("sketchgen-*.whl")
    return found


def test_a_wheel_ships_the_bundled_collection(tmp_path, wheel):
    """A non-editable install (a wheel, as pip installs from an index) holds assets/bundled/collection.json
    where ingest.procedural looks for it, so the demo's collection loads outside the source tree."""
    with zipfile.ZipFile(wheel) as z:
        assert "sketchgen/assets/bundled/collection.json" in z.namelist()
        # the presets --preset names, and the demo builds from (cli/presets.py)
        from sketchgen.cli.presets import PRESET_DIR

        shipped = sorted(f"sketchgen/cli/presets/{p.name}" for p in PRESET_DIR.glob("*.toml"))
        assert shipped and set(shipped) <= set(z.namelist())
        z.extractall(tmp_path / "site")
    code = ("import sketchgen.ingest.procedural as p; from sketchgen import load_collection\n"
            "c = load_collection(); print(p.SPEC_PATH.is_file(), str(p.SPEC_PATH).startswith(%r), len(c.shapes))"
            % str(tmp_path / "site"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "60"]


@pytest.mark.slow  # about 20 s: a wheel build and a fresh environment; `make test` runs it
def test_the_commands_of_a_wheel_installed_into_a_fresh_virtualenv(tmp_path, wheel):
    """``pip install sketchgen-*.whl`` into a new virtualenv, then its ``sketchgen`` script, run from a
    folder outside the sources: what a user of a wheel gets (an editable install hides import mistakes
    such as a submodule used but never imported). The dependencies are not installed again (offline and
    quick): the new environment sees this interpreter's site-packages through a ``.pth`` file, whose own
    ``.pth`` files (this checkout's editable install) Python does not process, so sketchgen itself can only
    come from the wheel."""
    import site
    import sysconfig
    import venv

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (Path(purelib) / "deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    script = env_dir / "bin" / "sketchgen"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}

    def run(*args):
        return subprocess.run([str(script), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env=env)

    where = subprocess.run([str(python), "-c", "import sketchgen; print(sketchgen.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, env=env)
    assert where.stdout.strip().startswith(purelib), where.stdout + where.stderr
    helped = run("--help")
    assert helped.returncode == 0, helped.stderr
    assert all(name in helped.stdout for name in ("draw", "collection", "triplets", "pairs", "train"))
    # a tetrahedron the test writes, listed and drawn by the installed commands
    mesh = tmp_path / "tet.off"
    mesh.write_text("OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2 1\n3 0 1 3\n3 0 3 2\n3 1 2 3\n")
    info = run("collection", "info", str(mesh), "--json")
    assert info.returncode == 0, info.stderr
    row, = json.loads(info.stdout)["shapes"]
    assert (row["faces"], row["status"]) == (4, "ok")
    camera = tmp_path / "camera.json"
    camera.write_text(json.dumps({"position": [2.0, 1.5, 2.5], "look_at": [0.25, 0.25, 0.25], "up": [0, 1, 0],
                                  "width": 64, "height": 64, "yfov_deg": 40.0}))
    drawn = run("draw", str(mesh), "--camera", str(camera), "--out", str(tmp_path / "tet.png"))
    assert drawn.returncode == 0, drawn.stderr
    assert (tmp_path / "tet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_picks_headless_egl_before_opengl_and_pyglet_load(tmp_path):
    """sketchgen.render sets PYOPENGL_PLATFORM=egl and PYGLET_HEADLESS=1 unless the user set them, so
    pyrender's import needs no X11 libraries (a GPU server without libXrender)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYOPENGL_PLATFORM", "PYGLET_HEADLESS")}
    code = ("import os, sketchgen.render, pyrender, pyglet\n"
            "print(os.environ['PYOPENGL_PLATFORM'], os.environ['PYGLET_HEADLESS'], pyglet.options['headless'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["egl", "1", "True"]


def test_no_module_uses_a_submodule_it_never_imports():
    """``import pkg`` then ``pkg.sub.f()`` works only while something else happened to import ``pkg.sub``
    (an editable install's finder imports ``importlib.util``): every ``pkg.sub`` that a sketchgen module
    reaches through a plain ``import pkg`` of the standard library must be imported by that module or be loaded
    by ``pkg`` itself."""
    import ast

    root = Path(__file__).resolve().parents[1]
    candidates: dict[str, list[str]] = {}
    for folder in ("sketchgen", "render", "datagen", "train", "cli"):
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), str(path))
            plain, loaded = set(), set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.asname is None:
                            plain.add(alias.name.split(".")[0])
                            parts = alias.name.split(".")
                            loaded.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in plain:
                    dotted = f"{node.value.id}.{node.attr}"
                    if dotted not in loaded:
                        candidates.setdefault(dotted, []).append(f"{path.relative_to(root)}:{node.lineno}")
    # the standard library's packages: third-party ones (scipy, skimage) load their submodules lazily
    submodules = [d for d in sorted(candidates) if d.split(".")[0] in sys.stdlib_module_names and _is_submodule(d)]
    assert "os.path" in submodules  # the scan finds the uses it checks
    # one fresh interpreter per package, without site (which itself imports importlib.util)
    missing = []
    path = os.pathsep.join(p for p in sys.path if p)
    for pkg in sorted({d.split(".")[0] for d in submodules}):
        subs = [d.split(".")[1] for d in submodules if d.startswith(pkg + ".")]
        code = f"import {pkg}; print(' '.join(s for s in {subs!r} if not hasattr({pkg}, s)))"
        proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": path}, cwd=root.parent)
        assert proc.returncode == 0, proc.stderr
        missing += [f"{pkg}.{s}" for s in proc.stdout.split()]
    assert not missing, {d: candidates[d] for d in missing}


def _is_submodule(dotted: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError, AttributeError):
        return False
