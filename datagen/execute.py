"""Running work units: in this process, on local joblib workers, or on a Dask distributed cluster.

A unit writes ``<out>/<split>/<shape>-<unit>.tar`` and its summary ``<...>.json`` beside it. The
builder's samples are streamed into the shard's temporary file as they are made (a unit's memory does
not grow with its sample count); then the summary, which records the shard's size and SHA-256, is
written, and the shard renamed into place last. A unit counts as complete, and is skipped on a re-run,
only when its summary is intact (its own digest), records the same inputs (``unit_inputs``), and its
shard's size and digest match the summary: a truncated, emptied or altered shard is built again, to the bytes a clean run writes.
A unit that dies half-way leaves only a temporary file (named after its writer, ``sketchgen.files``),
removed by the next run once that writer is gone. Units are pure functions of (config, unit), which is
why the output does not depend on the number of workers or the scheduler.

A unit that fails, however it fails (an exception, a bad input, a worker process killed each time it
runs it, Dask's ``KilledWorker``), is returned with a one-line ``error`` and the rest carry on; the
run's manifest lists it among its failures. One run holds an output folder at a time
(``datagen.lock``). Local worker processes end with the run: SIGTERM ends a run as Ctrl-C does, and a
worker whose parent is gone exits at once.

A builder is a module exposing ``build_unit(unit, config) -> (samples, failures)`` (samples: dicts for
``datagen.shards.write_shard``, failures: dicts ``{"shape", "reason", ...}``) and, to be streamed,
``unit_samples(unit, config, failures) -> Iterator[sample]``, which appends its failures to
``failures`` when exhausted. Failures are ``{"shape", "reason", "count", "kind", "outcome"}`` (outcome
"not-made": the kind asked for could not be made; "dropped": it failed later). A builder may expose
``sample_kind(sample) -> str`` (each unit's summary counts what it made per kind, ``made``) and
``check_request(config, shapes)``, which raises InputError before any unit runs when the request cannot
be met at all. ``build_summary`` turns a run's units into the one line every build ends with.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from sketchgen.datagen.manifest import file_hash, write_json_atomic
from sketchgen.datagen.plan import WorkUnit
from sketchgen.datagen.shards import ShardFile, write_shard
from sketchgen.errors import InputError
from sketchgen.files import host_name, process_alive, temporary_writer

log = logging.getLogger(__name__)

MAX_POOL_RESTARTS = 3
# a temporary file of another host is taken for a dead writer's after this long without a write
FOREIGN_TEMPORARY_S = 24 * 3600
# how often a local worker checks that the run that started it is still there
PARENT_CHECK_S = 0.5


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
    from sketchgen.datagen.plan import config_shapes

    shapes, _ = config_shapes(job.config)
    hashes = {sid: shapes.content_hash(sid) for sid in (unit.shape_id, *unit.partners) if sid in shapes}
    inputs = {"builder": job.builder, "config": to_jsonable(job.config), "shapes": hashes, "unit": to_jsonable(unit)}
    version = getattr(importlib.import_module(job.builder), "BUILD_VERSION", None)
    if version is not None:  # builders without one keep the digests their finished folders hold
        inputs["builder_version"] = version
    text = json.dumps(inputs, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def completed(job: Job, unit: WorkUnit) -> dict[str, Any] | None:
    """The summary of a unit whose shard is complete, else None: its summary records the same inputs
    (``unit_inputs``) and the shard on disk has the size and SHA-256 the summary records."""
    shard = Path(job.out_dir) / unit.shard
    meta = summary_path(shard)
    if not (shard.exists() and meta.exists()):
        return None
    try:
        summary = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        log.warning("%s: unreadable summary; building its shard again", meta)
        return None
    if not isinstance(summary, dict) or summary.get("inputs") != unit_inputs(job, unit):
        log.info("%s: made from other options or meshes; building it again", shard)
        return None
    if "sha256" not in summary or summary.get("summary_sha256") != summary_digest(summary):
        log.warning("%s: its summary is damaged or records no digest to check the shard by; building it again",
                    shard)
        return None
    size = shard.stat().st_size
    if size != summary.get("bytes"):
        log.warning("%s: %d bytes where its summary records %s (truncated or damaged); building it again",
                    shard, size, summary.get("bytes"))
        return None
    if file_hash(shard) != summary["sha256"]:
        log.warning("%s: its SHA-256 differs from its summary's (damaged); building it again", shard)
        return None
    return summary


def summary_digest(summary: dict) -> str:
    """SHA-256 of a summary's JSON (sorted keys, as ``manifest.write_json_atomic`` writes it) without its
    own ``summary_sha256``: what the manifest takes from the summary (sample count, failures) is checked
    too."""
    from sketchgen.datagen.manifest import to_jsonable

    rest = {k: v for k, v in summary.items() if k != "summary_sha256"}
    return hashlib.sha256(json.dumps(to_jsonable(rest), sort_keys=True).encode()).hexdigest()


class _BuilderFailed(Exception):
    """What the builder raised while making samples (its ``__cause__``), told apart from a failure to
    write them (a full disk), which ends the run."""


def _guarded(samples: Iterable[dict]) -> Iterator[dict]:
    it = iter(samples)
    while True:
        try:
            sample = next(it)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - re-raised, marked as the builder's
            raise _BuilderFailed() from exc
        yield sample


def _samples(builder, unit: WorkUnit, config, failures: list) -> Iterable[dict]:
    """The unit's samples as the builder makes them: streamed from ``unit_samples`` where it has it."""
    if hasattr(builder, "unit_samples"):
        return builder.unit_samples(unit, config, failures)
    samples, found = builder.build_unit(unit, config)
    failures.extend(found)
    return samples


