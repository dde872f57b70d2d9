"""Planning a dataset: shapes -> splits -> work units, and the seed of every unit.

A work unit is one shape: it renders that shape's views and writes one shard. Every random choice in a
unit comes from a generator seeded by (global seed, shape id, unit index) through
``np.random.SeedSequence``, with the shape id hashed by SHA-256 (never Python's ``hash()``, which is
salted per process), so any unit can be regenerated alone and the output does not depend on how many
workers ran the plan, nor in which order.

Splits are by shape: a shape id hashes to a number in [0, 1) that picks train/val/test (80/10/10 by
default); a category with at least 3 shapes is then given at least one test and one train shape. No
shape is in two splits, and the partners a unit may take positives from share its split.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from sketchgen.datagen.stylemix import CLEAN, check_style_mix
from sketchgen.render.draw import DrawConfig

log = logging.getLogger(__name__)

DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


def id_words(text: str) -> list[int]:
    """Four uint32 words of SHA-256(text): a process-independent integer hash of an id."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [int.from_bytes(digest[4 * k:4 * k + 4], "little") for k in range(4)]


def unit_seed(seed: int, shape_id: str, unit: int) -> np.random.SeedSequence:
    """The seed sequence of unit ``unit`` of shape ``shape_id`` under global seed ``seed``."""
    if seed < 0 or unit < 0:
        raise ValueError("seed and unit index must be non-negative")
    return np.random.SeedSequence([int(seed), *id_words(shape_id), int(unit)])


def unit_rng(seed: int, shape_id: str, unit: int) -> np.random.Generator:
    """A PCG64 generator seeded by (seed, shape id, unit index)."""
    return np.random.Generator(np.random.PCG64(unit_seed(seed, shape_id, unit)))


def sample_rng(seed: int, shape_id: str, unit: int, index: int, *, stream: int = 0) -> np.random.Generator:
    """A PCG64 generator seeded by (seed, shape id, unit, sample index): every random choice of one
    sample, so it can be regenerated alone and no option of one sample shifts another's. stream: a
    separate generator for choices shared by several samples of a unit (1: a view's anchors)."""
    if seed < 0 or unit < 0 or index < 0:
        raise ValueError("seed, unit and sample index must be non-negative")
    words = [int(seed), *id_words(shape_id), int(unit), int(stream), int(index)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))


def split_fraction(shape_id: str) -> float:
    """Deterministic number in [0, 1) from the shape id alone (not the seed: splits stay put)."""
    return id_words("split:" + shape_id)[0] / 2.0 ** 32


def assign_splits(shapes: Iterable[tuple[str, str]],
                  fractions: Sequence[float] = DEFAULT_FRACTIONS) -> dict[str, str]:
    """Split shapes by hashing their ids.

    shapes: (shape_id, category) pairs, ids unique. fractions: (train, val, test), summing to 1.
    Returns shape_id -> "train" | "val" | "test". A category with >= 3 shapes gets >= 1 test shape
    (the one with the largest hash fraction among the others) and >= 1 train shape.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    by_category: dict[str, list[str]] = {}
    for shape_id, category in shapes:
        by_category.setdefault(category, []).append(shape_id)
    cut_val = fractions[0]
    cut_test = fractions[0] + fractions[1]
    out: dict[str, str] = {}
    for category, ids in sorted(by_category.items()):
        frac = {s: split_fraction(s) for s in ids}
        for s in ids:
            h = frac[s]
            out[s] = "train" if h < cut_val else ("val" if h < cut_test else "test")
        if len(ids) >= 3:
            ranked = sorted(ids, key=lambda s: (frac[s], s))
            if not any(out[s] == "test" for s in ids):
                out[ranked[-1]] = "test"
            if not any(out[s] == "train" for s in ids):
                out[ranked[0]] = "train"
    return out


@dataclass(frozen=True)
class WorkUnit:
    """One shape's share of a dataset: it writes the shard ``shard`` (relative to the output folder).

    partners: ids of the other shapes of the same category and split (positives may come from them).
    """

    index: int
    shape_id: str
    category: str
    split: str
    unit: int
    partners: tuple[str, ...]

    @property
    def shard(self) -> str:
        return f"{self.split}/{safe_id(self.shape_id)}-{self.unit:03d}.tar"

    def rng(self, seed: int) -> np.random.Generator:
        return unit_rng(seed, self.shape_id, self.unit)

    def sample_rng(self, seed: int, index: int, *, stream: int = 0) -> np.random.Generator:
        return sample_rng(seed, self.shape_id, self.unit, index, stream=stream)


def safe_id(shape_id: str) -> str:
    """The shape's name in file names and keys, one to one with the id (``datagen.schema.id_name``)."""
    from sketchgen.datagen.schema import id_name

    return id_name(shape_id)


