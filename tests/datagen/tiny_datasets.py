"""Tiny collections and shard helpers shared by the dataset-builder tests."""

import hashlib
import json
from pathlib import Path

import numpy as np

from sketchgen.datagen.plan import assign_splits
from sketchgen.datagen.shards import read_shard
from sketchgen.ingest.procedural import load_spec


def tiny_spec(folder: Path, category: str = "chair", n: int = 2) -> Path:
    """A bundled-style spec with ``n`` shapes of ``category`` that share one split (so they are partners)."""
    entries = [e for e in load_spec()["shapes"] if e["category"] == category]
    splits = assign_splits([(e["id"], category) for e in entries])
    by_split = {}
    for e in entries:
        by_split.setdefault(splits[e["id"]], []).append(e)
    chosen = next(v for v in by_split.values() if len(v) >= n)[:n]
    path = Path(folder) / f"tiny_{category}.json"
    path.write_text(json.dumps({"version": 1, "seed": 0, "shapes": chosen}))
    return path


def shard_hashes(out: Path) -> dict[str, str]:
    """{relative path: sha256} of every shard and the manifest of a dataset folder."""
    out = Path(out)
    files = sorted(out.glob("*/*.tar")) + [out / "manifest.json"]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}


def samples(out: Path) -> list[dict]:
    """Every sample of a dataset folder, with its split, in shard order."""
    got = []
    for shard in sorted(Path(out).glob("*/*.tar")):
        for s in read_shard(shard):
            s["__split__"] = shard.parent.name
            got.append(s)
    return got


def any_spec(folder: Path, category: str, n: int) -> Path:
    """A bundled-style spec with the first ``n`` shapes of ``category`` (whatever their splits)."""
    entries = [e for e in load_spec()["shapes"] if e["category"] == category][:n]
    path = Path(folder) / f"any_{category}_{n}.json"
    path.write_text(json.dumps({"version": 1, "seed": 0, "shapes": entries}))
    return path


def ring_camera(azimuth_deg: float):
    """A 64 px camera 3 units from the origin at ``azimuth_deg`` about the y axis, looking at the origin."""
    from sketchgen.render.camera import Camera

    a = np.radians(azimuth_deg)
    return Camera.from_json({"position": [3 * np.sin(a), 0.0, 3 * np.cos(a)], "look_at": [0, 0, 0],
                             "up": [0, 1, 0], "yfov_deg": 40.0, "width": 64, "height": 64})
