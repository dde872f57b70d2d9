"""Dataset layouts: recognising the trees users already have and listing their shapes, without
building a single mesh.

``discover(root, part_labels=None) -> list[dict]`` walks ``root`` once and returns one *row* per shape,
sorted by mesh path (then id), so the same tree always gives the same rows. A link back into the tree
is not followed, and a file reached twice (a link, a hard link) is one shape (``_walk``,
``_one_row_per_file``). Every layout is read in
place, as the dataset ships it:

``shapenetcore-v2``
    ``<synset>/<model_id>/models/model_normalized.obj`` (ShapeNetCore.v2; ``model_normalized.json``,
    ShapeNet's metadata, is ignored) and v1's ``<synset>/<model_id>/model.obj``. id = model id,
    category = the synset's name (``taxonomy.json`` at the root when present, else ``SHAPENETCORE_SYNSETS``).
    Parts: the OBJ's groups (or materials).
``shapenet-part``
    ShapeNet-Part's ``<synset>/points/<model_id>.pts`` + ``<synset>/points_label/<model_id>.seg``
    (Yi et al. 2016, the ``shapenetcore_partanno_segmentation_benchmark_v0`` release), or the
    ``..._v0_normal`` release's ``<synset>/<model_id>.txt`` (``x y z nx ny nz label`` per point; the
    row's ``points`` and ``labels`` are then that one file) holds points, not meshes: its labels are joined to the ShapeNetCore meshes by model id, when both trees lie under
    ``root`` or when ``part_labels`` names the ShapeNet-Part tree. Only meshes with labels are listed
    then (layout ``shapenetcore-v2+shapenet-part``); labels reach the faces by nearest point, checked
    (``ingest.loaders.transfer_point_labels``).
``partnet`` / ``partnet-mobility``
    ``<anno_id>/result.json`` (the part tree) + ``objs/`` (PartNet v0) or ``textured_objs/``
    (PartNet-Mobility). id = the directory (anno id), category = ``meta.json``'s ``model_cat``, else
    the part tree's root name; ``model_id`` = ``meta.json``'s ShapeNet id. Parts: the first level of
    the part tree that splits (``ingest.loaders.partnet_parts``).
``keypointnet``
    ``annotations/<class>.json`` (KeypointNet, You et al. 2020: a list of ``{class_id, model_id,
    keypoints}``) with the meshes anywhere under the annotations' parent, found by model id
    (``ShapeNetCore.v2.ply/<class_id>/<model_id>.ply`` as shipped; a PLY is preferred, since face
    indices refer to the PLY's face order). id = model id, category = the synset's name, else the
    annotation file's stem.
``coseg``
    COSEG (Wang et al. 2012): ``<set>/shapes/<n>.off`` + ``<set>/gt/<n>.seg`` (one label per face).
    id = ``<set>-<n>``, category = the set's name.
``psb``
    Princeton Segmentation Benchmark (Chen et al. 2009) as shipped, ``off/<n>.off`` +
    ``seg/Benchmark/<n>/<n>_<k>.seg`` (the first segmentation, ``k`` = 0), category from the
    benchmark's model numbering (``PSB_CATEGORIES``); or any folder of ``<n>.off`` with ``<n>.seg``
    beside it (category = the top folder). id = ``<n>``.
``plain``
    Any other mesh file (``ingest.meshfile.MESH_SUFFIXES``), labels and keypoints found beside it by
    ``ingest.loaders``' conventions; category = a ShapeNet synset or ShapeNet-Part category name up the
    path, else the top folder under ``root``; id = a ShapeNet hash in the path, else (at load) a content hash.

Row keys (what ``ingest.loaders.load_row`` reads; manifests give the same keys):

- ``mesh``: Path, a mesh file or a PartNet shape directory (required).
- ``category``: str; ``id``: str, the dataset's own id (absent or None: decided at load).
- ``layout``: one of ``LAYOUTS`` (absent: ``"manifest"`` rules, i.e. labels looked for beside the mesh).
- ``labels``: Path, per-face or per-vertex labels; with ``points``, ShapeNet-Part's per-point ``.seg``.
- ``points``: Path, ShapeNet-Part ``.pts``.   ``keypoints``: Path, a KeypointNet or sketchgen JSON.
- ``model_id``: str, the ShapeNet model id (picks the entry of a KeypointNet annotation file).

Nothing here reads a mesh: a PartNet ``meta.json``/``result.json`` root and a KeypointNet annotation
file are the only files opened.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from pathlib import Path

from sketchgen.errors import InputError
from sketchgen.ingest.meshfile import MESH_SUFFIXES

log = logging.getLogger(__name__)

LAYOUTS = ("shapenetcore-v2", "shapenetcore-v2+shapenet-part", "partnet", "partnet-mobility", "keypointnet",
           "coseg", "psb", "plain", "manifest")

# ShapeNetCore.v2's 55 synsets (its taxonomy.json, first name of each), used when the tree lacks it
SHAPENETCORE_SYNSETS = {
    "02691156": "airplane", "02747177": "trash_bin", "02773838": "bag", "02801938": "basket",
    "02808440": "bathtub", "02818832": "bed", "02828884": "bench", "02843684": "birdhouse",
    "02871439": "bookshelf", "02876657": "bottle", "02880940": "bowl", "02924116": "bus",
    "02933112": "cabinet", "02942699": "camera", "02946921": "can", "02954340": "cap", "02958343": "car",
    "02992529": "cellphone", "03001627": "chair", "03046257": "clock", "03085013": "keyboard",
    "03207941": "dishwasher", "03211117": "display", "03261776": "earphone", "03325088": "faucet",
    "03337140": "file_cabinet", "03467517": "guitar", "03513137": "helmet", "03593526": "jar",
    "03624134": "knife", "03636649": "lamp", "03642806": "laptop", "03691459": "loudspeaker",
    "03710193": "mailbox", "03759954": "microphone", "03761084": "microwave", "03790512": "motorbike",
    "03797390": "mug", "03928116": "piano", "03938244": "pillow", "03948459": "pistol",
    "03991062": "flowerpot", "04004475": "printer", "04074963": "remote", "04090263": "rifle",
    "04099429": "rocket", "04225987": "skateboard", "04256520": "sofa", "04330267": "stove",
    "04379243": "table", "04401088": "telephone", "04460130": "tower", "04468005": "train",
    "04530566": "watercraft", "04554684": "washer",
}
# ShapeNet-Part's 16 categories: a folder so named up a plain file's path is its category
SHAPENET_PART_CATEGORIES = ("airplane", "bag", "cap", "car", "chair", "earphone", "guitar", "knife", "lamp",
                            "laptop", "motorbike", "mug", "pistol", "rocket", "skateboard", "table")
# the Princeton Segmentation Benchmark's model numbers per category (its README); 261-280 excluded
PSB_CATEGORIES = (
    (1, "human"), (21, "cup"), (41, "glasses"), (61, "airplane"), (81, "ant"), (101, "chair"),
    (121, "octopus"), (141, "table"), (161, "teddy"), (181, "hand"), (201, "plier"), (221, "fish"),
    (241, "bird"), (261, "spring"), (281, "armadillo"), (301, "bust"), (321, "mech"), (341, "bearing"),
    (361, "vase"), (381, "fourleg"),
)
_SYNSET = re.compile(r"^\d{8}$")
_HEX_ID = re.compile(r"^[0-9a-f]{16,}$")


def discover(root, *, part_labels=None) -> list[dict]:
    """One row per shape under ``root`` (see the module docstring), sorted by mesh path then id.

    part_labels: a ShapeNet-Part tree whose labels join the ShapeNetCore meshes under ``root`` by model
    id (None: only a ShapeNet-Part tree found under ``root`` is joined). Raises InputError when
    ``root`` (or ``part_labels``) is not a directory, or holds ShapeNet-Part labels but no mesh.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    tree = _walk(root)
    names = _synset_names(root)
    claimed: set[str] = set()  # folders (and files) belonging to a shape already listed
    rows: list[dict] = []
    rows += _partnet_rows(tree, claimed)
    rows += _keypointnet_rows(root, tree, claimed, names)
    rows += _shapenetcore_rows(tree, claimed, names)
    labels = _shapenet_part_sets(tree, claimed)
    rows += _coseg_rows(tree, claimed)
    rows += _psb_benchmark_rows(tree, claimed)
    rows += _plain_rows(root, tree, claimed)
    if part_labels is not None:
        part_root = Path(part_labels)
        if not part_root.is_dir():
            raise InputError(f"{part_root}: not a directory (the ShapeNet-Part labels)")
        labels.update(_shapenet_part_sets(_walk(part_root), set()))
        if not labels:
            raise InputError(f"{part_root}: no ShapeNet-Part labels (<synset>/points/*.pts with points_label/*.seg)")
    if labels:
        rows = _join_part_labels(rows, labels, root)
    rows = _one_row_per_file(rows)
    rows.sort(key=lambda r: (str(r["mesh"]), str(r.get("id") or "")))
    return rows


