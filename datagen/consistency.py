"""Label-free checks of a collection's categories: do declared-consistent labels agree, which shapes can
take part in cross-shape samples, are the shapes upright alike.

``compare_category(shapes)`` aligns each shape of a category with a few others without reading their
labels (``datagen.registration.align_whole`` and ``match_segments``): shape i against the shapes
n/4, n/2 and 3n/4 places further in the category's order (spread out, so that a run of alike shapes
in the order does not only meet itself). A comparison whose segments pair up cleanly (its
``SegmentMatch.trust`` above 0) is *judged*; it *disagrees* when its pairing pairs a label with another
label. ``category_report(shapes)`` turns that, and ``ingest.orientation.axis_verdicts``, into what
``sketchgen collection info`` prints per category:

- labels: "consistent" or "per-shape" (or "mixed"), and for consistent ones the shapes whose labels
  disagree with most shapes they were judged against (e.g. two labels swapped), with the pairing seen;
- orientation: the principal-axis verdict and the shapes that disagree with the category's majority;
- cross_shape: how many shapes can take part in cross-shape samples: consistent labels, not named above,
  upright like the majority; per-shape labels: at least one judged (trusted) label-free pairing. The
  bundled collection's categories are not aligned: their shapes correspond exactly by construction.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np

# comparisons per shape (each also met by as many comparisons from the others)
NEIGHBOURS = 3
# points sampled per shape and comparison: the check reads overlaps, not fine alignment
SAMPLES = 800


def compare_pair(a, b, *, seed: int = 0, turns=(0, 2)):
    """The ``SegmentMatch`` of ``a``'s segments onto ``b``'s after a label-free whole-shape alignment
    (``turns``: the quarter turns about the up axis tried)."""
    from sketchgen.datagen.registration import align_whole, match_segments

    rng = np.random.default_rng(seed)
    whole, turn = align_whole(a, b, rng, samples=SAMPLES, turns=turns)
    return match_segments(a, b, whole, rng, samples=SAMPLES, turn=turn)


@lru_cache(maxsize=64)
def cached_comparison(a, b):
    """``compare_pair(a, b)`` of two shapes with consistent labels (no turn tried), once per pair of
    objects in this process (PartMesh hashes by identity)."""
    return compare_pair(a, b, turns=(0,))


def comparison_plan(n: int, neighbours: int = NEIGHBOURS) -> list[tuple[int, int]]:
    """(i, j) index pairs compared in a category of ``n`` shapes: i against i + k n / (neighbours + 1),
    k = 1..neighbours (mod n), each unordered pair once."""
    seen, out = set(), []
    for i in range(n):
        for k in range(1, neighbours + 1):
            j = (i + max(1, round(k * n / (neighbours + 1)))) % n
            key = (min(i, j), max(i, j))
            if i != j and key not in seen:
                seen.add(key)
                out.append((i, j))
    return out


def compare_category(shapes) -> list[dict]:
    """[{"a", "b", "pairs", "agreement", "judged", "disagrees"}] for the comparisons of
    ``comparison_plan`` over ``shapes`` (PartMeshes of one category, in a fixed order). Shapes with
    consistent labels are compared as they stand (the category is assumed to face one way); a pair
    with per-shape labels also tries the half turn about the up axis."""
    out = []
    for i, j in comparison_plan(len(shapes)):
        both = shapes[i].label_semantics == shapes[j].label_semantics == "consistent"
        match = compare_pair(shapes[i], shapes[j], turns=(0,) if both else (0, 2))
        judged = match.trust > 0
        out.append({"a": shapes[i].shape_id, "b": shapes[j].shape_id, "pairs": [list(p) for p in match.pairs],
                    "agreement": round(match.agreement, 3), "judged": judged,
                    "disagrees": judged and any(la != lb for la, lb in match.pairs)})
    return out


def label_disagreements(comparisons: list[dict]) -> dict[str, str]:
    """{shape id: "a->b, ..." the labels it carries where the category's majority carries others} from
    the judged comparisons: every shape's labels are related to one reference shape (the one agreeing
    with most of its comparisons) through chains of judged pairings, and the shapes whose relation
    differs from the most common one are named."""
    edges: dict[str, list[tuple[str, dict[int, int]]]] = {}
    agree: Counter = Counter()
    for c in comparisons:
        if not c["judged"]:
            continue
        pairing = {int(la): int(lb) for la, lb in c["pairs"]}
        edges.setdefault(c["a"], []).append((c["b"], pairing))
        edges.setdefault(c["b"], []).append((c["a"], {lb: la for la, lb in pairing.items()}))
        for s in (c["a"], c["b"]):
            agree[s] += 0 if c["disagrees"] else 1
    if not edges:
        return {}
    reference = max(sorted(edges), key=lambda s: agree[s])
    to_ref: dict[str, dict[int, int]] = {reference: {}}  # shape label -> reference label (identity if absent)
    queue = [reference]
    while queue:
        here = queue.pop(0)
        for there, pairing in edges[here]:  # pairing: here's label -> there's label
            if there in to_ref:
                continue
            # there's label l is here's label p^-1(l), which is the reference's to_ref[here].get(., .)
            back = {lb: la for la, lb in pairing.items()}
            to_ref[there] = {l: to_ref[here].get(back[l], back[l]) for l in back}
            queue.append(there)
    keys = {s: tuple(sorted((l, r) for l, r in m.items() if l != r)) for s, m in to_ref.items()}
    majority = Counter(keys.values()).most_common(1)[0][0]
    return {s: ", ".join(f"{l}->{r}" for l, r in k) or "as the reference"
            for s, k in sorted(keys.items()) if k != majority}


def category_report(shapes, *, align: bool = True) -> dict[str, dict]:
    """Per category of ``shapes`` (PartMeshes): {"shapes", "labels", "label_disagreements", "orientation",
    "orientation_axes", "orientation_disagree", "cross_shape", "comparisons", "aligned", "exact"} (see the module
    docstring). align: False skips the label-free comparisons (no label disagreement found, and
    per-shape categories count no shape fit for cross-shape samples: not checked)."""
    from sketchgen.ingest.orientation import axis_verdicts
    from sketchgen.ingest.procedural import is_bundled

    by_cat: dict[str, list] = {}
    for s in shapes:
        by_cat.setdefault(s.category, []).append(s)
    axes = axis_verdicts(shapes)
    report = {}
    for category, members in sorted(by_cat.items()):
        members = sorted(members, key=lambda s: s.shape_id)
        kinds = sorted({s.label_semantics for s in members})
        labels = kinds[0] if len(kinds) == 1 else "mixed"
        # the bundled shapes share their faces and labels by construction: nothing to align
        exact = all(is_bundled(s) for s in members)
        aligned = align and len(members) >= 2 and not exact
        comparisons = compare_category(members) if aligned else []
        consistent = {s.shape_id for s in members if s.label_semantics == "consistent"}
        swapped = {s: p for s, p in label_disagreements(
            [c for c in comparisons if c["a"] in consistent and c["b"] in consistent]).items()}
        tilted = set(axes[category]["disagree"])
        trusted = {s for c in comparisons if c["judged"] for s in (c["a"], c["b"])}
        able = [s.shape_id for s in members if s.shape_id not in tilted and
                (s.shape_id not in swapped if s.shape_id in consistent else s.shape_id in trusted)]
        report[category] = {"shapes": len(members), "labels": labels, "label_disagreements": swapped,
                            "orientation": axes[category]["verdict"], "orientation_axes": axes[category]["majority"],
                            "orientation_disagree": sorted(tilted),
                            "cross_shape": len(able) if len(able) >= 2 else 0, "comparisons": comparisons,
                            "aligned": aligned, "exact": exact}
    return report


def report_warnings(report: dict[str, dict]) -> list[str]:
    """One line per problem of ``category_report``: declared-consistent labels that disagree, shapes
    turned off the category's axes, categories where no cross-shape sample can be made."""
    lines = []
    for category, r in report.items():
        if r["label_disagreements"]:
            named = "; ".join(f"{s} ({p})" for s, p in r["label_disagreements"].items())
            lines.append(f"{category}: labels declared consistent disagree, aligned without labels, on "
                         f"{len(r['label_disagreements'])} of {r['shapes']} shapes: {named}")
        if r["orientation_disagree"]:
            off = r["orientation_disagree"]
            lines.append(f"{category}: main axes (bounding box) of {', '.join(off)} disagree with the category's majority "
                         f"(long, thin axis {'/'.join(str(a) for a in r['orientation_axes'])} for "
                         "most shapes; the cameras take +Y as up): turn the shapes that lie "
                         "on their side with a manifest's up/front/rotation columns, or --up-axis for all")
        if r["shapes"] >= 2 and r["cross_shape"] == 0 and (r["aligned"] or r["labels"] == "consistent"):
            lines.append(f"{category}: no cross-shape samples can be made (labels {r['labels']}; no two shapes "
                         "pair up cleanly without labels)")
    return lines
