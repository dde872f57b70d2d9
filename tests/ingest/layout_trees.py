"""Small trees laid out and named as the public datasets ship them, for the layout tests.

Every shape is made of unit boxes (12 faces each) set side by side along x, so that a face's part is
known from its position: box k spans x in [2k - 0.5, 2k + 0.5].
"""

from __future__ import annotations

import json

import numpy as np
import trimesh

CHAIR = "03001627"
MUG = "03797390"


def boxes(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n unit boxes along x: ((8n, 3) float64 vertices, (12n, 3) int64 faces, (12n,) int64 box index)."""
    verts, faces = [], []
    for k in range(n):
        box = trimesh.creation.box()
        verts.append(np.asarray(box.vertices) + [2.0 * k, 0, 0])
        faces.append(np.asarray(box.faces) + 8 * k)
    return np.concatenate(verts), np.concatenate(faces), np.repeat(np.arange(n), 12)


def write_grouped_obj(path, groups: list[str]) -> None:
    """An OBJ with one ``g``/``usemtl`` block of 12 faces per group, as ShapeNet's OBJs are written."""
    v, f, _ = boxes(len(groups))
    lines = [f"mtllib {path.stem}.mtl"] + [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
    for k, name in enumerate(groups):
        lines += [f"g {name}", f"usemtl mat_{name}"] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f[12 * k:12 * k + 12]]
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".mtl").write_text("".join(f"newmtl mat_{g}\nKd 0.8 0.8 0.8\n" for g in groups))


def write_off(path, n_boxes: int) -> None:
    v, f, _ = boxes(n_boxes)
    lines = ["OFF", f"{len(v)} {len(f)} 0"] + [f"{x} {y} {z}" for x, y, z in v] + [f"3 {a} {b} {c}" for a, b, c in f]
    path.write_text("\n".join(lines) + "\n")


def write_labels(path, labels) -> None:
    path.write_text("\n".join(str(int(x)) for x in labels) + "\n")


def shapenetcore_v2(root, models: dict[str, list[str]], synset: str = CHAIR) -> None:
    """``<synset>/<model_id>/models/model_normalized.{obj,mtl,json}`` plus ``images/``, as ShapeNetCore.v2
    ships; ``models``: {model_id: its OBJ group names}."""
    for model_id, groups in models.items():
        d = root / synset / model_id / "models"
        d.mkdir(parents=True)
        write_grouped_obj(d / "model_normalized.obj", groups)
        n = 8 * len(groups)
        (d / "model_normalized.json").write_text(json.dumps({  # ShapeNet's own metadata
            "max": [2 * len(groups) - 1.5, 0.5, 0.5], "centroid": [len(groups) - 1.0, 0, 0], "id": model_id,
            "numVertices": n, "min": [-0.5, -0.5, -0.5]}))
        (d.parent / "images").mkdir()
        (d.parent / "images" / "texture0.jpg").write_bytes(b"\xff\xd8\xff")


