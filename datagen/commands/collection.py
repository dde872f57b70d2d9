"""``sketchgen collection info [PATH] [--json]``: what a collection holds and what failed to load.

No PATH: the bundled collection. One row per shape (id, path, category, faces, parts, keypoints,
status ``"ok"`` or the reason it failed), then totals per category. Exit 0 when it could list the
collection (failures included), 2 when PATH itself cannot be read.
"""

from __future__ import annotations

import json
import sys

HELP = "list a collection's shapes (bundled when no PATH), with per-shape status and per-category totals"


def configure(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = sub.add_parser("info", help="per shape: id, path, category, faces, parts, keypoints, status")
    info.add_argument("path", nargs="?", default=None,
                      help="collection directory, manifest (.csv/.json), bundled spec or mesh file "
                           "(default: the bundled collection)")
    info.add_argument("--json", action="store_true", help="print {\"shapes\": [...], \"totals\": {...}} on stdout")
    info.add_argument("--max-faces", type=int, default=None, metavar="N",
                      help="decimate meshes with more than N faces (part by part)")


def run(args) -> int:
    from sketchgen.datagen.collection import load_collection
    from sketchgen.datagen.cli import UsageError

    if args.max_faces is not None and args.max_faces <= 0:
        raise UsageError(f"--max-faces must be positive, got {args.max_faces}")
    coll = load_collection(args.path, max_faces=args.max_faces, progress=not args.json and sys.stderr.isatty())
    rows = [{"id": s.shape_id, "path": s.source, "category": s.category, "faces": int(s.n_faces),
             "parts": int(len(s.parts)), "keypoints": int(len(s.keypoints)), "status": "ok"} for s in coll.shapes]
    rows += [{"id": f.shape_id, "path": f.path, "category": f.category, "faces": None, "parts": None,
              "keypoints": None, "status": f.reason} for f in coll.failures]
    totals = _totals(rows)
    if args.json:
        json.dump({"shapes": rows, "totals": totals}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    out = sys.stdout
    out.write(f"collection: {coll.root}\n")
    out.write(f"{'id':<34} {'category':<12} {'faces':>7} {'parts':>5} {'kps':>4}  status / path\n")
    for r in rows:
        faces = "-" if r["faces"] is None else r["faces"]
        parts = "-" if r["parts"] is None else r["parts"]
        kps = "-" if r["keypoints"] is None else r["keypoints"]
        status = r["path"] if r["status"] == "ok" else f"FAILED: {r['status']}"
        out.write(f"{r['id'][:34]:<34} {r['category'][:12]:<12} {faces:>7} {parts:>5} {kps:>4}  {status}\n")
    out.write("\ntotals per category:\n")
    for category, t in totals["categories"].items():
        out.write(f"  {category:<16} {t['ok']:>4} ok  {t['failed']:>3} failed  {t['faces']:>9} faces  "
                  f"{t['keypoints']:>5} keypoints\n")
    out.write(f"  {'all':<16} {totals['ok']:>4} ok  {totals['failed']:>3} failed\n")
    return 0


def _totals(rows: list[dict]) -> dict:
    cats: dict[str, dict] = {}
    for r in rows:
        t = cats.setdefault(r["category"], {"ok": 0, "failed": 0, "faces": 0, "keypoints": 0})
        if r["status"] == "ok":
            t["ok"] += 1
            t["faces"] += r["faces"]
            t["keypoints"] += r["keypoints"]
        else:
            t["failed"] += 1
    return {"categories": dict(sorted(cats.items())), "ok": sum(t["ok"] for t in cats.values()),
            "failed": sum(t["failed"] for t in cats.values())}