class NotMade(Exception):
    """A builder's sample (or ``count`` of them) not made, as its unit's failures count it (module
    docstring): ``outcome`` ("not-made" or "dropped"), the sample's ``kind`` ("any" before one is drawn)
    and the ``reason``. Raised by the step of a builder that finds it; ``key`` counts it in a
    ``failure_rows`` Counter."""

    def __init__(self, outcome: str, kind: str, reason: str, count: int = 1):
        super().__init__(reason)
        self.key, self.count = (outcome, kind, reason), count


def made_or_counted(make, problems: Counter):
    """``make()``'s result, or None with the ``NotMade`` it raised counted in ``problems`` (a builder's
    step that may decline its sample)."""
    try:
        return make()
    except NotMade as why:
        problems[why.key] += why.count
        return None


def failure_rows(shape_id: str, problems: Counter) -> list[dict]:
    """The failures (module docstring) of a unit of shape ``shape_id`` from its ``problems``
    ({(outcome, kind, reason): count}), sorted."""
    return [{"shape": shape_id, "reason": reason, "count": n, "kind": kind, "outcome": outcome}
            for (outcome, kind, reason), n in sorted(problems.items())]


def gather(unit_samples, unit: WorkUnit, config, **kwargs) -> tuple[list[dict], list[dict]]:
    """(samples, failures) of a builder's ``unit_samples(unit, config, failures, **kwargs)``, all held."""
    failures: list[dict] = []
    samples = list(unit_samples(unit, config, failures, **kwargs))
    return samples, failures


def gathering(unit_samples):
    """A builder's ``build_unit(unit, config, only=None) -> (samples, failures)`` from its ``unit_samples``:
    every sample of the unit held in memory (a run streams ``unit_samples`` to its shard instead);
    ``only=index`` builds that one sample (``datagen.regenerate``)."""
    def build_unit(unit: WorkUnit, config, only: int | None = None) -> tuple[list[dict], list[dict]]:
        """(samples, failures) of one shape, every sample held in memory (``datagen.execute.gathering``)."""
        return gather(unit_samples, unit, config, only=only)

    return build_unit


