"""``sketchgen collection info [PATH] [--json] [--strict] [--part-labels DIR]``: what a collection holds,
what failed to load and what is in doubt.

No PATH: the bundled collection. One row per shape (id, path, category, faces, parts, keypoints,
status ``"ok"``, ``"warning"`` when its data is in doubt, or the reason it failed), then every warning
(one line each, naming the file), the dataset layouts recognised and totals per category, then per
category what cross-shape samples rest on (``datagen.consistency``): label semantics, whether labels
declared consistent agree when the shapes are aligned without them (naming the shapes that do not),
the orientation verdict (naming shapes whose principal axes disagree with the majority) and how many
shapes can take part in cross-shape samples. Exit 0 when it could list the collection (failures
included), 2 when PATH itself cannot be read.
"""

from __future__ import annotations

import json
import logging
import sys

from sketchgen.cli.options import MAX_FACES

log = logging.getLogger(__name__)

HELP = "list a collection's shapes (bundled when no PATH), with per-shape status and per-category totals"


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="per shape: id, path, category, faces, parts, keypoints, status")
    info.add_argument("path", nargs="?", default=None,
                      help="collection directory (any dataset layout), manifest (.csv/.json), trees file, "
                           "bundled spec or mesh file (default: the bundled collection)")
    info.add_argument("--json", action="store_true",
                      help="print {\"shapes\": [...], \"notes\": [...], \"layouts\": {...}, \"totals\": {...}} on stdout")
    info.add_argument("--max-faces", type=MAX_FACES, default=None, metavar="N",
                      help="decimate meshes with more than N faces (part by part)")
    add_strict_argument(info)
    add_collection_reading_arguments(info)
    info.add_argument("--no-checks", action="store_true",
                      help="skip the per-category label check that aligns shapes without their labels (seconds per "
                           "shape); label semantics and the orientation verdict are still given")
    info.add_argument("--part-labels", default=None, metavar="DIR",
                      help="a ShapeNet-Part tree (<synset>/points, points_label) whose labels join the "
                           "ShapeNetCore meshes of PATH by model id")


def add_collection_reading_arguments(parser) -> None:
    """``--labels``, ``--up-axis`` and ``--front-axis``, shared by every command that takes a collection
    (``ingest.collection.LoadOptions``)."""
    from sketchgen.ingest.collection import LABEL_SEMANTICS
    from sketchgen.ingest.orientation import AXES

    parser.add_argument("--labels", choices=LABEL_SEMANTICS, default=None,
                        help="what part labels mean: the same part on every shape of a category (consistent), or "
                             "only segments of each shape (per-shape: never matched by id across shapes); default: "
                             "as the dataset layout says (PSB per-shape, others consistent), a manifest's "
                             "label_semantics column first")
    parser.add_argument("--up-axis", choices=AXES, default="+y",
                        help="the collection's up axis, turned to +Y as the cameras expect (default %(default)s; a "
                             "manifest's up/front/rotation columns win)")
    parser.add_argument("--front-axis", choices=AXES, default="+z",
                        help="the collection's front axis, turned to +Z (default %(default)s; a negative axis "
                             "is written --front-axis=-y)")


def add_strict_argument(parser) -> None:
    """``--strict``, shared by every command that loads a collection."""
    parser.add_argument("--strict", action="store_true",
                        help="fail a shape whose data is in doubt (labelled points off the mesh surface, a "
                             "missing or empty PartNet leaf) instead of loading it with a warning")


