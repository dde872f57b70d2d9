"""Collections: many labelled shapes loaded at once, with every failure recorded, not raised.

``load_collection(path)`` accepts:

- ``None``: the bundled procedural collection (``ingest.procedural``), the default everywhere;
- a bundled-style spec JSON (``{"shapes": [{"id", "category", "params"}]}``);
- a manifest, CSV with a header or JSON (a list, or ``{"shapes": [...]}``), one row per shape with
  ``mesh`` (required; a mesh file or a PartNet directory), and optional ``category``, ``labels``,
  ``points`` (ShapeNet-Part ``.pts``; ``labels`` is then its ``.seg``), ``keypoints``, ``id`` and
  ``model_id``; relative paths are relative to the manifest;
- a trees file, JSON ``{"meshes": DIR, "part_labels": DIR}``: a ShapeNetCore tree and the ShapeNet-Part
  tree whose labels join it by model id (relative to the file);
- a directory: its ``manifest.csv``/``manifest.json`` when present, else the shapes of every dataset
  layout found below it (``ingest.layouts``: ShapeNetCore, ShapeNet-Part joined to it, PartNet,
  PartNet-Mobility, KeypointNet, COSEG, PSB, plain mesh files);
- a single mesh file.

Rows are loaded by ``ingest.loaders.load_row``; warnings about a shape's data are on its ``notes``
(``Collection.notes()``), and with ``strict`` they fail the shape instead.

Part labels that come with names (OBJ groups, PartNet) are renumbered per category so one name has
one label across its shapes, which is what matching parts by label needs.

Label semantics (``label_semantics``): whether a shape's labels name the same part across its category
("consistent": ShapeNet-Part, PartNet, COSEG, KeypointNet, named OBJ groups, the bundled shapes) or only
segment that shape ("per-shape": the Princeton Segmentation Benchmark's segment ids). The layout sets
it; a manifest's ``label_semantics`` column or ``--labels`` (``LoadOptions.labels``) declares it. Per-shape
labels are never matched by id across shapes (``datagen.flow.correspondence_method``).

Orientation (``ingest.orientation``): ``--up-axis`` / ``--front-axis`` (``LoadOptions``) and a manifest
row's ``up`` / ``front`` / ``rotation`` columns turn shapes so that their up is +Y, as the cameras assume.

Loading goes through ``ingest.index``: the collection's index (ids, categories, part names, kept
beside the collection) and the per-shape cache of converted arrays. Dataset builds use the index
alone and load the shapes a unit needs (``datagen.plan.load_shapes``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sketchgen.errors import InputError
from sketchgen.ingest.meshfile import MESH_SUFFIXES
from sketchgen.ingest.partmesh import PartMesh

log = logging.getLogger(__name__)

MANIFEST_NAMES = ("manifest.csv", "manifest.json")
CONSISTENT, PER_SHAPE = "consistent", "per-shape"
LABEL_SEMANTICS = (CONSISTENT, PER_SHAPE)
# layouts whose labels are segment ids of each shape, not part names shared across the category
PER_SHAPE_LAYOUTS = ("psb",)


@dataclass(frozen=True)
class LoadOptions:
    """How a collection's shapes are read beyond their files (the builders' configs carry the same
    fields). labels: declared label semantics for every row without its own ``label_semantics``
    column (None: as the layout says). up_axis / front_axis: the collection's up and front, among
    ``ingest.orientation.AXES`` (turned to +Y / +Z)."""

    labels: str | None = None
    up_axis: str = "+y"
    front_axis: str = "+z"

    def __post_init__(self):
        from sketchgen.ingest.orientation import axes_rotation

        if self.labels is not None and self.labels not in LABEL_SEMANTICS:
            raise ValueError(f"labels must be {' or '.join(LABEL_SEMANTICS)}, got {self.labels!r}")
        axes_rotation(self.up_axis, self.front_axis)  # ValueError naming a bad axis

    @classmethod
    def of(cls, config) -> "LoadOptions":
        """The options a builder config (with ``labels``, ``up_axis``, ``front_axis``) asks for."""
        return cls(getattr(config, "labels", None), getattr(config, "up_axis", "+y"),
                   getattr(config, "front_axis", "+z"))

    def rotation(self):
        """(3, 3) float64 rotation of the collection's axes, or None for the default ones."""
        from sketchgen.ingest.orientation import axes_rotation

        return None if (self.up_axis, self.front_axis) == ("+y", "+z") else axes_rotation(self.up_axis,
                                                                                           self.front_axis)


