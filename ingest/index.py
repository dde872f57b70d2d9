"""The collection index and the per-shape cache: what a run knows about a collection without holding it.

``collection_index(path)`` makes one pass over a collection's rows (``ingest.collection``'s
discovery) and records per shape its files, category, id, a content hash of the files' bytes
(SHA-256) and their size. Where the layout names the shape (a row's ``id``, a ShapeNet/KeypointNet
hash in the path, a PartNet directory) no mesh is built; otherwise (loose meshes whose id is a hash of
their arrays, OBJ files whose groups name the parts, meshes with keypoint files) the shape is loaded
once and its converted arrays go to the per-shape cache, so that pass is also the warm-up. Failures
(a file that cannot be read, a mesh that does not load) are recorded with their one-line reason.

The index is written (temporary name, then rename) to ``.sketchgen-index.json`` in the collection
directory (``.<manifest>.sketchgen-index.json`` beside a manifest file), or, when that directory is
read-only, under the user cache directory. A later command re-runs discovery (a directory listing),
compares each row's files by size, modification time and mode, and re-indexes only the rows whose
files changed, so a second command on the same collection starts at once.

The per-shape cache holds a loaded shape's ``PartMesh`` arrays as ``.npz``, keyed by the content hash
and the loader's inputs (``max_faces``, the row's id/category/model id, what the path says) and
written atomically. Both caches are keyed by the loader modules' source too (``LOADER_MODULES``), so
new loading code never reads arrays the old code converted. Its folder is
``$SKETCHGEN_CACHE`` when set (``off`` disables both caches' user-directory files), else
``$XDG_CACHE_HOME/sketchgen``, else ``~/.cache/sketchgen``.

``IndexedShapes`` is the lazy ``{shape_id: PartMesh}`` the dataset builders read: it knows every id
and category from the index and loads a shape (from the cache) only when asked, keeping a few.

Collection-wide facts come from the index, not from the meshes: unique ids (a repeated id gets
``-2``, ``-3``...), and the per-category numbering of named parts (one name, one label).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import re
import stat
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from sketchgen.errors import InputError
from sketchgen.files import atomic_write
from sketchgen.ingest.collection import Failure, collection_rows
from sketchgen.ingest.keypoints import Keypoints
from sketchgen.ingest.loaders import BESIDE_LAYOUTS
from sketchgen.ingest.partmesh import PartMesh

log = logging.getLogger(__name__)

INDEX_NAME = ".sketchgen-index.json"
# bump when what the index or the cache stores changes meaning
FORMAT = 1
# loaded shapes an IndexedShapes keeps: a unit uses its own shape and one partner
KEEP_SHAPES = 4
# files beside a mesh that the loaders read (ingest.loaders' conventions)
BESIDE_SUFFIXES = (".seg", ".txt", ".npy", ".pts", ".keypoints.json", ".json")


@dataclass(frozen=True)
class IndexEntry:
    """One loadable shape of a collection.

    shape_id: unique within the collection.   category: str.   mesh: the mesh file or PartNet directory.
    row: the discovery row as strings (``mesh``, optional ``labels``, ``points``, ``keypoints``,
    ``model_id``, ``id``, ``category``): what loading it needs.   content_hash: SHA-256 hex of its files'
    bytes.   size: their total size in bytes.   part_names: the names of its labelled parts, sorted,
    when its parts are named (OBJ groups, PartNet), else None.
    """

    shape_id: str
    category: str
    mesh: str
    row: dict
    content_hash: str
    size: int
    part_names: tuple[str, ...] | None = None


@dataclass
class CollectionIndex:
    """Every shape of a collection as an ``IndexEntry`` (collection order, ids unique) and the failures.

    root: the collection as given.   where: the index file (None when it was not written).
    rebuilt: rows indexed in this pass (0 when every row came from the index file).
    """

    root: str
    entries: list[IndexEntry]
    failures: list[Failure]
    where: str | None = None
    rebuilt: int = 0

    def __post_init__(self):
        self._by_id = {e.shape_id: e for e in self.entries}
        names: dict[str, set[str]] = {}
        for e in self.entries:
            if e.part_names is not None:
                names.setdefault(e.category, set()).update(e.part_names)
        self.category_parts = {c: sorted(n) for c, n in sorted(names.items())}

    def entry(self, shape_id: str) -> IndexEntry:
        return self._by_id[shape_id]

    def __contains__(self, shape_id) -> bool:
        return shape_id in self._by_id

    def __len__(self) -> int:
        return len(self.entries)


# ------------------------------------------------------------------------------------------- building
def index_file_for(root) -> Path | None:
    """Where the index of the collection read from ``root`` (a directory or a manifest) is kept:
    ``<dir>/.sketchgen-index.json`` or ``.<manifest>.sketchgen-index.json`` beside a manifest; None for a
    single mesh file or PartNet shape (nothing to reuse)."""
    root = Path(root)
    if root.is_dir():
        return None if (root / "result.json").is_file() else root / INDEX_NAME
    if root.suffix.lower() in (".csv", ".json"):
        return root.with_name(f".{root.name}{INDEX_NAME}")
    return None


def collection_index(path, *, progress: bool = False, cache_dir: Path | None | str = "auto") -> CollectionIndex:
    """Index the collection at ``path`` (a directory, a manifest or a mesh file; see
    ``ingest.collection``), reusing its index file for every row whose files are unchanged.
    cache_dir: the per-shape cache folder ("auto": the user cache, see the module docstring; None: no
    per-shape cache). Raises InputError when ``path`` itself cannot be read or is a bundled-style spec."""
    found = collection_rows(path)
    if found is None:
        raise InputError(f"{path}: a bundled-style spec is generated, not indexed")
    rows, root = found
    return build_index(rows, root, index_file_for(root), progress=progress, cache_dir=cache_dir)


def build_index(rows: list[dict], root: str, index_file: Path | None, *, progress: bool = False,
                cache_dir: Path | None | str = "auto") -> CollectionIndex:
    """The index of ``rows`` (see ``collection_index``); ``index_file``: where it is kept (None: not)."""
    from tqdm import tqdm

    cache_dir = shape_cache_dir() if cache_dir == "auto" else cache_dir
    stored_at = _readable_index(index_file)
    old = _read_index(stored_at)
    records: list[dict | None] = []
    todo = []  # (position, row, key, files, stats) of the rows to index again
    listings: dict[str, set[str]] = {}
    for row in rows:
        row = {k: str(v) for k, v in row.items() if v is not None and v != ""}
        key = json.dumps(row, sort_keys=True)
        files = row_files(row, listings)
        stats = _stats(files)
        prev = old.get(key)
        if prev is not None and prev["stats"] == stats:
            records.append(prev)
        else:
            todo.append((len(records), row, key, files, stats))
            records.append(None)
    start = time.perf_counter()
    bar = tqdm(todo, desc="indexing shapes", unit="shape", disable=not progress or len(todo) < 2, leave=False)
    for position, row, key, files, stats in bar:
        records[position] = {"row": key, "stats": stats, **_index_row(row, files, cache_dir)}
    rebuilt = len(todo)
    where = None
    if index_file is not None:
        if rebuilt or set(old) != {r["row"] for r in records}:
            where = _write_index(index_file, root, records)
        else:
            where = str(stored_at)
    if rebuilt:
        took = time.perf_counter() - start
        log.info("indexed %d of %d shapes in %.1f s (%.3f s per shape)", rebuilt, len(rows), took, took / rebuilt)
    entries, failures = [], []
    for r in records:
        if "failure" in r:
            failures.append(Failure(**r["failure"]))
        else:
            e = r["entry"]
            entries.append(IndexEntry(e["shape_id"], e["category"], e["mesh"], e["row"], e["content_hash"],
                                      e["size"], None if e["part_names"] is None else tuple(e["part_names"])))
    # the process that indexed says so; processes reading the index (a run's workers) stay quiet
    return CollectionIndex(root, _unique_ids(entries, logging.WARNING if rebuilt else logging.DEBUG),
                           failures, where, rebuilt)


def row_files(row: dict, listings: dict[str, set[str]] | None = None) -> list[Path]:
    """Every file a row is read from: its mesh (every file of a PartNet directory), its explicit
    label, point and keypoint files, and the files beside the mesh the loaders look for.
    listings: {directory: its file names}, filled as directories are listed (one listing per folder
    instead of a lookup per candidate file)."""
    mesh = Path(row["mesh"])
    if mesh.is_dir():
        return sorted(p for p in mesh.rglob("*")
                      if p.is_file() and not any(q.startswith(".") for q in p.relative_to(mesh).parts))
    files = [mesh] + [Path(row[k]) for k in ("labels", "points", "keypoints") if k in row]
    listings = {} if listings is None else listings
    folder = str(mesh.parent)
    if folder not in listings:
        try:
            listings[folder] = set(os.listdir(folder))
        except OSError:
            listings[folder] = set()
    names, stem = listings[folder], mesh.stem
    if row.get("layout", "manifest") in BESIDE_LAYOUTS:  # other layouts' loaders never read them
        files += [mesh.parent / (stem + suffix) for suffix in BESIDE_SUFFIXES
                  if stem + suffix in names and stem + suffix != mesh.name]
    return list(dict.fromkeys(files))


def content_hash(row: dict, files: list[Path]) -> tuple[str, int]:
    """SHA-256 hex over each file's role (explicit key, suffix beside the mesh, or path inside a
    PartNet directory) and bytes, and the total size; the file names themselves do not enter, so one
    mesh copied under two names has one hash. Raises OSError when a file cannot be read."""
    mesh = Path(row["mesh"])
    explicit = {str(Path(row[k])): k for k in ("labels", "points", "keypoints") if k in row}
    h, size = hashlib.sha256(), 0
    for f in files:
        if mesh.is_dir():
            role = str(f.relative_to(mesh))
        elif f == mesh:
            role = "mesh" + mesh.suffix.lower()
        else:
            role = explicit.get(str(f)) or f.name[len(mesh.stem):]
        with open(f, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").digest()
        size += f.stat().st_size
        h.update(f"{role}\0{len(digest)}\0".encode())
        h.update(digest)
    return h.hexdigest(), size


def _index_row(row: dict, files: list[Path], cache_dir) -> dict:
    """{"entry": {...}} or {"failure": {...}} for one row."""
    from sketchgen.ingest.loaders import category_from_path

    mesh = Path(row["mesh"])
    fallback_category = row.get("category") or category_from_path(mesh if not mesh.is_dir() else mesh / "x")
    fallback_id = row.get("id", mesh.stem)
    try:
        digest, size = content_hash(row, files)
        identity = _known_identity(row, files)
        if identity is None:  # the layout does not name the shape: load it once (and cache it)
            identity = _cached_identity(row, digest, cache_dir)
        if identity is None:
            shape = _load_converted(row, digest, None, cache_dir)
            identity = (shape.shape_id, shape.category, _named_parts(shape))
    except OSError as exc:
        reason = _load_reason(row) or f"{getattr(exc, 'filename', None) or mesh}: cannot read ({exc.strerror or exc})"
        return {"failure": {"path": str(mesh), "reason": reason, "category": fallback_category,
                            "shape_id": str(fallback_id)}}
    except InputError as exc:
        return {"failure": {"path": str(mesh), "reason": str(exc), "category": fallback_category,
                            "shape_id": str(fallback_id)}}
    except Exception as exc:  # a loader bug must not sink the batch: record it, keep the traceback in the log
        log.debug("indexing %s failed", mesh, exc_info=True)
        return {"failure": {"path": str(mesh), "reason": f"{mesh}: unexpected {type(exc).__name__}: {exc}",
                            "category": fallback_category, "shape_id": str(fallback_id)}}
    shape_id, category, names = identity
    return {"entry": {"shape_id": shape_id, "category": category, "mesh": str(mesh), "row": row,
                      "content_hash": digest, "size": size, "part_names": names}}


def _load_reason(row: dict) -> str | None:
    """The loader's own one-line reason for a row whose files cannot all be read (None if it loads)."""
    from sketchgen.ingest.loaders import load_row

    try:
        load_row(row)
    except InputError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - the OSError's own reason is used instead
        return None
    return None


