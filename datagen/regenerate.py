"""One sample of a dataset made again, alone: for debugging a bad sample without rebuilding its shard.

Every random choice of a sample comes from its own generator (``datagen.plan.sample_rng``), the choices
its unit shares (cameras, partner shape, a view's anchors) from generators of their own, so building
only that sample (``build_unit(unit, config, only=index)``) gives the very bytes stored in the shard.
``regenerate_sample`` does so from a config; ``regenerate_key`` from a dataset folder's manifest.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from pathlib import Path

from sketchgen.errors import InputError

BUILDERS = {"triplets": ("sketchgen.datagen.triplets", "TripletConfig"),
            "pairs": ("sketchgen.datagen.pairs", "PairConfig")}


def regenerate_sample(dataset: str, config, shape_id: str, index: int, unit: int = 0) -> dict:
    """Sample ``index`` of unit ``unit`` of shape ``shape_id`` of a ``dataset`` ("triplets" or "pairs")
    built with ``config``, as the dict of members the shard holds (``__key__`` and bytes). Raises
    InputError when the shape is not in the plan or that sample was not made (its choices met a
    failure)."""
    from sketchgen.datagen.execute import shape_contents
    from sketchgen.datagen.plan import config_shapes, config_splits, plan_units

    module = importlib.import_module(_builder(dataset)[0])
    shapes, _ = config_shapes(config)
    members = shapes.members()
    fractions, assigned = config_splits(config)
    units = plan_units(members, per_category=config.shapes,  # the plan run_dataset made
                       content=shape_contents(shapes, members), fractions=fractions, assigned=assigned)
    found = [u for u in units if u.shape_id == shape_id and u.unit == unit]
    if not found:
        raise InputError(f"{config.collection or 'bundled collection'}: shape {shape_id!r} (unit {unit}) "
                         f"is not in this dataset's plan")
    samples, failures = module.build_unit(found[0], config, only=index)
    if not samples:
        reasons = ", ".join(f["reason"] for f in failures) or "no sample of that index"
        raise InputError(f"{shape_id}: sample {index} of unit {unit} is not made ({reasons})")
    # as the shard holds it: text members are UTF-8 bytes
    return {k: v.encode("utf-8") if isinstance(v, str) and k != "__key__" else v for k, v in samples[0].items()}


def regenerate_key(dataset_dir: str | Path, key: str) -> dict:
    """The sample called ``key`` of the dataset in ``dataset_dir``, made again from its manifest's
    config. Raises InputError naming the folder or the key when either cannot be used."""
    from sketchgen.datagen.manifest import read_dataset_manifest
    from sketchgen.datagen.plan import config_shapes
    from sketchgen.datagen.schema import MANIFEST, sample_key

    path = Path(dataset_dir) / MANIFEST
    if not path.exists():
        raise InputError(f"{path}: no manifest (only a finished dataset can be regenerated from)")
    manifest = read_dataset_manifest(path)
    dataset = manifest.get("dataset")
    module_name, config_name = _builder(dataset)
    if not isinstance(manifest.get("config"), dict):
        raise InputError(f"{path}: holds no builder config (not a manifest sketchgen wrote)")
    cls = getattr(importlib.import_module(module_name), config_name)
    config = from_jsonable(cls, upgrade_config(cls, manifest["config"]))
    try:
        _, unit, index = key.rsplit("_", 2)
        unit, index = int(unit), int(index)
    except ValueError:
        raise InputError(f"{key!r} is not a sample key (<shape>_<unit>_<index>)") from None
    shapes, _ = config_shapes(config)
    ids = [s for s, _ in shapes.members() if sample_key(s, unit, index) == key]
    if not ids:
        raise InputError(f"{path}: no shape of the collection gives the key {key!r}")
    return regenerate_sample(dataset, config, ids[0], index, unit)


def _builder(dataset: str | None) -> tuple[str, str]:
    if dataset not in BUILDERS:
        raise InputError(f"unknown dataset kind {dataset!r} (expected {', '.join(BUILDERS)})")
    return BUILDERS[dataset]


def from_jsonable(cls, data):
    """A config dataclass from its ``manifest.to_jsonable`` form: nested dataclasses rebuilt, lists
    made tuples (the configs are frozen and hold tuples), unknown keys refused."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InputError(f"{cls.__name__}: unknown fields {', '.join(sorted(unknown))} in the manifest's config")
    kwargs = {}
    for name, value in data.items():
        kind = hints.get(name)
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            kwargs[name] = from_jsonable(kind, value)
        else:
            kwargs[name] = _tuples(value)
    return cls(**kwargs)


def upgrade_config(cls, data: dict) -> dict:
    """A manifest's config as ``cls`` names its fields today. Datasets built before the one drawing
    configuration recorded ``lines`` (kinds, crease_deg, spacing_px, width): now ``drawing``
    (``render.draw.DrawConfig``: lines, crease_deg, width) and, for triplets, ``spacing_px``."""
    if "lines" not in data or "drawing" in data:
        return data
    data = dict(data)
    drawing = dict(data.pop("lines"))
    spacing = drawing.pop("spacing_px", None)
    if "kinds" in drawing:
        drawing["lines"] = drawing.pop("kinds")
    data["drawing"] = drawing
    if spacing is not None and "spacing_px" in {f.name for f in dataclasses.fields(cls)}:
        data["spacing_px"] = spacing
    return data


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value