def select_shapes(shapes: Iterable[tuple[str, str]], per_category: int | None) -> list[tuple[str, str]]:
    """At most ``per_category`` shapes per category (the first by id), sorted by (category, id)."""
    if per_category is not None and per_category < 1:
        raise ValueError(f"--shapes must be at least 1, got {per_category}")
    by_category: dict[str, list[str]] = {}
    for shape_id, category in shapes:
        by_category.setdefault(category, []).append(shape_id)
    chosen = []
    for category in sorted(by_category):
        ids = sorted(by_category[category])
        if per_category is not None:
            ids = ids[:per_category]
        chosen.extend((s, category) for s in ids)
    return chosen


def plan_units(shapes: Iterable[tuple[str, str]], *, per_category: int | None = None,
               fractions: Sequence[float] = DEFAULT_FRACTIONS,
               content: Mapping[str, str] | None = None,
               assigned: Mapping[str, str] | None = None) -> list[WorkUnit]:
    """All work units of a dataset, one per shape, in (category, shape id) order.

    shapes: (shape_id, category) pairs. fractions: (train, val, test) of the hashed split.
    assigned: {shape_id: split} chosen by the user (``read_split_file``), which those shapes keep; the
    others are split by hash. content: {shape_id: content hash} (``shapes.content_hash``): shapes of one
    content (a mesh copied under two names) share the split of the first of them by id, so no mesh is
    in two splits. The plan depends only on these and the options, so every worker (and every array
    job) computes the same one. Raises ValueError for repeated ids.
    """
    chosen = select_shapes(shapes, per_category)
    ids = [s for s, _ in chosen]
    if len(set(ids)) != len(ids):
        raise ValueError("shape ids must be unique")
    splits = assign_splits(chosen, fractions)
    if assigned:
        splits.update({s: assigned[s] for s in ids if s in assigned})
    if content:
        # one content, one split: that of its first shape by id the user assigned a split, else its first
        first: dict[str, str] = {}
        for s in sorted(ids, key=lambda s: (not (assigned and s in assigned), s)):
            first.setdefault(content.get(s, s), s)
        if assigned:
            for s in ids:
                lead = first[content.get(s, s)]
                if s in assigned and assigned[s] != splits[lead]:
                    log.warning(
                        "shape %s is a copy of %s: it goes to %s with it, not to %s as the split file says",
                        s, lead, splits[lead], assigned[s])
        splits = {s: splits[first[content.get(s, s)]] for s in ids}
    units = []
    for index, (shape_id, category) in enumerate(chosen):
        split = splits[shape_id]
        partners = tuple(s for s, c in chosen if c == category and s != shape_id and splits[s] == split)
        units.append(WorkUnit(index, shape_id, category, split, 0, partners))
    shards: dict[str, str] = {}
    for u in units:  # names are one to one with ids (schema.id_name); a digest collision is refused
        other = shards.setdefault(u.shard.casefold(), u.shape_id)
        if other != u.shape_id:
            raise ValueError(f"shapes {other!r} and {u.shape_id!r} would write one shard, {u.shard}")
    return units


def select_units(units: Sequence[WorkUnit], shard_index: int | None, num_shards: int | None) -> list[WorkUnit]:
    """The units of array job ``shard_index`` of ``num_shards`` (round robin), or all of them."""
    if shard_index is None and num_shards is None:
        return list(units)
    if shard_index is None or num_shards is None:
        raise ValueError("--shard-index and --num-shards go together")
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise ValueError(f"need 0 <= --shard-index < --num-shards, got {shard_index} and {num_shards}")
    return [u for u in units if u.index % num_shards == shard_index]



