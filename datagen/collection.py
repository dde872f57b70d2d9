"""Collections: many labelled shapes loaded at once, with every failure recorded, not raised.

``load_collection(path)`` accepts:

- ``None``: the bundled procedural collection (``datagen.procedural``), the default everywhere;
- a bundled-style spec JSON (``{"shapes": [{"id", "category", "params"}]}``);
- a manifest, CSV with a header or JSON (a list, or ``{"shapes": [...]}``), one row per shape with
  ``mesh`` (required; a mesh file or a PartNet directory), and optional ``category``, ``labels``,
  ``points`` (ShapeNet-Part ``.pts``; ``labels`` is then its ``.seg``), ``keypoints``, ``id`` and
  ``model_id``; relative paths are relative to the manifest;
- a directory: its ``manifest.csv``/``manifest.json`` when present, else every mesh file below it
  (sorted; labels and keypoints found beside each by ``datagen.loaders``' conventions) and every
  PartNet shape directory (``result.json`` + ``objs/``); the category is the ShapeNet synset or
  directory name;
- a single mesh file.

Part labels that come with names (OBJ groups, PartNet) are renumbered per category so one name has
one label across its shapes, which is what matching parts by label needs.

Loading goes through ``datagen.index``: the collection's index (ids, categories, part names, kept
beside the collection) and the per-shape cache of converted arrays. Dataset builds use the index
alone and load the shapes a unit needs (``datagen.plan.load_shapes``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sketchgen.datagen.meshfile import MESH_SUFFIXES
from sketchgen.datagen.partmesh import PartMesh
from sketchgen.render.errors import InputError

log = logging.getLogger(__name__)

MANIFEST_NAMES = ("manifest.csv", "manifest.json")


@dataclass(frozen=True)
class Failure:
    """A shape that could not be loaded: its file, the reason (one line naming the file) and the
    category it would have had."""

    path: str
    reason: str
    category: str = "unknown"
    shape_id: str = ""


@dataclass
class Collection:
    """Loaded shapes (in a deterministic order) and the failures. ``root``: what was loaded."""

    root: str
    shapes: list[PartMesh] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def categories(self) -> list[str]:
        return sorted({s.category for s in self.shapes})

    def by_category(self) -> dict[str, list[PartMesh]]:
        """{category: [shapes in collection order]}, categories sorted."""
        out: dict[str, list[PartMesh]] = {c: [] for c in self.categories()}
        for s in self.shapes:
            out[s.category].append(s)
        return out

    def get(self, shape_id: str) -> PartMesh:
        for s in self.shapes:
            if s.shape_id == shape_id:
                return s
        raise KeyError(shape_id)

    def __len__(self) -> int:
        return len(self.shapes)


def load_collection(path=None, *, max_faces: int | None = None, progress: bool = False) -> Collection:
    """Load a collection (see the module docstring for what ``path`` may be).

    max_faces: decimate meshes over this budget. Bad shapes become ``Failure`` entries; an InputError is
    raised only when ``path`` itself cannot be read (missing, or an unreadable manifest). Files are
    indexed and converted shapes cached (``datagen.index``), so loading the same collection again is fast.
    """
    from sketchgen.datagen import procedural

    if path is None:
        return _from_spec(procedural.SPEC_PATH, root="bundled", max_faces=max_faces)
    found = collection_rows(path)
    if found is None:
        return _from_spec(Path(path), root=str(path), max_faces=max_faces)
    rows, root = found
    return _load_rows(rows, root, max_faces, progress)


def collection_rows(path) -> tuple[list[dict], str] | None:
    """The manifest rows of the collection at ``path`` and what they were read from (a directory, a
    manifest or a mesh file); None for a bundled-style spec JSON. Raises InputError when ``path``
    cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        for name in MANIFEST_NAMES:
            if (path / name).is_file():
                return read_manifest(path / name), str(path / name)
        if (path / "result.json").is_file():
            return [{"mesh": path}], str(path)
        return scan_directory(path), str(path)
    suffix = path.suffix.lower()
    if suffix in MESH_SUFFIXES:
        return [{"mesh": path}], str(path)
    if suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: cannot read as JSON ({exc})") from None
        if isinstance(data, dict) and data.get("shapes") and isinstance(data["shapes"], list) \
                and all(isinstance(e, dict) and "params" in e for e in data["shapes"]):
            return None
        return read_manifest(path), str(path)
    if suffix == ".csv":
        return read_manifest(path), str(path)
    raise InputError(f"{path}: not a collection (expected a directory, a manifest .csv/.json or a mesh file)")