def layout_counts(rows: list[dict]) -> dict[str, int]:
    """{layout: number of rows}, layouts sorted (what ``sketchgen collection info`` reports)."""
    return dict(sorted(Counter(r.get("layout", "manifest") for r in rows).items()))


def synset_category(synset: str, names: dict[str, str] | None = None) -> str:
    """A ShapeNet synset's category name (``names`` first, e.g. from taxonomy.json), else the synset."""
    return (names or {}).get(synset) or SHAPENETCORE_SYNSETS.get(synset, synset)


def psb_category(number: int) -> str:
    """The Princeton Segmentation Benchmark category of model ``number`` (1-400), else "unknown"."""
    if not 1 <= number <= 400:
        return "unknown"
    return [name for first, name in PSB_CATEGORIES if first <= number][-1]


# ---------------------------------------------------------------------------------------------- walking
def _walk(root: Path) -> dict[Path, tuple[list[str], list[str]]]:
    """{directory: (sorted subdirectory names, sorted file names)} below ``root``, hidden ones skipped.

    Links to folders outside the tree are followed; a link back into the tree (``chair/up -> ..``, a
    link to a sibling) or to a folder holding it is not, since the tree is walked where it really is,
    and no folder is walked twice (two links to one place, a bind mount), so the walk ends and lists
    each folder once."""
    top = os.path.realpath(root)
    seen: set[tuple[int, int]] = set()
    out = {}
    for here, dirs, files in os.walk(root, followlinks=True):
        try:
            st = os.stat(here)
        except OSError:
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            path = os.path.join(here, d)
            if os.path.islink(path):
                real = os.path.realpath(path)
                if os.path.commonpath([top, real]) in (top, real):  # inside the tree, or holding it
                    log.info("%s: a link back into the collection (to %s); not followed", path, real)
                    continue
            keep.append(d)
        dirs[:] = keep
        out[Path(here)] = (list(dirs), sorted(f for f in files if not f.startswith(".")))
    return out