def label_semantics(row: dict, declared: str | None = None) -> str:
    """A row's label semantics: its ``label_semantics`` column, else ``declared`` (``--labels``), else
    "per-shape" for the layouts in ``PER_SHAPE_LAYOUTS`` and "consistent" for every other. Raises
    InputError naming the mesh when the column holds another value."""
    value = row.get("label_semantics") or declared
    if value is None:
        return PER_SHAPE if row.get("layout") in PER_SHAPE_LAYOUTS else CONSISTENT
    if value not in LABEL_SEMANTICS:
        raise InputError(f"{row.get('mesh')}: label_semantics must be {' or '.join(LABEL_SEMANTICS)}, "
                         f"got {value!r}")
    return value


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
    """Loaded shapes (in a deterministic order) and the failures. ``root``: what was loaded;
    ``layouts``: {dataset layout: rows found} (``ingest.layouts``; empty for the bundled collection)."""

    root: str
    shapes: list[PartMesh] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    layouts: dict[str, int] = field(default_factory=dict)

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

    def notes(self) -> list[dict]:
        """[{"shape", "file", "note"}]: every loaded shape's warnings (``PartMesh.notes``), in order."""
        return [{"shape": s.shape_id, "file": s.source, "note": n} for s in self.shapes for n in s.notes]

    def __len__(self) -> int:
        return len(self.shapes)


def load_collection(path=None, *, max_faces: int | None = None, progress: bool = False, strict: bool = False,
                    part_labels=None, options: LoadOptions | None = None) -> Collection:
    """Load a collection (see the module docstring for what ``path`` may be).

    max_faces: decimate meshes over this budget. strict: a shape whose data is in doubt (labelled
    points off the surface, a skipped PartNet leaf) fails instead of loading with a note.
    part_labels: a ShapeNet-Part tree joined to the ShapeNetCore meshes of directory ``path``.
    options: declared label semantics and orientation (``LoadOptions``). Bad shapes become ``Failure`` entries; an InputError is raised only when ``path`` itself cannot be
    read (missing, or an unreadable manifest). Files are indexed and converted shapes cached
    (``ingest.index``), so loading the same collection again is fast.
    """
    if path is None:
        # None: the shipped spec, or the spec it holds regenerated where an install left assets/ out
        return _from_spec(None, root="bundled", max_faces=max_faces, options=options)
    found = collection_rows(path, part_labels=part_labels)
    if found is None:
        return _from_spec(Path(path), root=str(path), max_faces=max_faces, options=options)
    rows, root = found
    return _load_rows(rows, root, max_faces, progress, strict, options)