# OBJ lines naming a group, an object or a material (ingest.formats.obj); group names may be empty
_OBJ_NAMES = re.compile(rb"^[ \t]*(g|o|usemtl)(?:[ \t]+([^#\r\n]*))?[ \t]*(?:#[^\r\n]*)?\r?$", re.MULTILINE)
# formats whose files carry no part names (ingest.meshfile)
_UNNAMED_SUFFIXES = (".ply", ".off", ".stl")


def _known_identity(row: dict, files: list[Path]) -> tuple[str, str, list[str] | None] | None:
    """(id, category, part names) as the loaders would give them, when the row and the layout say so
    without building the mesh; None when only loading can tell. Part names of an OBJ are every group
    and material name in the file: a superset of the names its parts get, which is all that numbering
    them per category needs."""
    from sketchgen.ingest.loaders import _dataset_id, _leaf_objs, category_from_path, partnet_parts

    mesh = Path(row["mesh"])
    if mesh.is_dir():  # PartNet: the parts as the loader numbers them (loaders.partnet_parts)
        try:
            root, children = partnet_parts(mesh)
        except InputError:
            return None  # loading says why
        if not row.get("id") or not row.get("category"):
            return None  # meta.json or the tree names them: the loader's rule decides
        names = [str(c.get("name", f"part{k}")) for k, c in enumerate(children)]
        used = sorted({n for c, n in zip(children, names) if _leaf_objs(c)})
        named = any(n != f"part{k}" for k, n in enumerate(names))
        return row["id"], row["category"], used if named else None
    suffix = mesh.suffix.lower()
    if suffix not in _UNNAMED_SUFFIXES + (".obj",):
        return None
    beside = {f.name[len(mesh.stem):] for f in files[1:] if f.parent == mesh.parent}
    # keypoint files may carry the model id and the class: they matter when the row gives neither
    keypoints = "keypoints" in row or bool(beside & {".keypoints.json", ".json"})
    shape_id = row.get("id") or row.get("model_id") or (None if keypoints else _dataset_id(mesh))
    category = row.get("category") or (None if keypoints else category_from_path(mesh))
    if shape_id is None or category is None:
        return None  # the id is a hash of the converted arrays, or the keypoints say
    names = None
    if suffix == ".obj":
        found = [(m.group(1), (m.group(2) or b"").strip()) for m in _OBJ_NAMES.finditer(mesh.read_bytes())]
        groups = {n or b"default" for t, n in found if t != b"usemtl"}
        materials = {n for t, n in found if t == b"usemtl"}
        if len(groups) > 1 or len(materials) > 1:
            names = sorted(n.decode("utf-8", "replace") for n in groups | materials)
    return shape_id, category, names