def shapenet_part(root, models: dict[str, int], synset: str = CHAIR, transform=None, n_points: int = 600) -> None:
    """ShapeNet-Part's benchmark tree: ``synsetoffset2category.txt``, ``<synset>/points/<id>.pts``,
    ``<synset>/points_label/<id>.seg`` (1-based label per point: box k -> k + 1) and ``seg_img/``.
    models: {model_id: number of boxes}; transform: (4, 4) applied to the points (another frame)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "synsetoffset2category.txt").write_text(f"Chair\t{CHAIR}\nMug\t{MUG}\n")
    for d in ("points", "points_label", "seg_img"):
        (root / synset / d).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for model_id, n in models.items():
        v, f, box = boxes(n)
        mesh = trimesh.Trimesh(v, f, process=False)
        face = rng.choice(len(f), n_points, p=mesh.area_faces / mesh.area)
        bary = rng.dirichlet(np.ones(3), n_points)
        pts = np.einsum("nk,nkd->nd", bary, v[f[face]])
        if transform is not None:
            pts = trimesh.transform_points(pts, transform)
        np.savetxt(root / synset / "points" / f"{model_id}.pts", pts, fmt="%.5f")
        write_labels(root / synset / "points_label" / f"{model_id}.seg", box[face] + 1)


def partnet(root, anno_id: str, *, model_cat: str = "Chair", missing=(), empty=(), mobility: bool = False) -> None:
    """A PartNet v0 shape ``<anno_id>/{meta.json, result.json, objs/new-<k>.obj}`` (PartNet-Mobility:
    ``textured_objs/original-<k>.obj``): parts seat (leaf 0), back (leaf 1), base (legs: leaves 2, 3).
    missing: leaf numbers named in the tree but absent; empty: leaves with vertices and no faces."""
    d = root / anno_id
    objs = d / ("textured_objs" if mobility else "objs")
    objs.mkdir(parents=True)
    stem = "original" if mobility else "new"
    v, f, _ = boxes(4)
    for k in range(4):
        if k in missing:
            continue
        body = "".join(f"v {x} {y} {z}\n" for x, y, z in v[8 * k:8 * k + 8])
        if k not in empty:
            body += "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in f[12 * k:12 * k + 12] - 8 * k)
        (objs / f"{stem}-{k}.obj").write_text(body)
    leaf = lambda k: [f"{stem}-{k}"]  # noqa: E731
    tree = [{"text": model_cat, "name": model_cat.lower(), "id": 0, "children": [
        {"text": "Seat", "name": "chair_seat", "id": 1, "children": [{"name": "seat_surface", "id": 4, "objs": leaf(0)}]},
        {"text": "Back", "name": "chair_back", "id": 2, "children": [{"name": "back_surface", "id": 5, "objs": leaf(1)}]},
        {"text": "Base", "name": "chair_base", "id": 3, "children": [
            {"name": "leg", "id": 6, "objs": leaf(2)}, {"name": "leg", "id": 7, "objs": leaf(3)}]}]}]
    (d / "result.json").write_text(json.dumps(tree))
    (d / "meta.json").write_text(json.dumps({"model_cat": model_cat, "anno_id": anno_id, "model_id": f"m{anno_id}"}))


def keypointnet(root, models: list[str], missing_mesh: str | None = None) -> None:
    """KeypointNet as shipped: ``annotations/chair.json`` (all chairs), ``ShapeNetCore.v2.ply/<synset>/
    <model_id>.ply`` and ``pcds/<synset>/<model_id>.pcd``. Model k has k + 1 keypoints, keypoint j on
    face 12 j + 3 with weights (0.2, 0.3, 0.5). missing_mesh: a model annotated but without its PLY."""
    (root / "annotations").mkdir(parents=True)
    (root / "ShapeNetCore.v2.ply" / CHAIR).mkdir(parents=True)
    (root / "pcds" / CHAIR).mkdir(parents=True)
    entries = []
    for k, model_id in enumerate(models + ([missing_mesh] if missing_mesh else [])):
        v, f, _ = boxes(3)
        if model_id != missing_mesh:
            trimesh.Trimesh(v, f, process=False).export(root / "ShapeNetCore.v2.ply" / CHAIR / f"{model_id}.ply")
            (root / "pcds" / CHAIR / f"{model_id}.pcd").write_text("# .PCD v0.7\n")
        kps = [{"xyz": (np.array([0.2, 0.3, 0.5]) @ v[f[12 * j + 3]]).tolist(), "semantic_id": j,
                "pcd_info": {"point_index": j}, "mesh_info": {"face_index": 12 * j + 3, "face_uv": [0.2, 0.3, 0.5]}}
               for j in range(k + 1)]
        entries.append({"class_id": CHAIR, "model_id": model_id, "keypoints": kps})
    (root / "annotations" / "chair.json").write_text(json.dumps(entries))
    (root / "annotations" / "all.json").write_text(json.dumps(entries))


def psb_benchmark(root, models: dict[int, int]) -> None:
    """The Princeton Segmentation Benchmark as shipped: ``off/<n>.off`` and ``seg/Benchmark/<n>/<n>_<k>.seg``
    (human segmentations; the first labels box b as b, the second all 0) plus an algorithm's folder.
    models: {model number: boxes}."""
    (root / "off").mkdir(parents=True)
    for n, n_boxes in models.items():
        write_off(root / "off" / f"{n}.off", n_boxes)
        seg = root / "seg" / "Benchmark" / str(n)
        seg.mkdir(parents=True)
        write_labels(seg / f"{n}_0.seg", np.repeat(np.arange(n_boxes), 12))
        write_labels(seg / f"{n}_1.seg", np.zeros(12 * n_boxes, int))
        (root / "seg" / "KMeans" / str(n)).mkdir(parents=True)
        write_labels(root / "seg" / "KMeans" / str(n) / f"{n}_0.seg", np.ones(12 * n_boxes, int))


def coseg(root, sets: dict[str, int]) -> None:
    """COSEG: ``<set>/shapes/<k>.off`` + ``<set>/gt/<k>.seg`` (box b labelled b + 1); sets: {name: shapes},
    shape k (from 1) of a set has k + 1 boxes."""
    for name, count in sets.items():
        (root / name / "shapes").mkdir(parents=True)
        (root / name / "gt").mkdir(parents=True)
        for k in range(1, count + 1):
            write_off(root / name / "shapes" / f"{k}.off", k + 1)
            write_labels(root / name / "gt" / f"{k}.seg", np.repeat(np.arange(k + 1), 12) + 1)