def scan_directory(root) -> list[dict]:
    """Manifest rows for every mesh file and PartNet directory below ``root``, sorted by path."""
    root = Path(root)
    rows: list[dict] = []
    partnet_dirs = sorted(p.parent for p in root.rglob("result.json") if (p.parent / "objs").is_dir())
    for p in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in p.relative_to(root).parts):
            continue
        if any(d == p or d in p.parents for d in partnet_dirs):
            if p in partnet_dirs:
                rows.append({"mesh": p, "category": _category_under(root, p)})
            continue
        if p.is_file() and p.suffix.lower() in MESH_SUFFIXES:
            rows.append({"mesh": p, "category": _category_under(root, p)})
    return rows


def read_manifest(path) -> list[dict]:
    """Rows of a CSV (with header) or JSON manifest; relative paths resolved against its directory."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as fh:
                rows = [dict(r) for r in csv.DictReader(fh)]
        else:
            data = json.loads(path.read_text())
            rows = data.get("shapes") if isinstance(data, dict) else data
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read manifest ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path}: a manifest is a list of rows")
    out = []
    for k, row in enumerate(rows):
        row = {key.strip(): (v.strip() if isinstance(v, str) else v)
               for key, v in row.items() if key and v not in (None, "")}
        if "mesh" not in row:
            raise InputError(f"{path}: row {k + 1} has no \"mesh\"")
        for key in ("mesh", "labels", "points", "keypoints"):
            if key in row:
                row[key] = (path.parent / row[key]) if not Path(row[key]).is_absolute() else Path(row[key])
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------- helpers
def _from_spec(spec_path, root: str, max_faces) -> Collection:
    from sketchgen.datagen import procedural
    from sketchgen.datagen.decimate import decimate

    coll = Collection(root)
    for entry in procedural.load_spec(spec_path)["shapes"]:
        if not isinstance(entry, dict):
            entry = {"id": "?", "category": "unknown", "params": entry}
        try:
            shape = procedural.shape_from_spec(entry)
            coll.shapes.append(decimate(shape, max_faces) if max_faces else shape)
        except (InputError, KeyError, TypeError, ValueError) as exc:
            where = f"{spec_path}#{entry.get('id', '?') if isinstance(entry, dict) else '?'}"
            coll.failures.append(Failure(where, f"{where}: {exc}", str(entry.get("category", "unknown")),
                                         str(entry.get("id", ""))))
    return coll


def _load_rows(rows: list[dict], root: str, max_faces, progress) -> Collection:
    from tqdm import tqdm

    from sketchgen.datagen.index import build_index, index_file_for, load_entry

    index = build_index(rows, root, index_file_for(root), progress=progress)
    coll = Collection(root, failures=list(index.failures))
    for entry in tqdm(index.entries, desc="loading shapes", unit="shape", disable=not progress):
        try:
            coll.shapes.append(load_entry(index, entry, max_faces=max_faces))
        except InputError as exc:
            coll.failures.append(Failure(entry.mesh, str(exc), entry.category, entry.shape_id))
        except Exception as exc:  # a loader bug must not sink the batch: record it, keep the traceback in the log
            log.debug("loading %s failed", entry.mesh, exc_info=True)
            coll.failures.append(Failure(entry.mesh, f"{entry.mesh}: unexpected {type(exc).__name__}: {exc}",
                                         entry.category, entry.shape_id))
    return coll


def _category_under(root: Path, p: Path) -> str | None:
    """A scanned file's category: its top directory under ``root`` (a ShapeNet synset is named); None
    for a file directly in ``root`` (the loader then asks the keypoints' class or the path)."""
    from sketchgen.datagen.loaders import SHAPENET_SYNSETS

    rel = p.relative_to(root).parts
    if len(rel) > 1:
        return SHAPENET_SYNSETS.get(rel[0], rel[0].lower())
    return None