def _named_parts(shape: PartMesh) -> list[str] | None:
    if not any(name != f"part{label}" for label, name in shape.part_names.items()):
        return None
    return sorted({shape.part_names[int(label)] for label in shape.parts})


def _unique_ids(entries: list[IndexEntry], level: int = logging.WARNING) -> list[IndexEntry]:
    """The entries with every repeat of an id renamed ``<id>-2``, ``-3``... (the first free suffix: never
    an id another shape has)."""
    taken = {e.shape_id for e in entries}
    seen: dict[str, int] = {}
    out = []
    for e in entries:
        n = seen.get(e.shape_id, 0)
        seen[e.shape_id] = n + 1
        if n:
            k = n + 1
            while f"{e.shape_id}-{k}" in taken:
                k += 1
            taken.add(f"{e.shape_id}-{k}")
            log.debug("shape id %s appears %d times; renamed %s-%d", e.shape_id, n + 1, e.shape_id, k)
            e = dataclasses.replace(e, shape_id=f"{e.shape_id}-{k}")
        out.append(e)
    repeated = sum(n - 1 for n in seen.values() if n > 1)
    if repeated:
        log.log(level, "%d shape ids were repeated and renamed with -2, -3... suffixes", repeated)
    return out


# ---------------------------------------------------------------------------------------- index file
def _stats(files: list[Path]) -> list:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            # the mode too: a file made readable again is indexed again
            out.append([str(f), st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)])
        except OSError:
            out.append([str(f), None, None, None])
    return out