def run_unit(job: Job, unit: WorkUnit) -> dict[str, Any]:
    """Build one unit and commit its shard (or return its summary if already complete).

    Returns {"shard", "split", "shape", "samples", "failures", "bytes", "sha256", "skipped"}; a unit that
    raised returns "error", one line (and leaves no shard, so a later run tries it again). An OSError
    writing the shard (a full disk, a read-only folder) is raised: it would fail every unit.
    """
    done = completed(job, unit)
    if done is not None:
        return {**done, "skipped": True}
    base = {"shard": unit.shard, "split": unit.split, "shape": unit.shape_id}
    cpu = time.process_time()
    shard = Path(job.out_dir) / unit.shard
    failures: list[dict] = []
    written: list[dict] = []
    made: dict[str, int] = {}

    def commit(info: ShardFile) -> None:  # the summary, before the shard is renamed into place
        summary = {**base, "samples": info.samples, "failures": failures, "notes": _shape_notes(job, unit),
                   "inputs": unit_inputs(job, unit), "bytes": info.size, "sha256": info.sha256,
                   "made": dict(sorted(made.items()))}
        summary["summary_sha256"] = summary_digest(summary)
        write_json_atomic(summary_path(shard), summary)
        written.append(summary)

    try:
        try:
            builder = importlib.import_module(job.builder)
            samples = _counted(_samples(builder, unit, job.config, failures), getattr(builder, "sample_kind", None),
                               made)
        except Exception as exc:  # noqa: BLE001 - reported below as the builder's failure
            raise _BuilderFailed() from exc
        write_shard(shard, _guarded(samples), before_commit=commit)
    except _BuilderFailed as failed:
        exc = failed.__cause__
        if isinstance(exc, InputError):
            return {**base, "samples": 0, "failures": [], "skipped": False, "error": one_line(str(exc)),
                    "category": unit.category}
        log.debug("unit %s failed:\n%s", unit.shard,
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        return {**base, "samples": 0, "failures": [], "skipped": False,
                "error": one_line(f"{type(exc).__name__}: {exc}")}
    # CPU seconds of this unit, for benchmarks; not part of the summary file or the manifest
    return {**written[0], "skipped": False, "cpu_s": time.process_time() - cpu}


def _counted(samples, kind_of, made: dict[str, int]):
    """``samples`` passed through, each counted in ``made`` under ``kind_of(sample)`` (None: not counted)."""
    for sample in samples:
        if kind_of is not None:
            kind = kind_of(sample)
            made[kind] = made.get(kind, 0) + 1
        yield sample


def one_line(reason: str) -> str:
    """A failure's reason on one line: its first non-empty line."""
    lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
    return lines[0] if lines else "failed without a reason"


def _shape_notes(job: Job, unit: WorkUnit) -> list[dict]:
    """[{"file", "note"}]: the warnings about the unit's shape's data (``PartMesh.notes``); the shape
    was just loaded by the builder, so this is a lookup, not a load."""
    from sketchgen.datagen.plan import config_shapes

    shapes, _ = config_shapes(job.config)
    shape = shapes.get(unit.shape_id)
    return [] if shape is None else [{"file": shape.source, "note": n} for n in shape.notes]


def _local(job: Job, units: Sequence[WorkUnit]) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield run_unit(job, unit)


def _joblib(job: Job, units: Sequence[WorkUnit], workers: int) -> Iterator[dict[str, Any]]:
    pending = {u.index: u for u in units}
    _quiet_resource_trackers()
    yield from _joblib_rounds(job, pending, workers)
    yield from _isolated(job, pending)


def _joblib_rounds(job: Job, pending: dict[int, WorkUnit], workers: int) -> Iterator[dict[str, Any]]:
    """Run ``pending`` (emptied as units finish) on a pool of ``workers``; a worker's death breaks the
    pool, whose unfinished units run again on a new one, up to ``MAX_POOL_RESTARTS`` times. Returns with
    the units still pending after that (``_isolated`` runs them one by one)."""
    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    parent = os.getpid()
    for attempt in range(MAX_POOL_RESTARTS + 1):
        if not pending:
            return
        todo = sorted(pending.values(), key=lambda u: u.index)
        try:
            # unordered: results are sorted again by the caller; each process keeps its GL context
            for result, index in Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered",
                                          batch_size=1)(delayed(_indexed)(job, u, parent) for u in todo):
                pending.pop(index, None)
                yield result
            return
        except TerminatedWorkerError as exc:
            log.warning("a worker died (%s); running its %d unfinished units again", one_line(str(exc)),
                        len(pending))


def _isolated(job: Job, pending: dict[int, WorkUnit]) -> Iterator[dict[str, Any]]:
    """Run each unit of ``pending`` alone in a worker process of its own: the one that kills its
    worker every time fails alone, with a one-line reason, and the others finish."""
    import re

    from joblib import Parallel, delayed
    from joblib.externals.loky.process_executor import TerminatedWorkerError

    parent = os.getpid()
    for unit in sorted(pending.values(), key=lambda u: u.index):
        try:
            # one task on joblib's own pool (n_jobs=1 would run it in this process, which it would kill)
            ((result, _),) = Parallel(n_jobs=2, backend="loky")([delayed(_indexed)(job, unit, parent)])
        except TerminatedWorkerError as exc:
            codes = re.search(r"exit codes of the workers are (\{[^}]*\})", str(exc))
            result = _failed(unit, f"its worker process died each time it ran it ({MAX_POOL_RESTARTS + 2} times; "
                                   f"exit codes {codes.group(1) if codes else 'unknown'}): killed, or out of memory?")
        pending.pop(unit.index, None)
        yield result