class LoadedShapes(dict):
    """``{shape_id: PartMesh}`` of a collection loaded whole (the bundled one, a spec), with the
    interface of ``ingest.index.IndexedShapes``."""

    def members(self) -> list[tuple[str, str]]:
        return [(s.shape_id, s.category) for s in self.values()]

    def content_hash(self, shape_id: str) -> str:
        return shape_hash(self[shape_id])


_SHAPES: dict[tuple, tuple[Mapping, list]] = {}


def parse_splits(text: str) -> tuple[float, float, float] | str:
    """``--splits``: three fractions ``"0.7,0.15,0.15"`` (train, val, test, summing to 1), or the path of a
    split file (``read_split_file``), returned absolute. Raises ValueError naming what is wrong."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        fractions = tuple(float(p) for p in parts)
    except ValueError:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"--splits {text!r}: neither three fractions (train,val,test) nor a file") from None
        return str(path.resolve())
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"--splits {text!r}: three non-negative fractions (train,val,test) summing to 1")
    return fractions


def read_split_file(path: str | Path) -> dict[str, str]:
    """{shape id: split} of a split file: JSON ``{"id": "train", ...}``, or text with one ``id split``
    per line (comma, tab or spaces between; a header ``id,split`` and ``#`` comments skipped). Raises
    InputError naming the file and the line for a split that is not train, val or test, or an id given
    twice."""
    import json

    from sketchgen.errors import InputError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the split file ({exc})") from None
    if text.lstrip().startswith("{"):
        try:
            rows = [(str(k), str(v), n) for n, (k, v) in enumerate(json.loads(text).items(), 1)]
        except (ValueError, AttributeError) as exc:
            raise InputError(f"{path}: not a JSON object of id -> split ({exc})") from None
    else:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [f for f in re.split(r"[,\t ]+", line) if f]
            if len(fields) != 2:
                raise InputError(f"{path}:{n}: expected 'id split', got {line!r}")
            if n == 1 and fields[1].lower() == "split":
                continue
            rows.append((fields[0], fields[1], n))
    out: dict[str, str] = {}
    for shape_id, split, n in rows:
        if split not in ("train", "val", "test"):
            raise InputError(f"{path}:{n}: split {split!r} of {shape_id!r} is not train, val or test")
        if shape_id in out:
            raise InputError(f"{path}:{n}: {shape_id!r} is given twice")
        out[shape_id] = split
    return out


DATASET_WIDTH_PX = 1.5  # the builders' stroke width (``sketchgen draw``'s own default is 1 px)


@dataclass(frozen=True)
class DatasetConfig:
    """What every dataset builder's config holds (``datagen.triplets.TripletConfig``,
    ``datagen.pairs.PairConfig`` extend it; the manifest records it): which shapes of which collection,
    how they load, trust their correspondences and split, the global seed, the lines drawn and their style.

    drawing: which lines and how wide (``render.draw.DrawConfig``, as ``sketchgen draw`` takes it; a
    dataset's strokes are ``DATASET_WIDTH_PX`` wide unless set). Its ``style`` and ``seed`` stay at
    "clean" and 0: a dataset draws each sample in a style of its ``style`` mix, seeded per sample
    (``sample_rng``)."""

    collection: str | None = None
    seed: int = 0
    shapes: int | None = None  # at most this many shapes per category (None: all)
    # (train, val, test) fractions of the hashed split, or a split file naming shapes' splits (parse_splits);
    # None: 80/10/10
    splits: tuple[float, float, float] | str | None = None
    strict: bool = False  # shapes whose data is in doubt fail instead of loading with a note
    max_faces: int | None = None  # meshes over this many faces are decimated as they load (None: never)
    drawing: DrawConfig = field(default_factory=lambda: DrawConfig(width=DATASET_WIDTH_PX))
    # a mix of drawing styles, picked per sample (``datagen.stylemix``)
    style: tuple[tuple[str, float], ...] = CLEAN
    # cross-shape samples carry only correspondences whose confidence reaches this (``datagen.registration``)
    min_confidence: float = 0.5
    # declared label semantics (None: as the layout says) and the collection's axes (``ingest.collection``)
    labels: str | None = None
    up_axis: str = "+y"
    front_axis: str = "+z"

    def __post_init__(self):
        """Raise ValueError naming the first setting out of its range (a builder's config checks its own
        settings after these)."""
        object.__setattr__(self, "style", check_style_mix(self.style))
        if (self.drawing.style, self.drawing.seed) != ("clean", 0):
            raise ValueError("a dataset's drawing style is its style mix and its seeds are per sample: leave "
                             f"drawing.style and drawing.seed at 'clean' and 0, got {self.drawing.style!r} and "
                             f"{self.drawing.seed}")
        if self.shapes is not None and self.shapes < 1:
            raise ValueError(f"--shapes must be at least 1, got {self.shapes}")
        if self.seed < 0:
            raise ValueError(f"the seed must be >= 0, got {self.seed}")
        if self.max_faces is not None and self.max_faces < 1:
            raise ValueError(f"--max-faces must be at least 1, got {self.max_faces}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"minimum confidence must lie in [0, 1], got {self.min_confidence}")
        from sketchgen.ingest.collection import LoadOptions

        LoadOptions.of(self)  # ValueError naming a bad label semantics or axis


def config_splits(config) -> tuple[Sequence[float], dict[str, str] | None]:
    """(fractions, assigned) of a dataset config's ``splits`` (``parse_splits``; None: 80/10/10)."""
    splits = getattr(config, "splits", None)
    if splits is None:
        return DEFAULT_FRACTIONS, None
    if isinstance(splits, str):
        return DEFAULT_FRACTIONS, read_split_file(splits)
    return tuple(splits), None


def config_shapes(config) -> tuple[Mapping, list[dict]]:
    """``load_shapes`` of a dataset config: its ``collection``, ``strict``, ``max_faces`` and load
    options (declared label semantics, orientation; ``ingest.collection.LoadOptions.of``), each
    optional on the config."""
    from sketchgen.ingest.collection import LoadOptions

    return load_shapes(config.collection, strict=getattr(config, "strict", False),
                       max_faces=getattr(config, "max_faces", None), options=LoadOptions.of(config))


def load_shapes(path: str | None, strict: bool = False, max_faces: int | None = None,
                options=None) -> tuple[Mapping, list[dict]]:
    """The collection at ``path`` (None: the bundled one) as ({shape_id: PartMesh}, failures).

    failures: [{"file", "shape", "category", "reason"}] for shapes known not to load. A collection of
    files comes from its index (``ingest.index``): the mapping knows every id and category and loads
    a shape (from the per-shape cache) only when looked up, keeping a few, so a process's memory does
    not grow with the collection. The bundled collection and specs are generated whole. Kept per
    process: every unit a worker runs reads the same collection. strict: shapes whose data is in doubt
    fail (``ingest.index.load_entry``); otherwise their warnings are on ``PartMesh.notes``. max_faces:
    meshes over this many faces are decimated part by part as they load (``ingest.decimate``; cached
    decimated), so a unit holds at most that many faces of each shape.
    options: a ``ingest.collection.LoadOptions`` (declared label semantics, orientation).
    """
    from sketchgen.ingest.collection import collection_rows, load_collection
    from sketchgen.ingest.index import IndexedShapes, build_index, index_file_for

    from sketchgen.ingest.collection import LoadOptions

    options = None if options == LoadOptions() else options  # the defaults change nothing: one entry
    key = (None if path is None else str(path), bool(strict), max_faces, options)
    if key not in _SHAPES:
        found = None if key[0] is None else collection_rows(key[0])
        if found is None:
            collection = load_collection(key[0], strict=key[1], max_faces=max_faces, options=options)
            shapes, failed = LoadedShapes((s.shape_id, s) for s in collection.shapes), collection.failures
        else:
            rows, root = found
            index = build_index(rows, root, index_file_for(root), progress=sys.stderr.isatty())
            shapes, failed = IndexedShapes(index, strict=key[1], max_faces=max_faces, options=options), index.failures
        failures = [{"file": str(f.path), "shape": f.shape_id, "category": f.category, "reason": f.reason}
                    for f in failed]
        _SHAPES[key] = (shapes, failures)
    return _SHAPES[key]


def shape_hash(shape) -> str:
    """SHA-256 of a PartMesh's arrays: vertices, faces, labels, keypoints."""
    from sketchgen.datagen.manifest import array_hash

    kp = shape.keypoints
    return array_hash(shape.vertices, shape.faces, shape.face_labels, kp.face, kp.bary, kp.semantic_id)
