"""``manifest.json``: what a dataset folder holds and how it was made.

Written once, atomically, at the end of a run (and rebuilt the same on resume): the resolved config,
the seed, package versions, a content hash of every shape of the collection, counts per split, each
shard with its sample count and SHA-256, and every failure with its reason. It holds no time stamps,
host names or worker counts, so the same command gives the same manifest however it was run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from sketchgen.datagen.schema import MANIFEST, SPLITS
from sketchgen.files import atomic_write

PACKAGES = ("sketchgen", "numpy", "scipy", "trimesh", "pyrender", "PyOpenGL", "opencv-python-headless",
            "scikit-image", "joblib", "dask", "distributed")


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when absent)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def array_hash(*arrays: np.ndarray) -> str:
    """SHA-256 over the dtype, shape and bytes of each array, in order."""
    h = hashlib.sha256()
    for arr in arrays:
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def file_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples, paths and numpy scalars -> plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def drawing_width(config: Mapping[str, Any], default: float) -> float:
    """The stroke width in pixels that a dataset manifest's ``config`` records (``drawing.width``; datasets
    built before the one drawing configuration recorded it as ``lines.width``), else ``default``."""
    drawing = config.get("drawing") or config.get("lines") or {}
    return float(drawing.get("width", default))


def write_json_atomic(path: str | Path, data: Any) -> None:
    """JSON with sorted keys and a final newline, written to a temporary name and renamed."""
    atomic_write(path, json.dumps(to_jsonable(data), indent=1, sort_keys=True) + "\n")


def build_manifest(*, dataset: str, config: Any, seed: int, collection: Mapping[str, Any],
                   results: Iterable[Mapping[str, Any]], failures: Iterable[Mapping[str, Any]],
                   out_dir: str | Path) -> dict[str, Any]:
    """The manifest of a finished run.

    collection: {"path", "shapes": {shape_id: hash}, "failures": [...], "notes": [...]} (notes: warnings
    about shapes that loaded, ``{"shape", "file", "note"}``, from ``PartMesh.notes``).
    results: one summary per work unit ({"shard", "split", "shape", "samples", "failures"}).
    failures: run-level failures ({"shape" or "file", "reason"}), e.g. units that raised.
    """
    out_dir = Path(out_dir)
    counts = {s: {"samples": 0, "shards": 0} for s in SPLITS}
    shards = []
    all_failures = list(failures)
    for r in sorted(results, key=lambda r: r["shard"]):
        counts[r["split"]]["samples"] += r["samples"]
        counts[r["split"]]["shards"] += 1
        shards.append({"shard": r["shard"], "shape": r["shape"], "samples": r["samples"],
                       # checked against the file (execute.completed) or hashed as it was written
                       "sha256": r.get("sha256") or file_hash(out_dir / r["shard"])})
        all_failures.extend(r.get("failures", []))
    all_failures.extend(collection.get("failures", []))
    all_failures.sort(key=lambda f: json.dumps(to_jsonable(f), sort_keys=True))
    from sketchgen.datagen.schema import SCHEMA_VERSION

    return {
        "dataset": dataset,
        "schema": SCHEMA_VERSION,
        "config": config,
        "seed": seed,
        "packages": package_versions(),
        "collection": {"path": collection.get("path"), "shapes": dict(sorted(collection["shapes"].items())),
                       "notes": sorted(collection.get("notes", []), key=lambda n: (n["shape"], n["note"]))},
        "counts": counts,
        "shards": shards,
        "failures": all_failures,
    }


def write_manifest(out_dir: str | Path, manifest: Mapping[str, Any]) -> Path:
    path = Path(out_dir) / MANIFEST
    write_json_atomic(path, manifest)
    return path


def read_dataset_manifest(path: str | Path, *, required: bool = True) -> dict[str, Any]:
    """The ``manifest.json`` of a dataset folder (or the file itself) as a dict. Raises InputError naming
    the file when it is not JSON, or when it is missing and ``required`` (else {}: a folder of shards
    alone is still a dataset to a reader). A collection's manifest (its mesh rows) is
    ``ingest.collection.read_collection_manifest``."""
    from sketchgen.errors import InputError

    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        if not required:
            return {}
        raise InputError(f"{path}: no such file (not a sketchgen dataset folder?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable manifest ({exc})") from None