def _failed(unit: WorkUnit, reason: str) -> dict[str, Any]:
    """The result of a unit that ended without a result of its own (its process died)."""
    return {"shard": unit.shard, "split": unit.split, "shape": unit.shape_id, "samples": 0, "failures": [],
            "skipped": False, "error": one_line(reason), "category": unit.category}


# the resource trackers (loky's and multiprocessing's, separate processes started with this
# interpreter's -W options) report at exit semaphores whose owner never unregistered them. Python >= 3.13
# registers loky's semaphores with both trackers and unregisters them from one (loky issue #474), so
# every parallel run ended with a false alarm that users take for a failure.
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def _quiet_resource_trackers() -> None:
    if TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNINGS)  # read when a tracker process is started


def _indexed(job: Job, unit: WorkUnit, parent: int | None = None) -> tuple[dict[str, Any], int]:
    if parent is not None:
        _watch_parent(parent)
    return run_unit(job, unit), unit.index


_WATCHED: list[int] = []


def _watch_parent(parent: int) -> None:
    """In a worker process started by the run ``parent`` (a pid): end this process at once when that run
    is gone (killed, even by SIGKILL), instead of finishing its unit and writing shards nobody asked for.
    A worker's parent changes only when the parent ends (the orphan is re-parented)."""
    if _WATCHED or os.getpid() == parent or os.getppid() != parent:
        return
    _WATCHED.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="sketchgen-parent-watch", daemon=True).start()


def _dask(job: Job, units: Sequence[WorkUnit], scheduler: str) -> Iterator[dict[str, Any]]:
    from distributed import Client, as_completed

    with Client(scheduler, set_as_default=False) as client:
        # keys from the job and the unit: two jobs sharing a scheduler never share a key; a task whose
        # worker dies is rescheduled by the scheduler on another worker, up to the scheduler's
        # ``allowed-failures``, after which its future raises KilledWorker
        tag = hashlib.sha256(repr((job.builder, job.config, job.out_dir)).encode()).hexdigest()[:12]
        keys = [f"sketchgen-{tag}-{u.shard}" for u in units]
        by_key = dict(zip(keys, units))
        futures = client.map(run_unit, [job] * len(units), list(units), key=keys, retries=2)
        for future in as_completed(futures, loop=client.loop):
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - one unit's failure; the others carry on
                result = _failed(by_key[future.key], _dask_reason(exc))
            yield result
            future.release()


def _dask_reason(exc: BaseException) -> str:
    if type(exc).__name__ == "KilledWorker":
        return ("Dask KilledWorker: every worker that ran it died (the scheduler's allowed-failures reached): "
                "killed, or out of memory?")
    return f"{type(exc).__name__}: {one_line(str(exc))}"


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While units run in the main thread of a process that left SIGTERM to its default (ending at once,
    with local workers left running on), SIGTERM raises SystemExit(128 + 15): the workers are stopped,
    the temporary files and the output folder's lock let go, as on Ctrl-C; the exit status is the
    shell's for a SIGTERM."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def execute(job: Job, units: Sequence[WorkUnit], *, workers: int = 1, scheduler: str | None = None,
            progress: bool = True, desc: str = "samples") -> list[dict[str, Any]]:
    """Run every unit; returns their summaries sorted by shard name.

    workers: local processes (joblib/loky; 1 = this process). scheduler: a Dask scheduler address
    (``tcp://host:8786``); when given, ``workers`` is ignored.
    """
    from sketchgen.datagen.progress import Progress

    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if scheduler:
        stream = _dask(job, units, scheduler)
    elif workers == 1 or len(units) <= 1:
        stream = _local(job, units)
    else:
        stream = _joblib(job, units, min(workers, len(units)))
    results = []
    with _terminate_as_interrupt(), \
            Progress(len(units), desc, "shards", enabled=progress) as bar:
        samples = 0
        try:
            for result in stream:
                results.append(result)
                samples += result["samples"]
                bar.update(1, samples=samples)
                if result.get("error"):
                    log.warning("%s: %s", result["shape"], result["error"])
        except SystemExit as stop:
            log.warning("%s: stopped (exit %s) after %d of %d units; the same command resumes", job.out_dir,
                        stop.code, len(results), len(units))
            raise
        finally:
            with warnings.catch_warnings():  # joblib's note that the tasks of a stopped run were cancelled
                warnings.simplefilter("ignore", UserWarning)
                stream.close()  # a run ended early stops its workers now, not when the generator is collected
            clean_temporaries(Path(job.out_dir), units)
    return sorted(results, key=lambda r: r["shard"])