def run(args) -> int:
    from sketchgen.errors import UsageError
    from sketchgen.ingest.collection import LoadOptions, load_collection

    if args.part_labels is not None and args.path is None:
        raise UsageError("--part-labels joins the ShapeNetCore tree given as PATH")
    try:
        options = LoadOptions(args.labels, args.up_axis, args.front_axis)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # the loaders log each warning; this report lists them itself, so they are not said twice
    loaders_log = logging.getLogger("sketchgen.ingest.loaders")
    level = loaders_log.level
    loaders_log.setLevel(logging.ERROR)
    try:
        coll = load_collection(args.path, max_faces=args.max_faces, progress=not args.json and sys.stderr.isatty(),
                               strict=args.strict, part_labels=args.part_labels, options=options)
    finally:
        loaders_log.setLevel(level)
    rows = [{"id": s.shape_id, "path": s.source, "category": s.category, "faces": int(s.n_faces),
             "parts": int(len(s.parts)), "keypoints": int(len(s.keypoints)),
             "status": "warning" if s.notes else "ok", "notes": list(s.notes), "checks": s.checks,
             "removed": {k: int(v) for k, v in s.cleanup.items()}}
            for s in coll.shapes]
    rows += [{"id": f.shape_id, "path": f.path, "category": f.category, "faces": None, "parts": None,
              "keypoints": None, "status": f.reason, "notes": [], "checks": {}, "removed": {}} for f in coll.failures]
    totals = _totals(rows)
    from sketchgen.datagen.consistency import category_report, report_warnings

    categories = category_report(coll.shapes, align=not args.no_checks)
    warnings = report_warnings(categories)
    for line in warnings if args.json else ():  # the text report lists them itself
        log.warning("%s", line)
    if args.json:
        json.dump({"shapes": rows, "notes": coll.notes(), "layouts": coll.layouts, "totals": totals,
                   "categories": categories, "warnings": warnings}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    out.write(f"collection: {coll.root}\n")
    if coll.layouts:
        out.write("layouts: " + ", ".join(f"{name} ({n})" for name, n in coll.layouts.items()) + "\n")
    out.write(f"{'id':<34} {'category':<16} {'faces':>7} {'parts':>5} {'kps':>4}  status / path\n")
    for r in rows:
        faces = "-" if r["faces"] is None else r["faces"]
        parts = "-" if r["parts"] is None else r["parts"]
        kps = "-" if r["keypoints"] is None else r["keypoints"]
        status = {"ok": r["path"], "warning": f"WARNING (see below) {r['path']}"}.get(r["status"],
                                                                                     f"FAILED: {r['status']}")
        removed = ", ".join(f"{n} {kind}" for kind, n in r["removed"].items() if n)
        if removed:
            status += f"  ({removed} faces removed)"
        out.write(f"{r['id'][:34]:<34} {r['category'][:16]:<16} {faces:>7} {parts:>5} {kps:>4}  {status}\n")
    notes = coll.notes()
    if notes:
        out.write(f"\nwarnings ({len(notes)}):\n")
        for n in notes:
            out.write(f"  {n['shape']}: {n['note']}\n")
    out.write("\ntotals per category:\n")
    for category, t in totals["categories"].items():
        out.write(f"  {category:<16} {t['ok']:>4} ok  {t['warning']:>3} warned  {t['failed']:>3} failed  "
                  f"{t['faces']:>9} faces  {t['keypoints']:>5} keypoints\n")
    out.write(f"  {'all':<16} {totals['ok']:>4} ok  {totals['warning']:>3} warned  {totals['failed']:>3} failed\n")
    if categories:
        out.write("\nper category (labels, label agreement without labels, orientation, shapes able to take part "
                  "in cross-shape samples):\n")
        for category, r in categories.items():
            agree = "exact" if r["exact"] else "not checked" if not r["aligned"] else \
                (f"{len(r['label_disagreements'])} disagree" if r["label_disagreements"] else "agree") \
                if r["labels"] == "consistent" else "-"
            tilted = f" ({len(r['orientation_disagree'])} off)" if r["orientation_disagree"] else ""
            out.write(f"  {category:<16} labels {r['labels']:<10} {agree:<12} orientation {r['orientation']}{tilted}  "
                      f"cross-shape {r['cross_shape']} of {r['shapes']}\n")
        for line in warnings:
            out.write(f"  {line}\n")
    return 0


def _totals(rows: list[dict]) -> dict:
    """Per category and overall: shapes loaded cleanly ("ok"), loaded with warnings ("warning"), failed;
    faces and keypoints of the loaded ones."""
    cats: dict[str, dict] = {}
    for r in rows:
        t = cats.setdefault(r["category"], {"ok": 0, "warning": 0, "failed": 0, "faces": 0, "keypoints": 0})
        if r["status"] in ("ok", "warning"):
            t[r["status"]] += 1
            t["faces"] += r["faces"]
            t["keypoints"] += r["keypoints"]
        else:
            t["failed"] += 1
    return {"categories": dict(sorted(cats.items())), "ok": sum(t["ok"] for t in cats.values()),
            "warning": sum(t["warning"] for t in cats.values()), "failed": sum(t["failed"] for t in cats.values())}