def collection_rows(path, *, part_labels=None) -> tuple[list[dict], str] | None:
    """The rows of the collection at ``path`` (``ingest.layouts`` lists their keys) and what they were
    read from (a directory, a manifest, a trees file or a mesh file); None for a bundled-style spec
    JSON. part_labels: a ShapeNet-Part tree joined to the ShapeNetCore meshes of directory ``path``.
    Raises InputError when ``path`` cannot be read."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_dir():
        if part_labels is None:
            for name in MANIFEST_NAMES:
                if (path / name).is_file():
                    return read_collection_manifest(path / name), str(path / name)
        return scan_directory(path, part_labels=part_labels), str(path)
    if part_labels is not None:
        raise InputError(f"{path}: ShapeNet-Part labels join a directory of ShapeNetCore meshes, not a file")
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
        if isinstance(data, dict) and isinstance(data.get("meshes"), str):
            return _trees_rows(path, data), str(path)
        return read_collection_manifest(path), str(path)
    if suffix == ".csv":
        return read_collection_manifest(path), str(path)
    raise InputError(f"{path}: not a collection (expected a directory, a manifest .csv/.json or a mesh file)")


def scan_directory(root, *, part_labels=None) -> list[dict]:
    """One row per shape below ``root``, in a fixed order: ``ingest.layouts.discover`` (its docstring
    lists the layouts read and the row keys)."""
    from sketchgen.ingest.layouts import discover

    return discover(root, part_labels=part_labels)


def read_collection_manifest(path) -> list[dict]:
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
            if key in row and not isinstance(row[key], (str, Path)):
                raise InputError(f"{path}: row {k + 1}: \"{key}\" must be a file path, got {row[key]!r}")
            if key in row:
                row[key] = (path.parent / row[key]) if not Path(row[key]).is_absolute() else Path(row[key])
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------- helpers
def _from_spec(spec_path, root: str, max_faces, options: LoadOptions | None = None) -> Collection:
    from sketchgen.ingest import procedural
    from sketchgen.ingest.decimate import decimate
    from sketchgen.ingest.orientation import orient

    coll = Collection(root)
    for entry in procedural.load_spec(spec_path)["shapes"]:
        if not isinstance(entry, dict):
            entry = {"id": "?", "category": "unknown", "params": entry}
        try:
            shape = procedural.shape_from_spec(entry)
            shape = decimate(shape, max_faces) if max_faces else shape
            if options is not None:
                import dataclasses

                shape = dataclasses.replace(orient(shape, options.rotation()),
                                            label_semantics=options.labels or CONSISTENT)
            coll.shapes.append(shape)
        except (InputError, KeyError, TypeError, ValueError) as exc:
            where = f"{spec_path}#{entry.get('id', '?') if isinstance(entry, dict) else '?'}"
            coll.failures.append(Failure(where, f"{where}: {exc}", str(entry.get("category", "unknown")),
                                         str(entry.get("id", ""))))
    return coll


def _trees_rows(path: Path, spec: dict) -> list[dict]:
    """Rows of a trees file ``{"meshes": DIR, "part_labels": DIR}`` (paths relative to the file)."""
    def where(key):
        value = spec.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(f"{path}: \"{key}\" must be a directory path")
        return Path(value) if Path(value).is_absolute() else path.parent / value

    meshes = where("meshes")
    if not meshes.is_dir():
        raise InputError(f"{path}: \"meshes\" {meshes} is not a directory")
    return scan_directory(meshes, part_labels=where("part_labels"))


def _load_rows(rows: list[dict], root: str, max_faces, progress, strict: bool = False,
               options: LoadOptions | None = None) -> Collection:
    from tqdm import tqdm

    from sketchgen.ingest.index import build_index, index_file_for, load_entry
    from sketchgen.ingest.layouts import layout_counts

    index = build_index(rows, root, index_file_for(root), progress=progress)
    coll = Collection(root, failures=list(index.failures))
    for entry in tqdm(index.entries, desc="loading shapes", unit="shape", disable=not progress):
        try:
            coll.shapes.append(load_entry(index, entry, max_faces=max_faces, strict=strict, options=options))
        except InputError as exc:
            coll.failures.append(Failure(entry.mesh, str(exc), entry.category, entry.shape_id))
        except Exception as exc:  # a loader bug must not sink the batch: record it, keep the traceback in the log
            log.debug("loading %s failed", entry.mesh, exc_info=True)
            coll.failures.append(Failure(entry.mesh, f"{entry.mesh}: unexpected {type(exc).__name__}: {exc}",
                                         entry.category, entry.shape_id))
    coll.layouts = layout_counts(rows)
    return coll