def clean_temporaries(out_dir: Path, units: Sequence[WorkUnit]) -> None:
    """Remove the temporary files next to the shards of ``units`` whose writer is gone: a process of this
    host that no longer runs, or one of another host whose file was not written for
    ``FOREIGN_TEMPORARY_S``. A live writer's file (a run beside this one) is left alone."""
    here, now = host_name(), time.time()
    for unit in units:
        shard = out_dir / unit.shard
        for tmp in shard.parent.glob(f".{shard.stem}.*.tmp*"):
            writer = temporary_writer(tmp)
            if writer is not None and writer[0] == here and process_alive(writer[1]):
                continue
            if writer is not None and writer[0] != here:
                try:
                    if now - tmp.stat().st_mtime < FOREIGN_TEMPORARY_S:
                        continue
                except OSError:
                    continue
            tmp.unlink(missing_ok=True)


def run_dataset(*, dataset: str, builder: str, config: Any, out_dir: str | Path, workers: int = 1,
                scheduler: str | None = None, shard_index: int | None = None, num_shards: int | None = None,
                progress: bool = True) -> dict[str, Any]:
    """Plan, run and record one dataset: the driver behind ``sketchgen triplets`` and ``pairs``.

    config: the builder's frozen config (with ``collection``, ``seed`` and ``shapes``). Writes the
    shards and, for a whole run (no ``shard_index``), ``manifest.json``; array jobs leave the manifest
    to a final run without ``--shard-index``, which skips every complete shard. Returns
    {"units", "samples", "skipped", "errors", "manifest", "cpu_s", "shape_failures", "summary", "splits"}
    (splits: ``split_counts``; cpu_s: CPU seconds
    the units took; shape_failures: the collection's shapes that could not be read, as in the manifest).
    """
    from sketchgen.datagen.lock import output_lock
    from sketchgen.datagen.manifest import build_manifest, write_manifest
    from sketchgen.datagen.plan import config_shapes, config_splits, plan_units, select_units

    shapes, collection_failures = config_shapes(config)
    members = shapes.members()
    contents = shape_contents(shapes, members)
    fractions, assigned = config_splits(config)
    if assigned:
        unknown = sorted(set(assigned) - {s for s, _ in members})
        if unknown:
            log.warning("%s: %d shape id(s) of the split file are not in the collection: %s", config.splits,
                        len(unknown), ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else ""))
    units = plan_units(members, per_category=config.shapes, content=contents, fractions=fractions,
                       assigned=assigned)
    if not units:
        where = config.collection or "the bundled collection"
        raise InputError(f"{where}: no shapes could be loaded")
    check = getattr(importlib.import_module(builder), "check_request", None)
    if check is not None:
        check(config, shapes)
    mine = select_units(units, shard_index, num_shards)
    out_dir = Path(out_dir)
    with output_lock(out_dir, None if shard_index is None else (shard_index, num_shards)):
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
                            "shapes": {u.shape_id: contents[u.shape_id] for u in units},
                            "failures": collection_failures,
                            # from the units' summaries: the driver loads no shape to learn them
                            "notes": [{"shape": r["shape"], **n} for r in sorted(done, key=lambda r: r["shard"])
                                      for n in r.get("notes", [])]},
                results=done, failures=errors, out_dir=out_dir)
            manifest_path = str(write_manifest(out_dir, manifest))
    return {"units": len(mine), "samples": sum(r["samples"] for r in done),
            "skipped": sum(1 for r in done if r.get("skipped")), "errors": errors, "manifest": manifest_path,
            "cpu_s": sum(r.get("cpu_s", 0.0) for r in done), "shape_failures": collection_failures,
            "summary": build_summary(done, {u.shape_id: u.category for u in mine}),
            "splits": split_counts(mine, done)}


