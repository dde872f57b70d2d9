"""Running work units: in this process, on local joblib workers, or on a Dask distributed cluster.

A unit writes ``<out>/<split>/<shape>-<unit>.tar`` and its summary ``<...>.json`` beside it, summary
first, shard last, each under a temporary name and renamed: the shard's existence is the commit of
the unit. A unit whose shard and summary exist is skipped, so a re-run resumes; a unit that dies
half-way leaves only a temporary file, and running it again (on any worker) renames the same bytes
into place, so there is never a duplicate nor a half shard. Units are pure functions of (config,
unit), which is why the output does not depend on the number of workers or the scheduler.

A builder is a module exposing ``build_unit(unit, config) -> (samples, failures)``: samples are
dicts for ``datagen.shards.write_shard``, failures dicts ``{"shape", "reason", ...}``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from sketchgen.datagen.manifest import write_json_atomic
from sketchgen.datagen.plan import WorkUnit
from sketchgen.datagen.shards import write_shard
from sketchgen.render.errors import InputError

log = logging.getLogger(__name__)

MAX_POOL_RESTARTS = 3


@dataclass(frozen=True)
class Job:
    """What every unit of a run shares: the builder module, its config and the output folder."""

    builder: str
    config: Any
    out_dir: str


def summary_path(shard: Path) -> Path:
    return shard.with_suffix(".json")


def unit_inputs(job: Job, unit: WorkUnit) -> str:
    """SHA-256 of what a unit's shard is made from: the builder and its ``BUILD_VERSION`` (where it has
    one), its resolved config, and the content hashes of the unit's shape and partner shapes (from the
    collection index: no mesh is loaded). A shard on disk counts as complete only when its summary records
    the same digest, so a run with changed options, changed meshes or a builder that now samples
    differently rebuilds it instead of keeping a stale one beside new ones."""
    from sketchgen.datagen.manifest import to_jsonable
    from sketchgen.datagen.plan import load_shapes

    shapes, _ = load_shapes(job.config.collection, strict=getattr(job.config, "strict", False))
    hashes = {sid: shapes.content_hash(sid) for sid in (unit.shape_id, *unit.partners) if sid in shapes}
    inputs = {"builder": job.builder, "config": to_jsonable(job.config), "shapes": hashes, "unit": to_jsonable(unit)}
    version = getattr(importlib.import_module(job.builder), "BUILD_VERSION", None)
    if version is not None:  # builders without one keep the digests their finished folders hold
        inputs["builder_version"] = version
    text = json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def completed(job: Job, unit: WorkUnit) -> dict[str, Any] | None:
    """The summary of a unit whose shard is complete and was made from the same inputs
    (``unit_inputs``), else None."""
    shard = Path(job.out_dir) / unit.shard
    meta = summary_path(shard)
    if shard.exists() and meta.exists():
        try:
            summary = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if summary.get("inputs") != unit_inputs(job, unit):
            log.info("%s: made from other options or meshes; building it again", shard)
            return None
        return summary
    return None


def run_unit(job: Job, unit: WorkUnit) -> dict[str, Any]:
    """Build one unit and commit its shard (or return its summary if already complete).

    Returns {"shard", "split", "shape", "samples", "failures", "skipped"}; a unit that raised returns
    "error" (and writes nothing, so a later run tries it again).
    """
    done = completed(job, unit)
    if done is not None:
        return {**done, "skipped": True}
    base = {"shard": unit.shard, "split": unit.split, "shape": unit.shape_id}
    cpu = time.process_time()
    try:
        builder = importlib.import_module(job.builder)
        samples, failures = builder.build_unit(unit, job.config)
    except InputError as exc:
        return {**base, "samples": 0, "failures": [], "skipped": False, "error": str(exc),
                "category": unit.category}
    except Exception as exc:  # noqa: BLE001 - a batch records the failure and carries on
        log.debug("unit %s failed:\n%s", unit.shard, traceback.format_exc())
        return {**base, "samples": 0, "failures": [], "skipped": False,
                "error": f"{type(exc).__name__}: {exc}"}
    shard = Path(job.out_dir) / unit.shard
    summary = {**base, "samples": len(samples), "failures": failures, "notes": _shape_notes(job, unit),
               "inputs": unit_inputs(job, unit)}
    write_json_atomic(summary_path(shard), summary)
    write_shard(shard, samples)
    # CPU seconds of this unit, for benchmarks; not part of the summary file or the manifest
    return {**summary, "skipped": False, "cpu_s": time.process_time() - cpu}


def _shape_notes(job: Job, unit: WorkUnit) -> list[dict]:
    """[{"file", "note"}]: the warnings about the unit's shape's data (``PartMesh.notes``); the shape
    was just loaded by the builder, so this is a lookup, not a load."""
    from sketchgen.datagen.plan import load_shapes

    shapes, _ = load_shapes(job.config.collection, strict=getattr(job.config, "strict", False))
    shape = shapes.get(unit.shape_id)
    return [] if shape is None else [{"file": shape.source, "note": n} for n in shape.notes]


def _local(job: Job, units: Sequence[WorkUnit]) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield run_unit(job, unit)


def _joblib(job: Job, units: Sequence[WorkUnit], workers: int) -> Iterator[dict[str, Any]]:
    pending = {u.index: u for u in units}
    _quiet_resource_trackers()
    yield from _joblib_rounds(job, pending, workers)


def _joblib_rounds(job: Job, pending: dict[int, WorkUnit], workers: int) -> Iterator[dict[str, Any]]:
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    for attempt in range(MAX_POOL_RESTARTS + 1):
        if not pending:
            return
        todo = sorted(pending.values(), key=lambda u: u.index)
        try:
            # unordered: results are sorted again by the caller; each process keeps its GL context
            for result, index in Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered",
                                          batch_size=1)(delayed(_indexed)(job, u) for u in todo):
                pending.pop(index, None)
                yield result
            return
        except TerminatedWorkerError as exc:
            if attempt == MAX_POOL_RESTARTS:
                raise
            log.warning("a worker died (%s); running its %d unfinished units again", exc, len(pending))


# the resource trackers (loky's and multiprocessing's, separate processes started with this
# interpreter's -W options) report at exit semaphores whose owner never unregistered them. Python >= 3.13
# registers loky's semaphores with both trackers and unregisters them from one (loky issue #474), so
# every parallel run ended with a false alarm that users take for a failure.
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def _quiet_resource_trackers() -> None:
    if TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNINGS)  # read when a tracker process is started


def _indexed(job: Job, unit: WorkUnit) -> tuple[dict[str, Any], int]:
    return run_unit(job, unit), unit.index


def _dask(job: Job, units: Sequence[WorkUnit], scheduler: str) -> Iterator[dict[str, Any]]:
    from distributed import Client, as_completed

    with Client(scheduler, set_as_default=False) as client:
        # keys from the job and the unit: two jobs sharing a scheduler never share a key; a task whose
        # worker dies is rescheduled by the scheduler on another worker
        tag = hashlib.sha256(repr((job.builder, job.config, job.out_dir)).encode()).hexdigest()[:12]
        futures = client.map(run_unit, [job] * len(units), list(units),
                             key=[f"sketchgen-{tag}-{u.shard}" for u in units], retries=2)
        for future in as_completed(futures, loop=client.loop):
            yield future.result()
            future.release()


def execute(job: Job, units: Sequence[WorkUnit], *, workers: int = 1, scheduler: str | None = None,
            progress: bool = True, desc: str = "samples") -> list[dict[str, Any]]:
    """Run every unit; returns their summaries sorted by shard name.

    workers: local processes (joblib/loky; 1 = this process). scheduler: a Dask scheduler address
    (``tcp://host:8786``); when given, ``workers`` is ignored.
    """
    from tqdm import tqdm

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if scheduler:
        stream = _dask(job, units, scheduler)
    elif workers == 1 or len(units) <= 1:
        stream = _local(job, units)
    else:
        stream = _joblib(job, units, min(workers, len(units)))
    results = []
    with tqdm(total=None, unit=" samples", desc=desc, disable=not progress, smoothing=0.1) as bar:
        for result in stream:
            results.append(result)
            bar.update(result["samples"])
            if result.get("error"):
                log.warning("%s: %s", result["shape"], result["error"])
    clean_temporaries(Path(job.out_dir), units)
    return sorted(results, key=lambda r: r["shard"])


def clean_temporaries(out_dir: Path, units: Sequence[WorkUnit]) -> None:
    """Remove temporary files left by killed workers next to the shards of ``units``."""
    for unit in units:
        shard = out_dir / unit.shard
        for stale in shard.parent.glob(f".{shard.stem}.*.tmp*"):
            stale.unlink(missing_ok=True)


def run_dataset(*, dataset: str, builder: str, config: Any, out_dir: str | Path, workers: int = 1,
                scheduler: str | None = None, shard_index: int | None = None, num_shards: int | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Plan, run and record one dataset: the driver behind ``sketchgen triplets`` and ``pairs``.

    config: the builder's frozen config (with ``collection``, ``seed`` and ``shapes``). Writes the
    shards and, for a whole run (no ``shard_index``), ``manifest.json``; array jobs leave the manifest
    to a final run without ``--shard-index``, which skips every complete shard. Returns
    {"units", "samples", "skipped", "errors", "manifest", "cpu_s", "shape_failures"} (cpu_s: CPU seconds
    the units took; shape_failures: the collection's shapes that could not be read, as in the manifest).
    """
    from sketchgen.datagen.manifest import build_manifest, write_manifest
    from sketchgen.datagen.plan import load_shapes, plan_units, select_units

    shapes, collection_failures = load_shapes(config.collection, strict=getattr(config, "strict", False))
    units = plan_units(shapes.members(), per_category=config.shapes)
    if not units:
        where = config.collection or "the bundled collection"
        raise InputError(f"{where}: no shapes could be loaded")
    mine = select_units(units, shard_index, num_shards)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = execute(Job(builder, config, str(out_dir)), mine, workers=workers, scheduler=scheduler,
                      progress=progress, desc=dataset)
    done = [r for r in results if not r.get("error")]
    errors = [{"shape": r["shape"], "reason": r["error"], **({"category": r["category"]} if "category" in r else {})}
              for r in results if r.get("error")]
    manifest_path = None
    if shard_index is None:
        manifest = build_manifest(
            dataset=dataset, config=config, seed=config.seed,
            collection={"path": config.collection,
                        "shapes": {u.shape_id: shapes.content_hash(u.shape_id) for u in units},
                        "failures": collection_failures,
                        # from the units' summaries: the driver loads no shape to learn them
                        "notes": [{"shape": r["shape"], **n} for r in sorted(done, key=lambda r: r["shard"])
                                  for n in r.get("notes", [])]},
            results=done, failures=errors, out_dir=out_dir)
        manifest_path = str(write_manifest(out_dir, manifest))
    return {"units": len(mine), "samples": sum(r["samples"] for r in done),
            "skipped": sum(1 for r in done if r.get("skipped")), "errors": errors, "manifest": manifest_path,
            "cpu_s": sum(r.get("cpu_s", 0.0) for r in done), "shape_failures": collection_failures}