def _one_row_per_file(rows: list[dict]) -> list[dict]:
    """The rows without those whose files are an earlier row's reached again (a file linked, hard-linked
    or listed under a second name: one file, one shape). Rows are compared by the identity (device,
    inode) of their mesh and of their label, point and keypoint files; of rows naming the same files, the
    one reached by the path holding no link is kept, else the first in path order."""
    def identity(row):
        ids = []
        for key in ("mesh", "labels", "points", "keypoints"):
            if row.get(key) is None:
                ids.append(None)
                continue
            try:
                st = os.stat(row[key])
                ids.append((st.st_dev, st.st_ino))
            except OSError:  # unreadable: loading says why; never merged with another
                ids.append(("path", str(row[key])))
        return (tuple(ids), row.get("model_id"))

    def through_link(row):
        mesh = str(row["mesh"])
        return os.path.realpath(mesh) != os.path.abspath(mesh)

    kept: dict[tuple, dict] = {}
    for row in sorted(rows, key=lambda r: (through_link(r), str(r["mesh"]), str(r.get("id") or ""))):
        key = identity(row)
        if key in kept:
            log.info("%s: the file of %s again; listed once", row["mesh"], kept[key]["mesh"])
            continue
        kept[key] = row
    return list(kept.values())


def _under(path: Path, claimed: set[str]) -> bool:
    """Whether ``path`` or a folder above it is claimed (strings: hashing Paths dominated discovery)."""
    here = str(path)
    while True:
        if here in claimed:
            return True
        parent = os.path.dirname(here)
        if parent == here:
            return False
        here = parent