def split_counts(units: Sequence[WorkUnit], done: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """{split: {"shapes", "samples"}} of a run's units (every split, empty ones too): what the plan put in
    each split and what was made there."""
    from sketchgen.datagen.schema import SPLITS

    samples = {r["shard"]: r["samples"] for r in done}
    out = {split: {"shapes": 0, "samples": 0} for split in SPLITS}
    for u in units:
        out[u.split]["shapes"] += 1
        out[u.split]["samples"] += samples.get(u.shard, 0)
    return out


def shape_contents(shapes, members) -> dict[str, str]:
    """{shape_id: content hash} of a collection's ``members``: what ``plan_units`` keeps in one split."""
    return {s: shapes.content_hash(s) for s, _ in members}


# the sample kinds that pair two shapes (triplets' other-shape positives, shapes pairs)
CROSS_SHAPE_KINDS = ("other-shape", "shapes")


def build_summary(results: Sequence[dict[str, Any]], categories: dict[str, str] | None = None,
                  top: int = 3) -> dict[str, Any]:
    """What a run made, dropped and could not make, from its units' summaries.

    categories: {shape id: category} of the units, to find the categories whose cross-shape samples
    (``CROSS_SHAPE_KINDS``) were asked for and none made. Returns {"made": {kind: n}, "dropped": {kind:
    n}, "not_made": {kind: n}, "reasons": {"dropped" | "not-made": [[reason, n], ...] (the ``top`` most
    frequent, most first)}, "line": one line saying all that, "declined": {category: [not made, the
    most frequent reason]}, "declined_lines": one line per such category}. Units written before
    summaries counted kinds add their samples under "?"."""
    categories = categories or {}
    cross_made: dict[str, int] = {}
    cross_lost: dict[str, dict[str, int]] = {}
    for r in results:
        category = categories.get(r["shape"])
        if category is None:
            continue
        cross_made[category] = cross_made.get(category, 0) + sum((r.get("made") or {}).get(k, 0)
                                                                   for k in CROSS_SHAPE_KINDS)
        for f in r.get("failures", []):
            if f.get("outcome") == "not-made" and f.get("kind") in CROSS_SHAPE_KINDS:
                why = cross_lost.setdefault(category, {})
                why[f["reason"]] = why.get(f["reason"], 0) + int(f.get("count", 1))
    declined = {c: [sum(why.values()), max(sorted(why), key=lambda w: why[w])]
                for c, why in sorted(cross_lost.items()) if not cross_made.get(c)}
    declined_lines = [f"category {c}: no cross-shape sample made ({n} not made; most often: {why})"
                      for c, (n, why) in declined.items()]
    made: dict[str, int] = {}
    lost = {"dropped": {}, "not-made": {}}
    reasons = {"dropped": {}, "not-made": {}}
    for r in results:
        unit_made = r.get("made")
        for kind, n in (unit_made.items() if unit_made is not None else [("?", r["samples"])] if r["samples"] else []):
            made[kind] = made.get(kind, 0) + n
        for f in r.get("failures", []):
            outcome = f.get("outcome", "dropped")
            n = int(f.get("count", 1))
            kind = f.get("kind", "?")
            lost.setdefault(outcome, {})[kind] = lost.setdefault(outcome, {}).get(kind, 0) + n
            reasons.setdefault(outcome, {})[f["reason"]] = reasons.setdefault(outcome, {}).get(f["reason"], 0) + n

    def counts(d):
        return ", ".join(f"{k} {n}" for k, n in sorted(d.items())) or "none"

    ranked = {o: sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:top] for o, v in reasons.items()}
    line = f"made {sum(made.values())} ({counts(made)}); dropped {sum(lost['dropped'].values())} " \
           f"({counts(lost['dropped'])}); not made {sum(lost['not-made'].values())} ({counts(lost['not-made'])})"
    for outcome in ("not-made", "dropped"):
        if ranked[outcome]:
            line += f"; top {outcome.replace('-', ' ')} reasons: " + "; ".join(f"{why} ({n})" for why, n in ranked[outcome])
    return {"made": dict(sorted(made.items())), "dropped": dict(sorted(lost["dropped"].items())),
            "not_made": dict(sorted(lost["not-made"].items())),
            "reasons": {o: [[w, n] for w, n in v] for o, v in ranked.items()}, "line": line,
            "declined": declined, "declined_lines": declined_lines}