# the modules whose code decides what a shape converts to: a change to any of them (a new release or
# a working copy) starts both caches afresh
LOADER_MODULES = ("sketchgen.ingest.loaders", "sketchgen.ingest.layouts", "sketchgen.ingest.meshfile",
                  "sketchgen.ingest.formats", "sketchgen.ingest.partmesh", "sketchgen.ingest.keypoints",
                  "sketchgen.ingest.decimate", "sketchgen.render.cleanup", "sketchgen.ingest.index")


@functools.lru_cache(maxsize=1)
def _version() -> str:
    """The caches' version: FORMAT and a SHA-256 of the loader modules' source."""
    import importlib.util

    h = hashlib.sha256(str(FORMAT).encode())
    for name in LOADER_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        sources = sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        for source in sources:
            h.update(source.name.encode())
            h.update(source.read_bytes())
    return f"{FORMAT}/{h.hexdigest()[:16]}"


def _fallback_index_path(index_file: Path) -> Path | None:
    base = user_cache_dir()
    if base is None:
        return None
    digest = hashlib.sha256(str(index_file.resolve()).encode()).hexdigest()[:20]
    return base / "index" / f"{digest}.json"


def _writable(directory: Path) -> bool:
    # the mode bits as well as access(): a read-only tree stays untouched even for root
    try:
        return os.access(directory, os.W_OK) and bool(directory.stat().st_mode & stat.S_IWUSR)
    except OSError:
        return False