def _claim_dirs_holding(tree, claimed: set[str], *subdirs: str):
    """Yield (and claim) each unclaimed directory holding all of ``subdirs``, in walk order."""
    for d, (dirs, _) in tree.items():
        if all(s in dirs for s in subdirs) and not _under(d, claimed):
            claimed.add(str(d))
            yield d


def _synset_names(root: Path) -> dict[str, str]:
    """Synset names a tree ships: ShapeNetCore's ``taxonomy.json`` or ShapeNet-Part's
    ``synsetoffset2category.txt``, anywhere in the top two levels."""
    names: dict[str, str] = {}
    for pattern in ("taxonomy.json", "*/taxonomy.json"):
        for path in sorted(root.glob(pattern)):
            try:
                for entry in json.loads(path.read_text()):
                    names.setdefault(str(entry["synsetId"]), str(entry["name"]).split(",")[0].strip().lower())
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("%s: not ShapeNet's taxonomy (%s); using the built-in synset names", path, exc)
    for pattern in ("synsetoffset2category.txt", "*/synsetoffset2category.txt"):
        for path in sorted(root.glob(pattern)):
            for line in path.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) == 2 and _SYNSET.match(words[1]):
                    names.setdefault(words[1], words[0].lower())
    return names


# ---------------------------------------------------------------------------------------------- layouts
def _partnet_rows(tree, claimed: set[str]) -> list[dict]:
    rows = []
    for d, (dirs, files) in tree.items():
        if "result.json" not in files or _under(d, claimed):
            continue
        layout = "partnet" if "objs" in dirs else "partnet-mobility" if "textured_objs" in dirs else None
        if layout is None:
            continue
        claimed.add(str(d))
        meta = _read_json_quietly(d / "meta.json") if "meta.json" in files else None
        meta = meta if isinstance(meta, dict) else {}
        category = str(meta.get("model_cat") or "").strip().lower() or _partnet_root_name(d / "result.json")
        row = {"mesh": d, "category": category or "unknown", "id": str(meta.get("anno_id") or d.name),
               "layout": layout}
        if meta.get("model_id"):
            row["model_id"] = str(meta["model_id"])
        rows.append(row)
    return rows


def _partnet_root_name(path: Path) -> str | None:
    tree = _read_json_quietly(path)
    root = tree[0] if isinstance(tree, list) and len(tree) == 1 else tree
    if isinstance(root, dict) and root.get("name"):
        return str(root["name"]).strip().lower()
    return None


def _keypointnet_rows(root: Path, tree, claimed: set[str], names) -> list[dict]:
    rows = []
    for d, (dirs, files) in tree.items():
        if d.name != "annotations" or _under(d, claimed):
            continue
        entries = []
        for name in files:
            if name.endswith(".json") and name != "all.json":  # all.json repeats the per-class files
                data = _read_json_quietly(d / name)
                if isinstance(data, list) and data and all(isinstance(e, dict) and "keypoints" in e
                                                          and "model_id" in e for e in data):
                    entries += [(d / name, e) for e in data]
        if not entries:
            continue
        claimed.add(str(d))
        base = d.parent
        meshes = _mesh_index(base, tree, claimed)
        for ann, entry in entries:
            model_id, class_id = str(entry["model_id"]), str(entry.get("class_id", ""))
            mesh = meshes.get((class_id, model_id)) or meshes.get(("", model_id))
            if mesh is None:  # listed, so the failure names what was looked for
                mesh = base / "ShapeNetCore.v2.ply" / class_id / f"{model_id}.ply"
            category = synset_category(class_id, names) if _SYNSET.match(class_id) else ann.stem.lower()
            rows.append({"mesh": mesh, "category": category, "id": model_id, "model_id": model_id,
                         "keypoints": ann, "layout": "keypointnet"})
        for mesh in {r["mesh"] for r in rows}:
            claimed.add(str(mesh))
    return rows


