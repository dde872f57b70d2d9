"""Part agreement of cross-shape samples, measured with true labels the builders are not given.

On the COSEG chairs (``../shared/corpus/coseg_chairs``: labels meant to be consistent, five chairs with
two labels swapped, as the corpus README says), builds two small datasets from a manifest of the chairs:

- ``intact``: the labels as shipped, declared consistent (parts paired by label);
- ``permuted``: every chair's label ids permuted at random (per shape, as the Princeton Segmentation
  Benchmark ships its segment ids), declared per-shape (``label_semantics`` column), so sketchgen must
  register them without reading labels as names.

For each it runs the triplet builder with every positive from another shape (``other_shape`` 1) and the
pair builder with ``shapes`` pairs only, then measures, against the true labels (the shipped ones with
labels 1 and 3 swapped back on chairs 101, 102, 103, 109 and 110):

- triplets: the fraction of other-shape positives on the same true part as their anchor;
- pairs: the fraction of flow vectors (A pixels carried to B, background in B skipped) that land on
  B's pixel of the same true part as A's pixel (face ids from G-buffers rendered again here);

and, for the intact set, the same against the labels as shipped. It also prints each build's summary
line (what was made, dropped, not made) and the correspondence methods recorded.

    python bench/bench_cross_shape.py [--views 4] [--points 6] [--pairs 4] [--seed 0] [--out DIR]
        [--sets intact,permuted]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "coseg_chairs"
SWAPPED = ("101", "102", "103", "109", "110")


def true_labels(stem: str, labels: np.ndarray) -> np.ndarray:
    """The corpus's labels of chair ``stem`` with 1 and 3 swapped back where the README says so."""
    if stem in SWAPPED:
        return np.where(labels == 1, 3, np.where(labels == 3, 1, labels))
    return labels


def write_manifest(folder: Path, *, permute: bool, seed: int) -> Path:
    """A manifest of the corpus chairs in ``folder``; with ``permute``, label files with per-shape
    permuted ids and the rows declared per-shape."""
    rng = np.random.default_rng(seed)
    rows = []
    for mesh in sorted((CORPUS / "shapes").glob("*.off"), key=lambda p: int(p.stem)):
        labels = np.loadtxt(CORPUS / "gt" / f"{mesh.stem}.seg", dtype=np.int64).reshape(-1)
        seg = folder / f"{mesh.stem}.seg"
        ids = rng.permutation(np.arange(1, 10)) if permute else np.arange(0, 10)
        np.savetxt(seg, ids[labels] if permute else labels, fmt="%d")
        rows.append({"mesh": str(mesh), "labels": str(seg), "category": "chair", "id": f"chair-{mesh.stem}",
                     "label_semantics": "per-shape" if permute else "consistent"})
    path = folder / "manifest.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def truth_of(shape, *, shipped: bool = False) -> np.ndarray:
    """(F,) int64 true (or, with ``shipped``, as-shipped) label of each face of a loaded chair."""
    stem = shape.shape_id.split("-", 1)[1]
    labels = np.loadtxt(CORPUS / "gt" / f"{stem}.seg", dtype=np.int64).reshape(-1)
    return (labels if shipped else true_labels(stem, labels))[shape.file_face]