def _readable_index(index_file: Path | None) -> Path | None:
    if index_file is None:
        return None
    if index_file.is_file():
        return index_file
    fallback = _fallback_index_path(index_file)
    return fallback if fallback is not None and fallback.is_file() else None


def _read_index(where: Path | None) -> dict[str, dict]:
    if where is None:
        return {}
    try:
        data = json.loads(where.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        log.info("%s: unreadable index, indexing again", where)
        return {}
    if not isinstance(data, dict) or data.get("version") != _version():
        return {}
    rows = data.get("rows")
    return {r["row"]: r for r in rows if _well_formed(r)} if isinstance(rows, list) else {}


def _well_formed(record) -> bool:
    """A stored index record this code can use as it is; anything else (an older or edited file) is
    indexed again rather than trusted."""
    if not (isinstance(record, dict) and isinstance(record.get("row"), str)
            and isinstance(record.get("stats"), list)):
        return False
    if isinstance(record.get("failure"), dict):
        return {"path", "reason"} <= set(record["failure"])
    entry = record.get("entry")
    return isinstance(entry, dict) and {"shape_id", "category", "mesh", "row", "content_hash", "size",
                                        "part_names"} <= set(entry)


def _write_index(index_file: Path, root: str, records: list[dict]) -> str | None:
    target = index_file if _writable(index_file.parent) else _fallback_index_path(index_file)
    if target is None:
        return None
    data = {"version": _version(), "collection": root, "rows": records}
    try:
        atomic_write(target, json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    except OSError as exc:
        log.warning("%s: cannot write the collection index (%s); the next run indexes again",
                    target, exc.strerror or exc)
        return None
    return str(target)


# ------------------------------------------------------------------------------------ per-shape cache
def user_cache_dir() -> Path | None:
    """sketchgen's cache folder: $SKETCHGEN_CACHE, else $XDG_CACHE_HOME/sketchgen, else
    ~/.cache/sketchgen; None when $SKETCHGEN_CACHE is "off"."""
    env = os.environ.get("SKETCHGEN_CACHE")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sketchgen"


def shape_cache_dir() -> Path | None:
    """Folder of the per-shape cache (None: off)."""
    base = user_cache_dir()
    return None if base is None else base / "shapes"


def cache_key(digest: str, max_faces: int | None, row: dict) -> str:
    """The per-shape cache key: SHA-256 of the content hash and of every input of the loader that
    changes what it returns: ``max_faces``, the row's ``id``, ``category`` and ``model_id``, and what
    the loaders read from the path (its category and dataset id; a PartNet directory's name)."""
    from sketchgen.ingest.loaders import _dataset_id, category_from_path

    mesh = Path(row["mesh"])
    context = {"id": row.get("id"), "category": row.get("category"), "model_id": row.get("model_id"),
               "layout": row.get("layout"),
               "path_category": category_from_path(mesh / "x" if mesh.is_dir() else mesh),
               "dataset_id": mesh.name if mesh.is_dir() else _dataset_id(mesh)}
    text = json.dumps({"content": digest, "max_faces": max_faces, "loader": context, "v": _version()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.npz"


def save_shape(path: Path, shape: PartMesh) -> None:
    """Write every field of a PartMesh (and of its Keypoints) to ``path`` (.npz, temporary name then
    rename): arrays as arrays, other values as JSON."""
    arrays, meta = {}, {}
    for prefix, record in (("", shape), ("kp.", shape.keypoints)):
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, Keypoints):
                continue
            if isinstance(value, np.ndarray):
                arrays[prefix + f.name] = value
            elif isinstance(value, dict):
                meta[prefix + f.name] = {"dict": [[k, v] for k, v in value.items()]}
            elif isinstance(value, tuple):
                meta[prefix + f.name] = {"tuple": list(value)}
            else:
                meta[prefix + f.name] = {"value": value}
    # what indexing needs, readable without the arrays
    identity = {"shape_id": shape.shape_id, "category": shape.category, "named_parts": _named_parts(shape)}
    arrays["identity"] = np.frombuffer(json.dumps(identity).encode(), np.uint8)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write(path, buf.getvalue())


def read_shape(path: Path) -> PartMesh:
    """The PartMesh ``save_shape`` wrote. Raises OSError, ValueError, KeyError, zipfile.BadZipFile (a
    truncated file, a bad CRC) or whatever a damaged file makes the PartMesh checks raise."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        values = {name: z[name] for name in z.files if name not in ("meta", "identity")}
    for name, v in meta.items():
        values[name] = dict((k, x) for k, x in v["dict"]) if "dict" in v else \
            tuple(v["tuple"]) if "tuple" in v else v["value"]
    kp = Keypoints(**{k[3:]: v for k, v in values.items() if k.startswith("kp.")})
    return PartMesh(keypoints=kp, **{k: v for k, v in values.items() if not k.startswith("kp.")})


def _cached_identity(row: dict, digest: str, cache_dir: Path | None) -> tuple[str, str, list[str] | None] | None:
    """(id, category, part names) of a shape in the per-shape cache, read without its arrays; None
    when it is not there."""
    if cache_dir is None:
        return None
    path = cache_path(cache_dir, cache_key(digest, None, row))
    try:
        with np.load(path, allow_pickle=False) as z:
            found = json.loads(z["identity"].tobytes().decode())
        LOAD_COUNT["cached"] += 1
        return found["shape_id"], found["category"], found["named_parts"]
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - any damage (a bad zip, a bad CRC, bad JSON): convert again
        log.warning("%s: damaged cache entry (%s: %s); converting the shape again", path, type(exc).__name__,
                    exc)
        return None


# counts of actual mesh conversions in this process (the cache's misses), for tests and benchmarks
LOAD_COUNT = {"converted": 0, "cached": 0}


def _load_converted(row: dict, digest: str, max_faces: int | None, cache_dir: Path | None) -> PartMesh:
    """The row's shape as the loader gives it, from the per-shape cache when there."""
    from sketchgen.ingest.loaders import load_row

    path = cache_path(cache_dir, cache_key(digest, max_faces, row)) if cache_dir else None
    if path is not None and path.is_file():
        try:
            shape = read_shape(path)
            LOAD_COUNT["cached"] += 1
            return shape
        except Exception as exc:  # noqa: BLE001 - any damage (a bad zip, a bad CRC, bad arrays): convert again
            log.warning("%s: damaged cache entry (%s: %s); converting the shape again and rewriting it", path,
                        type(exc).__name__, exc)
    shape = load_row(row, max_faces=max_faces)  # never strict: the cache holds the notes, load_entry judges
    LOAD_COUNT["converted"] += 1
    if path is not None:
        try:
            save_shape(path, shape)
        except OSError as exc:
            log.warning("%s: cannot write the shape cache (%s)", path, exc.strerror or exc)
    return shape


def load_entry(index: CollectionIndex, entry: IndexEntry, *, max_faces: int | None = None,
               cache_dir: Path | None | str = "auto", strict: bool = False, options=None) -> PartMesh:
    """The shape of ``entry`` as a PartMesh: converted (or read from the per-shape cache), given the
    index's id and category, its named parts numbered per category, its label semantics and its
    orientation (the row's columns, else ``options``, a ``ingest.collection.LoadOptions``). strict: a
    shape with notes (``PartMesh.notes``: data in doubt) fails. Raises InputError naming the file."""
    from sketchgen.ingest.collection import label_semantics
    from sketchgen.ingest.loaders import raise_if_strict
    from sketchgen.ingest.orientation import orient, row_rotation

    cache_dir = shape_cache_dir() if cache_dir == "auto" else cache_dir
    shape = _load_converted(entry.row, entry.content_hash, max_faces, cache_dir)
    raise_if_strict(list(shape.notes), strict)
    shape = dataclasses.replace(shape, shape_id=entry.shape_id, category=entry.category, source=entry.mesh)
    if entry.part_names is not None and _named_parts(shape) is not None:
        shape = relabel_parts(shape, index.category_parts.get(entry.category, []))
    try:
        rotation = row_rotation(entry.row, None if options is None else options.rotation())
    except ValueError as exc:
        raise InputError(f"{entry.mesh}: {exc}") from None
    semantics = label_semantics(entry.row, None if options is None else options.labels)
    return dataclasses.replace(orient(shape, rotation), label_semantics=semantics)


def relabel_parts(shape: PartMesh, names: list[str]) -> PartMesh:
    """Number ``shape``'s named parts by their place in ``names`` (the sorted part names of its
    category), so one name has one label across the category."""
    index = {n: k for k, n in enumerate(names)}
    parts = shape.parts
    if not all(shape.part_names[int(l)] in index for l in parts):
        raise InputError(f"{shape.source}: its part names changed since the collection was indexed")
    lut = {int(l): index[shape.part_names[int(l)]] for l in parts}
    old, new = np.array(list(lut), np.int64), np.array(list(lut.values()), np.int64)
    labels = new[np.searchsorted(old, shape.face_labels)]  # parts is sorted
    return dataclasses.replace(shape, face_labels=labels, part_names={lut[int(l)]: shape.part_names[int(l)]
                                                                     for l in parts})


# ---------------------------------------------------------------------------------- lazy shape access
class IndexedShapes(Mapping):
    """``{shape_id: PartMesh}`` over a collection index, loading a shape only when it is looked up and
    keeping the last ``keep`` loaded: memory follows what a unit uses, not the collection's size.

    ``shape in shapes`` and iteration use the index alone. ``get(id)`` returns None for a shape that
    cannot be loaded (its own unit reports why); ``shapes[id]`` raises the InputError.
    """

    def __init__(self, index: CollectionIndex, *, max_faces: int | None = None, keep: int = KEEP_SHAPES,
                 cache_dir: Path | None | str = "auto", strict: bool = False, options=None):
        self.index = index
        self.options = options  # ingest.collection.LoadOptions
        self.max_faces = max_faces
        self.strict = strict
        self.keep = keep
        self.cache_dir = shape_cache_dir() if cache_dir == "auto" else cache_dir
        self._loaded: OrderedDict[str, PartMesh] = OrderedDict()
        self.loads: list[str] = []  # ids loaded by this object, in order (for tests and benchmarks)

    def __getitem__(self, shape_id: str) -> PartMesh:
        if shape_id in self._loaded:
            self._loaded.move_to_end(shape_id)
            return self._loaded[shape_id]
        entry = self.index.entry(shape_id)  # KeyError for an unknown id
        shape = load_entry(self.index, entry, max_faces=self.max_faces, cache_dir=self.cache_dir,
                           strict=self.strict, options=self.options)
        self.loads.append(shape_id)
        self._loaded[shape_id] = shape
        while len(self._loaded) > self.keep:
            self._loaded.popitem(last=False)
        return shape

    def get(self, shape_id, default=None):
        try:
            return self[shape_id]
        except KeyError:
            return default
        except InputError as exc:
            log.debug("%s", exc)
            return default

    def __contains__(self, shape_id) -> bool:
        return shape_id in self.index

    def __iter__(self) -> Iterator[str]:
        return (e.shape_id for e in self.index.entries)

    def __len__(self) -> int:
        return len(self.index)

    def members(self) -> list[tuple[str, str]]:
        """(shape_id, category) of every shape, in collection order."""
        return [(e.shape_id, e.category) for e in self.index.entries]

    def content_hash(self, shape_id: str) -> str:
        """SHA-256 of the shape's files' bytes."""
        return self.index.entry(shape_id).content_hash