def _mesh_index(base: Path, tree, claimed) -> dict[tuple[str, str], Path]:
    """{(parent folder, stem): mesh} and {("", stem): mesh} for mesh files below ``base``; a PLY wins."""
    rank = {".ply": 0}
    out: dict[tuple[str, str], Path] = {}
    for d, (_, files) in tree.items():
        if (d != base and base not in d.parents) or _under(d, claimed):
            continue
        for name in files:
            p = d / name
            if p.suffix.lower() not in MESH_SUFFIXES:
                continue
            for key in ((d.name, p.stem), ("", p.stem)):
                old = out.get(key)
                if old is None or rank.get(p.suffix.lower(), 1) < rank.get(old.suffix.lower(), 1):
                    out[key] = p
    return out


def _shapenetcore_rows(tree, claimed: set[str], names) -> list[dict]:
    rows = []
    for d, (dirs, files) in tree.items():
        if _under(d, claimed):
            continue
        if d.name == "models" and "model_normalized.obj" in files:  # v2
            model_dir, mesh = d.parent, d / "model_normalized.obj"
        elif "model.obj" in files and _SYNSET.match(d.parent.name):  # v1
            model_dir, mesh = d, d / "model.obj"
        else:
            continue
        synset = model_dir.parent.name
        claimed.add(str(model_dir))
        rows.append({"mesh": mesh, "category": synset_category(synset, names) if _SYNSET.match(synset)
                     else synset.lower(), "id": model_dir.name, "model_id": model_dir.name,
                     "layout": "shapenetcore-v2"})
    return rows


def _shapenet_part_sets(tree, claimed: set[str]) -> dict[str, dict]:
    """{model_id: {"points", "labels", "synset"}} of ShapeNet-Part trees (claimed: not meshes)."""
    out = {}
    for d in _claim_dirs_holding(tree, claimed, "points", "points_label"):
        pts_dir, seg_dir = d / "points", d / "points_label"
        segs = set(tree.get(seg_dir, ([], []))[1])
        for name in tree.get(pts_dir, ([], []))[1]:
            if name.endswith(".pts") and f"{name[:-4]}.seg" in segs:
                out[name[:-4]] = {"points": pts_dir / name, "labels": seg_dir / f"{name[:-4]}.seg",
                                  "synset": d.name}
    # the "_normal" release: <synset>/<model_id>.txt, "x y z nx ny nz label" per point in one file
    for d, (dirs, files) in tree.items():
        if not _SYNSET.match(d.name) or _under(d, claimed):
            continue
        txts = [f for f in files if f.endswith(".txt") and _HEX_ID.match(f[:-4])]
        if txts:
            claimed.add(str(d))
            out.update({f[:-4]: {"points": d / f, "labels": d / f, "synset": d.name} for f in txts})
    return out


def _join_part_labels(rows: list[dict], labels: dict[str, dict], root: Path) -> list[dict]:
    joined, unlabelled, used = [], 0, set()
    for row in rows:
        model_id = row.get("model_id")
        if row.get("layout") != "shapenetcore-v2":
            joined.append(row)
        elif model_id in labels:
            used.add(model_id)
            joined.append({**row, "points": labels[model_id]["points"], "labels": labels[model_id]["labels"],
                           "layout": "shapenetcore-v2+shapenet-part"})
        else:
            unlabelled += 1
    if not used:
        if any(r.get("layout") == "shapenetcore-v2" for r in rows) or not rows:
            raise InputError(f"{root}: {len(labels)} ShapeNet-Part label sets, but no ShapeNetCore mesh "
                             "with their model ids (give both trees: a collection JSON "
                             '{"meshes": DIR, "part_labels": DIR}, or both under one folder)')
        return joined
    if unlabelled:
        log.info("%s: %d ShapeNetCore meshes have no ShapeNet-Part labels; only the %d labelled ones are "
                 "listed", root, unlabelled, len(used))
    if len(used) < len(labels):
        missing = sorted(set(labels) - used)
        log.warning("%s: %d ShapeNet-Part label sets have no ShapeNetCore mesh (first: %s)", root,
                    len(missing), labels[missing[0]]["points"])
    return joined