def measure(manifest: Path, out: Path, args) -> dict:
    from sketchgen.datagen.execute import run_dataset
    from sketchgen.datagen.pairs import PairConfig
    from sketchgen.datagen.plan import config_shapes
    from sketchgen.datagen.shards import read_shard
    from sketchgen.datagen.sketchviews import ViewConfig
    from sketchgen.datagen.triplets import TripletConfig
    from sketchgen.render.camera import Camera
    from sketchgen.render.gbuffer import get_renderer

    result = {}
    t = time.perf_counter()
    tconfig = TripletConfig(collection=str(manifest), seed=args.seed, camera=ViewConfig(views=args.views, size=256),
                            points=args.points, other_shape=1.0, size=64, extra_negatives=())
    summary = run_dataset(dataset="triplets", builder="sketchgen.datagen.triplets", config=tconfig,
                          out_dir=out / "triplets", progress=False)
    result["triplets_line"] = summary["summary"]["line"]
    shapes, _ = config_shapes(tconfig)
    agree, agree_shipped, methods = [], [], Counter()
    for shard in sorted((out / "triplets").glob("*/*.tar")):
        for s in read_shard(shard):
            meta = json.loads(s["json"])
            if meta["positive_source"] != "shape":
                continue
            a, p = meta["anchor"], meta["positive"]
            sa, sp = shapes[a["shape"]], shapes[p["shape"]]
            agree.append(truth_of(sa)[a["face"]] == truth_of(sp)[p["face"]])
            agree_shipped.append(truth_of(sa, shipped=True)[a["face"]] == truth_of(sp, shipped=True)[p["face"]])
            methods[meta["correspondence"]["method"]] += 1
    result["triplets"] = {"positives": len(agree), "agreement": float(np.mean(agree)) if agree else None,
                          "agreement_shipped": float(np.mean(agree_shipped)) if agree else None,
                          "methods": dict(methods)}

    pconfig = PairConfig(collection=str(manifest), seed=args.seed, camera=ViewConfig(views=args.views, size=128),
                         pairs=args.pairs, kinds=("shapes",), modalities=("sketch-sketch",))
    summary = run_dataset(dataset="pairs", builder="sketchgen.datagen.pairs", config=pconfig, out_dir=out / "pairs",
                          progress=False)
    result["pairs_line"] = summary["summary"]["line"]
    renderer = get_renderer()
    hits = shipped_hits = total = 0
    methods = Counter()
    for shard in sorted((out / "pairs").glob("*/*.tar")):
        for s in read_shard(shard):
            meta = json.loads(s["json"])
            sa, sb = shapes[meta["a"]["shape"]], shapes[meta["b"]["shape"]]
            ca, cb = Camera.from_json(meta["a"]["camera"]), Camera.from_json(meta["b"]["camera"])
            fa = renderer.render(sa.trimesh, ca, normals=False).face_id
            fb = renderer.render(sb.trimesh, cb, normals=False).face_id
            flow = np.load(io.BytesIO(s["flow.npy"]))
            ys, xs = np.nonzero(np.isfinite(flow[..., 0]))
            tx = np.floor(xs + 0.5 + flow[ys, xs, 0]).astype(int)
            ty = np.floor(ys + 0.5 + flow[ys, xs, 1]).astype(int)
            inside = (tx >= 0) & (tx < fb.shape[1]) & (ty >= 0) & (ty < fb.shape[0])
            ys, xs, tx, ty = ys[inside], xs[inside], tx[inside], ty[inside]
            on_b = fb[ty, tx] >= 0
            face_a, face_b = fa[ys, xs][on_b], fb[ty, tx][on_b]
            ok = face_a >= 0
            hits += int(np.sum(truth_of(sa)[face_a[ok]] == truth_of(sb)[face_b[ok]]))
            shipped_hits += int(np.sum(truth_of(sa, shipped=True)[face_a[ok]] == truth_of(sb, shipped=True)[face_b[ok]]))
            total += int(ok.sum())
            methods[meta["correspondence"]["method"]] += 1
    result["pairs"] = {"pairs": sum(methods.values()), "flow_vectors": total,
                       "agreement": hits / total if total else None,
                       "agreement_shipped": shipped_hits / total if total else None, "methods": dict(methods)}
    result["seconds"] = round(time.perf_counter() - t, 1)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=4)
    parser.add_argument("--points", type=int, default=6, help="anchors per view (default 6)")
    parser.add_argument("--pairs", type=int, default=4, help="shapes pairs per chair (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="keep the datasets in this folder (default: a temporary one)")
    parser.add_argument("--sets", default="intact,permuted", help="which label sets to build (default both)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"{CORPUS}: not here; nothing measured", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.out) if args.out else Path(tmp)
        for name, permute in (("intact", False), ("permuted", True)):
            if name not in args.sets.split(","):
                continue
            folder = base / name
            folder.mkdir(parents=True, exist_ok=True)
            got = measure(write_manifest(folder, permute=permute, seed=args.seed), folder / "out", args)
            print(f"{name}: {json.dumps(got, indent=1)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
