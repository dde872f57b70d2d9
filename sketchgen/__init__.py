"""sketchgen: line-drawing datasets with exact point correspondences from part-registered 3D meshes,
and the models that consume them.

One import namespace. The repository's top-level folders are its subpackages (the mapping is in
``pyproject.toml``), one per stage of the data's flow, collection -> drawing -> sample -> shard -> model:

- ``sketchgen.ingest``: collections. Mesh files in the layouts users bring (or the bundled procedural
  shapes) read into ``PartMesh`` records with part labels and keypoints, in the unit-sphere frame.
- ``sketchgen.render``: drawings. Cameras, G-buffers, lines, strokes, styles, rasterisation, shading.
- ``sketchgen.datagen``: samples and shards. Correspondence between shapes and views, the triplet and
  pair builders, WebDataset shards and their manifest, parallel runs, exports to the papers' layouts.
- ``sketchgen.train``: models. Shard readers, the descriptor and the warp estimator, training,
  evaluation.
- ``sketchgen.cli``: the ``sketchgen`` command, one module per subcommand.

Imports only go down that list (``tests/test_layers.py``): ``render`` never imports ``ingest``,
``datagen`` or ``train``; ``ingest`` never imports ``datagen`` or ``train``; only ``cli`` imports
``cli``. Under every layer: ``sketchgen.errors`` (``InputError``, ``UsageError``), ``sketchgen.files``
(atomic writes) and ``sketchgen.named`` (lists of named numbers). Nothing else is installed at top
level, so a user's own ``train.py`` or ``render.py`` never shadows them.

The entry points a user needs from Python are exported here and imported on first use, so that
``import sketchgen`` loads neither OpenGL nor torch:

- ``load_collection(path=None)`` -> ``Collection`` (``sketchgen.ingest.collection``)
- ``Camera``, ``DrawConfig``, ``draw_views(mesh, cameras, config)`` (``sketchgen.render``)
- ``read_shard(path)``, ``write_shard(path, samples)`` (``sketchgen.datagen.shards``)
- ``triplet_stream(root, split)``, ``pair_stream(root, split)`` (``sketchgen.train.triplets``,
  ``sketchgen.train.pairs``; need torch)
- ``InputError``, ``UsageError``: the errors every layer raises (``sketchgen.errors``)
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_collection": "sketchgen.ingest.collection",
    "Collection": "sketchgen.ingest.collection",
    "Camera": "sketchgen.render.camera",
    "DrawConfig": "sketchgen.render.draw",
    "draw_views": "sketchgen.render.draw",
    "read_shard": "sketchgen.datagen.shards",
    "write_shard": "sketchgen.datagen.shards",
    "triplet_stream": "sketchgen.train.triplets",
    "pair_stream": "sketchgen.train.pairs",
    "InputError": "sketchgen.errors",
    "UsageError": "sketchgen.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sketchgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