def _coseg_rows(tree, claimed: set[str]) -> list[dict]:
    rows = []
    for d in _claim_dirs_holding(tree, claimed, "shapes", "gt"):
        gt = set(tree.get(d / "gt", ([], []))[1])
        for name in tree.get(d / "shapes", ([], []))[1]:
            p = d / "shapes" / name
            if p.suffix.lower() in MESH_SUFFIXES:
                row = {"mesh": p, "category": d.name.lower(), "id": f"{d.name}-{p.stem}", "layout": "coseg"}
                if f"{p.stem}.seg" in gt:  # a shape without ground truth loads as one part
                    row["labels"] = d / "gt" / f"{p.stem}.seg"
                rows.append(row)
    return rows


def _psb_benchmark_rows(tree, claimed: set[str]) -> list[dict]:
    rows = []
    for d in _claim_dirs_holding(tree, claimed, "off", "seg"):
        seg = d / "seg" / "Benchmark" if (d / "seg" / "Benchmark") in tree else d / "seg"
        offs = [n for n in tree.get(d / "off", ([], []))[1] if n.lower().endswith(".off")]
        for name in offs:
            p, stem = d / "off" / name, name[:-4]
            row = {"mesh": p, "id": stem, "layout": "psb",
                   "category": psb_category(int(stem)) if stem.isdigit() else "unknown"}
            found = _psb_segmentation(tree, seg, stem)
            if found is not None:
                row["labels"] = found
            rows.append(row)
    return rows


def _psb_segmentation(tree, seg: Path, stem: str) -> Path | None:
    """The first human segmentation of model ``stem``: ``seg/<n>/<n>_0.seg`` (else the first
    ``<n>_<k>.seg``), or ``seg/<n>.seg``."""
    files = tree.get(seg / stem, ([], []))[1]
    numbered = sorted((int(f[len(stem) + 1:-4]), f) for f in files
                      if f.startswith(f"{stem}_") and f.endswith(".seg") and f[len(stem) + 1:-4].isdigit())
    if numbered:
        return seg / stem / numbered[0][1]
    if f"{stem}.seg" in tree.get(seg, ([], []))[1]:
        return seg / f"{stem}.seg"
    return None


def _plain_rows(root: Path, tree, claimed: set[str]) -> list[dict]:
    from sketchgen.ingest.loaders import _dataset_id

    rows = []
    for d, (_, files) in tree.items():
        if _under(d, claimed):
            continue
        for name in files:
            p = d / name
            if p.suffix.lower() not in MESH_SUFFIXES or str(p) in claimed:
                continue
            row = {"mesh": p, "category": _top_category(root, p), "layout": "plain"}
            dataset_id = _dataset_id(p)  # a ShapeNet-style hash in the path names the shape first
            if dataset_id is not None:
                row["id"] = dataset_id
            elif p.suffix.lower() == ".off" and f"{p.stem}.seg" in files:
                row.update(layout="psb", id=p.stem)  # PSB/COSEG-style: per-face labels beside
            rows.append(row)
    return rows


def _top_category(root: Path, p: Path) -> str | None:
    """A plain file's category: a synset anywhere up its path, else its top folder under ``root``; None
    for a file directly in ``root`` (the loader then asks its keypoints' class, or the path)."""
    rel = p.relative_to(root).parts[:-1]
    for part in reversed(rel):
        if part in SHAPENETCORE_SYNSETS:
            return SHAPENETCORE_SYNSETS[part]
        if part.lower() in SHAPENET_PART_CATEGORIES:
            return part.lower()
    return rel[0].lower() if rel else None


def _read_json_quietly(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.debug("%s: not read (%s)", path, exc)
        return None
