"""One import namespace: ``sketchgen.render``, ``sketchgen.datagen`` and ``sketchgen.train``, and
nothing else at top level, so a user's own ``train.py`` or ``render.py`` never shadows them."""

import os
import subprocess
import sys
from importlib import metadata

USER_SCRIPTS = {"train.py": "raise SystemExit('the user train.py was imported')\n",
                "render.py": "raise SystemExit('the user render.py was imported')\n",
                "datagen.py": "raise SystemExit('the user datagen.py was imported')\n"}


def test_subpackages_import_beside_a_users_train_and_render_scripts(tmp_path):
    for name, text in USER_SCRIPTS.items():
        (tmp_path / name).write_text(text)
    code = ("import sketchgen.train.data, sketchgen.render.camera, sketchgen.datagen.collection, sketchgen\n"
            "print(sketchgen.train.__name__, sketchgen.render.__name__, sketchgen.datagen.__name__,"
            " sketchgen.load_collection.__module__)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["sketchgen.train", "sketchgen.render", "sketchgen.datagen",
                                   "sketchgen.datagen.collection"]


def test_the_distribution_installs_only_sketchgen_at_top_level(tmp_path):
    top = metadata.distribution("sketchgen").read_text("top_level.txt")
    assert top is not None and top.split() == ["sketchgen"]
    # from a folder with no user scripts, the old top-level names are not importable at all
    code = "import importlib.util as u; print([u.find_spec(n) is None for n in ('render', 'datagen', 'train')])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[True, True, True]", proc.stderr


def test_importing_sketchgen_loads_neither_opengl_nor_torch(tmp_path):
    code = "import sys, sketchgen; print('OpenGL' in sys.modules, 'torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False False", proc.stderr


def test_a_wheel_ships_the_bundled_collection(tmp_path):
    """A non-editable install (a wheel, as pip installs from an index) holds assets/bundled/collection.json
    where datagen.procedural looks for it, so the demo's collection loads outside the source tree."""
    import zipfile
    from pathlib import Path

    import shutil

    # built from a copy of the sources: no stale build/ of the checkout can slip into the wheel
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".*", "out", "build", "*.egg-info", "__pycache__",
                                                             "tests"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    wheel, = (tmp_path / "dist").glob("sketchgen-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert "sketchgen/assets/bundled/collection.json" in z.namelist()
        z.extractall(tmp_path / "site")
    code = ("import sketchgen.datagen.procedural as p; from sketchgen import load_collection\n"
            "c = load_collection(); print(p.SPEC_PATH.is_file(), str(p.SPEC_PATH).startswith(%r), len(c.shapes))"
            % str(tmp_path / "site"))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", "60"]


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
