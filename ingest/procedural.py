"""The bundled collection: procedural, part-registered shapes generated on demand from a small spec.

``assets/bundled/collection.json`` holds, per shape, its id, category and a handful of numbers
(proportions, cross-section exponents, tapers, bends); ``build_shape`` turns them into a mesh made of
swept superellipse tubes (``ingest.primitives``). Every instance of a category uses the same tubes
with the same (nu, nv) grids, so all instances share one face list: the point (face f, weights w) on
one chair is the same (part, u, v) on every chair. ``exact_correspondence`` states this; it is the
ground truth that ``datagen.registration`` is measured against (and never uses).

Frame of the built shapes (before ``PartMesh`` normalises them): metres, +Y up, front towards +Z,
the floor at y = 0 (airplanes: nose towards +Z).

``generate_spec(seed)`` draws the parameters; the asset file is ``generate_spec(0)`` and a test checks
that it still is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError
from sketchgen.ingest.keypoints import Keypoints
from sketchgen.ingest.partmesh import PartMesh, make_partmesh
from sketchgen.ingest.primitives import ShapeBuilder, curve_frames

SPEC_PATH = Path(__file__).resolve().parents[1] / "assets" / "bundled" / "collection.json"
SPEC_VERSION = 1
INSTANCES = 12

X, Y, Z = np.eye(3)

PART_NAMES = {
    "chair": {0: "seat", 1: "back", 2: "leg"},
    "table": {0: "top", 1: "leg"},
    "airplane": {0: "body", 1: "wing", 2: "tail", 3: "engine"},
    "mug": {0: "body", 1: "handle"},
    "lamp": {0: "base", 1: "pole", 2: "shade"},
}
CATEGORIES = tuple(PART_NAMES)
# semantic id -> what the keypoint marks, per category (the same on every instance)
KEYPOINT_NAMES = {
    "chair": ["seat corner +x-z", "seat corner -x-z", "seat corner -x+z", "seat corner +x+z",
              "back top +x", "back top -x", "foot +x+z", "foot -x+z", "foot -x-z", "foot +x-z"],
    "table": ["top corner +x-z", "top corner -x-z", "top corner -x+z", "top corner +x+z", "top centre",
              "foot +x+z", "foot -x+z", "foot -x-z", "foot +x-z"],
    "airplane": ["nose", "tail end", "wing tip -x", "wing tip +x", "stabiliser tip -x", "stabiliser tip +x",
                 "fin tip", "engine intake -x", "engine intake +x"],
    "mug": ["rim +x (handle side)", "rim -z", "rim -x", "rim +z", "bottom centre", "inside floor centre",
            "handle upper join", "handle outermost", "handle lower join"],
    "lamp": ["base bottom centre", "base rim +x", "base rim -z", "base rim -x", "base rim +z",
             "shade top centre", "shade rim +x", "shade rim +z", "shade rim -x", "shade rim -z"],
}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return round(float(rng.uniform(lo, hi)), 4)


# ---------------------------------------------------------------------------------------------- chair
def _chair_params(rng):
    return {"seat_w": _u(rng, 0.38, 0.6), "seat_d": _u(rng, 0.36, 0.55), "seat_t": _u(rng, 0.03, 0.09),
            "seat_h": _u(rng, 0.38, 0.52), "seat_e": _u(rng, 0.12, 0.7), "back_h": _u(rng, 0.3, 0.65),
            "back_t": _u(rng, 0.025, 0.07), "back_tilt": _u(rng, 0.0, 0.35), "back_bend": _u(rng, -0.03, 0.09),
            "back_e": _u(rng, 0.12, 0.9), "back_top": _u(rng, 0.7, 1.15), "leg_r": _u(rng, 0.012, 0.035),
            "leg_e": _u(rng, 0.25, 1.0), "leg_splay": _u(rng, 0.0, 0.09), "leg_inset": _u(rng, 0.02, 0.08),
            "leg_taper": _u(rng, 0.45, 1.0)}


def _chair(p, sb: ShapeBuilder):
    w, d, t, h = p["seat_w"], p["seat_d"], p["seat_t"], p["seat_h"]
    # seat: a bevelled slab swept upwards, plan-view corners rounded by seat_e
    ys = h - t + t * np.array([0.0, 0.15, 0.85, 1.0])
    bevel = np.array([0.96, 1.0, 1.0, 0.97])
    seat = sb.tube(0, np.stack([0 * ys, ys, 0 * ys], 1), X, -Z, 0.5 * w * bevel, 0.5 * d * bevel, p["seat_e"], 48)
    for sid, i in enumerate((6, 18, 30, 42)):  # top corners at (+x,-z), (-x,-z), (-x,+z), (+x,+z)
        sb.keypoint(sid, seat.ring(3, i))
    # back: rises from the seat's rear edge, tilted back and bowed
    v = np.linspace(0.0, 1.0, 12)
    bh = p["back_h"]
    zc = -0.5 * d + 0.5 * p["back_t"] - np.sin(p["back_tilt"]) * bh * v - p["back_bend"] * np.sin(np.pi * v)
    centres = np.stack([0 * v, h - 0.3 * t + bh * v, zc], 1)
    width = 0.5 * w * (0.95 + (p["back_top"] - 0.95) * v)
    back = sb.tube(1, centres, X, -Z, width, 0.5 * p["back_t"] * np.ones_like(v), p["back_e"], 48)
    sb.keypoint(4, back.ring(11, 0))   # top corner at +x
    sb.keypoint(5, back.ring(11, 24))  # top corner at -x
    # legs: from under the seat corners to the floor, splayed and tapered
    v = np.linspace(0.0, 1.0, 8)
    for k, (sx, sz) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
        top = np.array([sx * (0.5 * w - p["leg_inset"]), h - t, sz * (0.5 * d - p["leg_inset"])])
        foot = top + np.array([sx * p["leg_splay"], -(h - t), sz * p["leg_splay"]])
        centres = top + v[:, None] * (foot - top)
        r = p["leg_r"] * (1.0 - (1.0 - p["leg_taper"]) * v)
        leg = sb.tube(2, centres, X, Z, r, r, p["leg_e"], 16)
        sb.keypoint(6 + k, leg.end)  # feet at (+x,+z), (-x,+z), (-x,-z), (+x,-z)


# ---------------------------------------------------------------------------------------------- table
def _table_params(rng):
    round_top = bool(rng.random() < 0.35)
    a = _u(rng, 0.35, 0.9)
    return {"top_a": a, "top_b": round(a if round_top else a * float(rng.uniform(0.45, 0.95)), 4),
            "top_e": _u(rng, 0.85, 1.0) if round_top else _u(rng, 0.1, 0.6), "top_t": _u(rng, 0.02, 0.07),
            "height": _u(rng, 0.45, 0.8), "leg_r": _u(rng, 0.015, 0.045), "leg_e": _u(rng, 0.2, 1.0),
            "leg_pos": _u(rng, 0.6, 0.9), "leg_splay": _u(rng, -0.02, 0.1), "leg_taper": _u(rng, 0.5, 1.0),
            "leg_bow": _u(rng, -0.04, 0.04)}


def _table(p, sb: ShapeBuilder):
    a, b, t, h, e = p["top_a"], p["top_b"], p["top_t"], p["height"], p["top_e"]
    ys = h - t + t * np.array([0.0, 0.2, 0.8, 1.0])
    bevel = np.array([0.97, 1.0, 1.0, 0.98])
    top = sb.tube(0, np.stack([0 * ys, ys, 0 * ys], 1), X, -Z, a * bevel, b * bevel, e, 64)
    for sid, i in enumerate((8, 24, 40, 56)):  # the four corners (or diagonals of a round top)
        sb.keypoint(sid, top.ring(3, i))
    sb.keypoint(4, top.end)  # centre of the top surface
    v = np.linspace(0.0, 1.0, 10)
    c45 = np.sqrt(0.5) ** e  # the superellipse's diagonal point, where the legs go
    for k, (sx, sz) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
        start = np.array([sx * a * c45 * p["leg_pos"], h - t, sz * b * c45 * p["leg_pos"]])
        out = np.array([sx, 0.0, sz]) / np.sqrt(2.0)
        outwards = p["leg_splay"] * v + p["leg_bow"] * np.sin(np.pi * v)
        centres = start + v[:, None] * np.array([0.0, -(h - t), 0.0]) + outwards[:, None] * out
        r = p["leg_r"] * (1.0 - (1.0 - p["leg_taper"]) * v)
        leg = sb.tube(1, centres, X, Z, r, r, p["leg_e"], 16)
        sb.keypoint(5 + k, leg.end)


# ------------------------------------------------------------------------------------------- airplane
def _airplane_params(rng):
    return {"length": _u(rng, 2.5, 4.0), "radius": _u(rng, 0.14, 0.3), "nose": _u(rng, 0.08, 0.25),
            "tail": _u(rng, 0.2, 0.4), "tail_up": _u(rng, 0.0, 0.8), "body_e": _u(rng, 0.75, 1.0),
            "span": _u(rng, 2.4, 4.2), "chord": _u(rng, 0.35, 0.8), "taper": _u(rng, 0.25, 0.8),
            "sweep": _u(rng, 0.0, 0.6), "dihedral": _u(rng, -0.05, 0.12), "wing_pos": _u(rng, 0.45, 0.6),
            "wing_y": _u(rng, -0.6, 0.5), "thick": _u(rng, 0.08, 0.16), "htail_span": _u(rng, 0.25, 0.4),
            "fin_h": _u(rng, 0.35, 0.8), "fin_sweep": _u(rng, 0.2, 1.0), "eng_r": _u(rng, 0.05, 0.11),
            "eng_pos": _u(rng, 0.25, 0.5), "eng_len": _u(rng, 0.3, 0.6)}


def _wing(sb, label, centre, half_span, chord, taper, sweep, dihedral, thick, nv, nu):
    s = np.linspace(-1.0, 1.0, nv)
    c = chord * (1.0 - (1.0 - taper) * np.abs(s))
    centres = centre + np.stack([half_span * s, dihedral * half_span * np.abs(s),
                                 -sweep * half_span * np.abs(s)], 1)
    # section: thickness along y, chord along z; axis1 x axis2 = +x, the direction s runs
    return sb.tube(label, centres, Y, Z, 0.5 * thick * c, 0.5 * c, 0.9, nu)


def _airplane(p, sb: ShapeBuilder):
    L, R = p["length"], p["radius"]
    v = np.linspace(0.0, 1.0, 24)  # tail (v = 0) to nose (v = 1)
    nose = np.clip((1.0 - v) / p["nose"], 0.0, 1.0)
    tail = np.clip(v / p["tail"], 0.0, 1.0)
    r = R * np.maximum(np.sqrt(1.0 - (1.0 - nose) ** 2) * np.sqrt(tail * (2.0 - tail)) ** 0.8, 0.06)
    y = p["tail_up"] * R * (1.0 - tail) ** 2
    body = sb.tube(0, np.stack([0 * v, y, L * (v - 0.5)], 1), X, Y, r, r * 1.08, p["body_e"], 24)
    sb.keypoint(0, body.end)    # nose
    sb.keypoint(1, body.start)  # tail end
    wz = L * (p["wing_pos"] - 0.5)
    wy = p["wing_y"] * R
    half = 0.5 * p["span"]
    wing = _wing(sb, 1, np.array([0.0, wy, wz]), half, p["chord"], p["taper"], p["sweep"], p["dihedral"],
                 p["thick"], 21, 24)
    sb.keypoint(2, wing.start)  # wing tip at -x
    sb.keypoint(3, wing.end)    # wing tip at +x
    tz = -0.5 * L + 0.12 * L
    ty = p["tail_up"] * R * 0.6
    htail = _wing(sb, 2, np.array([0.0, ty, tz]), p["htail_span"] * half, 0.6 * p["chord"], p["taper"],
                  p["sweep"], 0.5 * p["dihedral"], p["thick"], 11, 16)
    sb.keypoint(4, htail.start)
    sb.keypoint(5, htail.end)
    f = np.linspace(0.0, 1.0, 8)
    fc = 0.7 * p["chord"] * (1.0 - 0.5 * f)
    centres = np.stack([0 * f, ty + 0.5 * R + p["fin_h"] * f, tz - p["fin_sweep"] * p["fin_h"] * f], 1)
    fin = sb.tube(2, centres, X, -Z, 0.5 * p["thick"] * fc, 0.5 * fc, 0.9, 16)
    sb.keypoint(6, fin.end)
    e = np.linspace(0.0, 1.0, 8)
    for k, sx in enumerate((-1.0, 1.0)):
        s = p["eng_pos"]
        base = np.array([sx * s * half, wy + p["dihedral"] * s * half - 0.8 * p["eng_r"] - 0.03,
                         wz - p["sweep"] * s * half + 0.35 * p["chord"]])
        centres = base + np.outer(e - 0.6, [0.0, 0.0, p["eng_len"]])
        er = p["eng_r"] * (0.75 + 0.25 * np.sin(np.pi * np.clip(e * 1.3, 0, 1)))
        eng = sb.tube(3, centres, X, Y, er, er, 1.0, 16)
        sb.keypoint(7 + k, eng.end)  # intake


# ------------------------------------------------------------------------------------------------ mug
def _mug_params(rng):
    return {"radius": _u(rng, 0.035, 0.06), "height": _u(rng, 0.07, 0.13), "flare": _u(rng, -0.2, 0.3),
            "bulge": _u(rng, -0.1, 0.18), "wall": _u(rng, 0.003, 0.008), "mug_e": _u(rng, 0.55, 1.0),
            "handle_top": _u(rng, 0.72, 0.9), "handle_bot": _u(rng, 0.15, 0.4), "reach": _u(rng, 0.02, 0.045),
            "handle_p": _u(rng, 0.4, 1.0), "handle_w": _u(rng, 0.004, 0.009), "handle_d": _u(rng, 0.005, 0.012)}


def _mug_radius(p, y):
    t = y / p["height"]
    return p["radius"] * (1.0 + p["flare"] * (t - 0.5) + p["bulge"] * np.sin(np.pi * t))


def _mug(p, sb: ShapeBuilder):
    H, wall = p["height"], p["wall"]
    # profile: bottom disc outwards, outer wall up, rim, inner wall down, inner floor inwards
    ys_out = np.linspace(0.0, H, 14)
    r_out = _mug_radius(p, ys_out)
    ys_in = np.linspace(H, 2.5 * wall, 12)
    r_in = _mug_radius(p, ys_in) - wall
    r_floor = r_in[-1] * np.array([0.6, 0.25])
    rr = np.concatenate([[0.5 * r_out[0]], r_out, r_in, r_floor])
    yy = np.concatenate([[0.0], ys_out, ys_in, [2.5 * wall, 2.5 * wall]])
    yy[1] = 0.2 * wall  # a small bevel at the foot keeps the first ring off the bottom disc
    body = sb.tube(0, np.stack([0 * yy, yy, 0 * yy], 1), X, -Z, rr, rr, p["mug_e"], 48)
    rim = 14  # the last outer ring, at the rim
    for sid, i in enumerate((0, 12, 24, 36)):  # rim: handle side (+x), back (-z), opposite, front (+z)
        sb.keypoint(sid, body.ring(rim, i))
    sb.keypoint(4, body.start)  # outside bottom centre
    sb.keypoint(5, body.end)    # inside floor centre
    # handle: a C/D-shaped tube on the +x side, ends sunk into the wall
    v = np.linspace(0.0, 1.0, 20)
    y0, y1 = p["handle_top"] * H, p["handle_bot"] * H
    y = y0 + (y1 - y0) * (0.5 - 0.5 * np.cos(np.pi * v))
    x = _mug_radius(p, y) - 0.5 * wall + p["reach"] * np.sin(np.pi * v) ** p["handle_p"]
    centres = np.stack([x, y, 0 * v], 1)
    a1, a2 = curve_frames(centres, Z)
    handle = sb.tube(1, centres, a1, a2, p["handle_w"], p["handle_d"], 0.8, 16)
    sb.keypoint(6, handle.ring(3, 0))   # upper join
    sb.keypoint(7, handle.ring(10, 0))  # outermost
    sb.keypoint(8, handle.ring(16, 0))  # lower join


# ----------------------------------------------------------------------------------------------- lamp
def _lamp_params(rng):
    return {"base_r": _u(rng, 0.08, 0.16), "base_h": _u(rng, 0.015, 0.06), "base_dome": _u(rng, 0.0, 1.0),
            "base_e": _u(rng, 0.3, 1.0), "pole_h": _u(rng, 0.3, 0.65), "pole_r": _u(rng, 0.006, 0.016),
            "pole_bend": _u(rng, -0.12, 0.12), "shade_top": _u(rng, 0.04, 0.1), "shade_bot": _u(rng, 0.1, 0.2),
            "shade_h": _u(rng, 0.1, 0.22), "shade_curve": _u(rng, -0.3, 0.4), "shade_e": _u(rng, 0.5, 1.0)}


def _lamp(p, sb: ShapeBuilder):
    br, bh, pr = p["base_r"], p["base_h"], p["pole_r"]
    # base: bottom disc, a short vertical side, then a cone or dome up to the pole
    t = np.linspace(0.0, 1.0, 8)[1:]
    k = 1.0 + 2.0 * p["base_dome"]
    rb = np.concatenate([[0.5 * br, br, br], br - (br - 2.0 * pr) * t])
    yb = np.concatenate([[0.0, 0.0, 0.3 * bh], bh * (0.3 + 0.7 * (1.0 - (1.0 - t) ** k))])
    base = sb.tube(0, np.stack([0 * yb, yb, 0 * yb], 1), X, -Z, rb, rb, p["base_e"], 32)
    sb.keypoint(0, base.start)  # bottom centre
    for sid, i in enumerate((0, 8, 16, 24)):
        sb.keypoint(1 + sid, base.ring(1, i))  # bottom rim: +x, -z, -x, +z
    v = np.linspace(0.0, 1.0, 16)
    H = bh + p["pole_h"]
    centres = np.stack([p["pole_bend"] * v ** 2, 0.5 * bh + (H - 0.5 * bh) * v, 0 * v], 1)
    sb.tube(1, centres, X, -Z, pr, pr, 1.0, 12)
    top = centres[-1]
    # shade: closed top, open bottom. Profile: outer wall down from the top, rim, inner wall back up;
    # axis1 x axis2 = -y because the profile starts downwards
    s = np.linspace(0.0, 1.0, 10)
    th = 0.004
    r_wall = p["shade_top"] + (p["shade_bot"] - p["shade_top"]) * (s + p["shade_curve"] * s * (1.0 - s))
    y_wall = top[1] + 0.6 * p["shade_h"] - p["shade_h"] * s
    y_in = y_wall[::-1].copy()
    y_in[-1] -= th
    rr = np.concatenate([r_wall, r_wall[::-1] - th])
    yy = np.concatenate([y_wall, y_in])
    shade = sb.tube(2, np.stack([top[0] + 0 * yy, yy, 0 * yy], 1), X, Z, rr, rr, p["shade_e"], 32)
    sb.keypoint(5, shade.start)  # top centre
    for sid, i in enumerate((0, 8, 16, 24)):
        sb.keypoint(6 + sid, shade.ring(9, i))  # bottom rim


_BUILDERS = {"chair": (_chair_params, _chair), "table": (_table_params, _table),
             "airplane": (_airplane_params, _airplane), "mug": (_mug_params, _mug),
             "lamp": (_lamp_params, _lamp)}


# ------------------------------------------------------------------------------------------ public API
def generate_spec(seed: int = 0, instances: int = INSTANCES) -> dict:
    """The bundled collection's spec: {"version", "seed", "shapes": [{"id", "category", "params"}]}.

    Each category's parameters come from its own generator, seeded from (seed, category index), so
    adding a category leaves the others unchanged.
    """
    shapes = []
    for ci, category in enumerate(CATEGORIES):
        rng = np.random.default_rng([seed, ci])
        draw = _BUILDERS[category][0]
        for k in range(instances):
            shapes.append({"id": f"{category}_{k:03d}", "category": category, "params": draw(rng)})
    return {"version": SPEC_VERSION, "seed": seed, "shapes": shapes}


def build_shape(category: str, params: dict):
    """File-frame arrays of one shape: (vertices (V, 3) float64 metres, faces (F, 3) int64, labels (F,)
    int64, Keypoints). Raises InputError for an unknown category or missing parameter."""
    if category not in _BUILDERS:
        raise InputError(f"unknown bundled category {category!r} (have {', '.join(CATEGORIES)})")
    sb = ShapeBuilder()
    try:
        _BUILDERS[category][1](params, sb)
    except KeyError as exc:
        raise InputError(f"bundled {category}: missing parameter {exc}") from None
    vertices, faces, labels, kface, kbary, kid = sb.build()
    return vertices, faces, labels, Keypoints(kface, kbary, kid)


def shape_from_spec(entry: dict, source: str = "bundled") -> PartMesh:
    """Build one PartMesh from a spec entry ({"id", "category", "params"})."""
    vertices, faces, labels, kp = build_shape(entry["category"], entry["params"])
    # built without degenerate or duplicate faces: skipping the cleanup keeps the shared face list
    return make_partmesh(vertices, faces, labels, part_names=PART_NAMES[entry["category"]], keypoints=kp,
                         category=entry["category"], shape_id=entry["id"], source=f"{source}:{entry['id']}",
                         clean=False)


def load_spec(path: str | Path | None = None) -> dict:
    """Read a bundled-collection spec (default: the one shipped in assets/; where an install left
    assets/ out, ``generate_spec(0)``, which is what that file holds)."""
    if path is None and not SPEC_PATH.exists():
        return generate_spec(0)
    path = Path(path) if path is not None else SPEC_PATH
    try:
        spec = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("shapes"), list):
        raise InputError(f"{path}: not a bundled-collection spec (no \"shapes\" list)")
    return spec


def load_bundled(path: str | Path | None = None) -> list[PartMesh]:
    """All shapes of the bundled collection (or of another spec file), built on the fly, in spec order."""
    spec = load_spec(path)
    return [shape_from_spec(entry) for entry in spec["shapes"]]


def is_bundled(shape: PartMesh) -> bool:
    return shape.source.startswith("bundled:")


def exact_correspondence(a: PartMesh, b: PartMesh, face: np.ndarray, bary: np.ndarray):
    """The true correspondence between two bundled shapes of one category, by construction.

    face: (N,) int64 faces of ``a``; bary: (N, 3) float64. Returns (face, bary) on ``b``: the same
    values, because instances of a category share their face list. Raises InputError when the two
    shapes are not bundled instances of one category.
    """
    if not (is_bundled(a) and is_bundled(b)) or a.category != b.category or a.faces.shape != b.faces.shape \
            or not np.array_equal(a.faces, b.faces):
        raise InputError(f"{a.shape_id}, {b.shape_id}: no exact correspondence (not bundled shapes of one category)")
    return np.asarray(face, np.int64).copy(), np.asarray(bary, np.float64).copy()
