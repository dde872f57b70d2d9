"""A drawing's strokes as flat arrays: the record stored beside every image of a dataset, and its raster.

One image's strokes are kept vertex by vertex in concatenated arrays (``StrokeArrays``), so a sample's
strokes travel as one small ``.npz`` file (``<image>.strokes.npz``, layout in ``datagen.schema``) and
can be drawn again without the mesh: at the size they were drawn (``draw_strokes`` reproduces the
image byte for byte, since the image is made from these very float32 arrays), or at another scale or
stroke width (``window_segments``, which ``train`` uses for its zoom windows).

Pure numpy (no GL): ``train`` imports it.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from sketchgen.render.strokes import LINE_TYPES, Drawing

KIND_CODES = {kind: code for code, kind in enumerate(LINE_TYPES)}  # contour 0, boundary 1, crease 2, suggestive 3
FIELDS = ("xy", "offset", "stroke", "point", "face", "part", "kind", "weight", "width")
_DTYPES = {"xy": np.float32, "offset": np.float32, "stroke": np.int32, "point": np.float32, "face": np.int32,
           "part": np.int32, "kind": np.uint8, "weight": np.float32, "width": np.float32}


@dataclass(frozen=True)
class StrokeArrays:
    """The strokes of one image, N vertices of S strokes, each stroke's vertices contiguous and in order.

    xy: (N, 2) float32 pixels as drawn (origin top-left corner, y down).
    offset: (N, 2) float32 pixels, what the style moved each vertex by: ``xy`` minus the exact projection
        of ``point`` (zeros for clean strokes; for a deformed copy, the source's offset, see
        ``datagen.pairs``).
    stroke: (N,) int32 stroke index in [0, S), non-decreasing.
    point: (N, 3) float32 surface point in the collection's unit-sphere frame.
    face: (N,) int32 face of the mesh the vertex lies on; part: (N,) int32 that face's part label (-1
        when unknown).
    kind: (N,) uint8 line type, ``KIND_CODES`` (index in ``render.strokes.LINE_TYPES``).
    weight: (N,) float32 width factor along the stroke (the sketchy style's pressure and gaps; 1 clean).
    width: (S,) float32 stroke width in pixels at weight 1; the drawn width at a vertex is
        ``width[stroke] * weight``.
    """

    xy: np.ndarray
    offset: np.ndarray
    stroke: np.ndarray
    point: np.ndarray
    face: np.ndarray
    part: np.ndarray
    kind: np.ndarray
    weight: np.ndarray
    width: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)

    @property
    def strokes(self) -> int:
        return len(self.width)

    def fields(self) -> dict[str, np.ndarray]:
        """{name: array} of every field, in ``FIELDS`` order."""
        return {name: getattr(self, name) for name in FIELDS}

    def moved(self, xy: np.ndarray) -> "StrokeArrays":
        """The same strokes with vertices at (N, 2) ``xy`` (rounded to float32), all else kept."""
        return _replace(self, xy=np.asarray(xy, np.float32).reshape(-1, 2))

    def to_npz(self) -> bytes:
        """Uncompressed ``.npz`` bytes holding every field (member names as the attributes), as
        ``np.savez`` lays them out (``np.load`` reads them)."""
        return npz_bytes(self.fields())

    @classmethod
    def from_npz(cls, data: bytes) -> "StrokeArrays":
        """Read ``to_npz`` bytes (or any ``.npz`` of the fields). Raises ValueError naming the missing
        member or the wrong shape. An archive laid out as ``npz_bytes`` writes it (stored members, NPY
        1.0 headers) is read directly (``_read_stored_npz``), several times faster than ``np.load``; any
        other goes through ``np.load``."""
        arrays = _read_stored_npz(data)
        if arrays is None:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        missing = [name for name in FIELDS if name not in arrays]
        if missing:
            raise ValueError(f"strokes.npz lacks {', '.join(missing)}")
        return cls.of(**{name: arrays[name] for name in FIELDS})

    @classmethod
    def of(cls, **arrays) -> "StrokeArrays":
        """The record of these arrays, cast to the stored dtypes and checked for consistent lengths."""
        out = {name: np.asarray(arrays[name], _DTYPES[name]) for name in FIELDS}
        for name, cols in (("xy", 2), ("offset", 2), ("point", 3)):
            out[name] = out[name].reshape(-1, cols)
        n = len(out["xy"])
        bad = [name for name in FIELDS if name != "width" and len(out[name]) != n]
        if bad:
            raise ValueError(f"strokes.npz: {', '.join(bad)} do not have one entry per vertex ({n})")
        if n and (out["stroke"].min() < 0 or out["stroke"].max() >= len(out["width"])):
            raise ValueError("strokes.npz: stroke index outside [0, len(width))")
        return cls(**out)

    @classmethod
    def empty(cls) -> "StrokeArrays":
        return cls.of(**{name: np.zeros(0) for name in FIELDS})


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` (a ZIP of ``<name>.npy`` members, NPY format 1.0) of the arrays, written
    directly: ``np.savez`` costs about 0.3 ms a member in ``zipfile`` bookkeeping, several times the
    rest of a zoom's record. Fixed timestamps (1980-01-01), so the bytes depend only on the arrays.
    Layouts: the NPY format (``numpy.lib.format``) and the ZIP application note (PKWARE APPNOTE.TXT
    4.3.7 local header, 4.3.12 central directory, 4.3.16 end record)."""
    local, central = [], []
    offset = 0
    for name, value in arrays.items():
        a = np.ascontiguousarray(value)
        shape = "(%d,)" % a.shape if a.ndim == 1 else "(%s)" % ", ".join(map(str, a.shape))
        header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (a.dtype.str, shape)
        header = header.ljust(-(11 + len(header)) % 64 + len(header)) + "\n"  # data on a 64-byte boundary
        data = _NPY_MAGIC + struct.pack("<H", len(header)) + header.encode("latin1") + a.tobytes()
        fname = name.encode() + b".npy"
        size, crc = len(data), zlib.crc32(data)
        # version 2.0, no flags, stored, 00:00 1980-01-01
        local.append(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, crc, size, size,
                                 len(fname), 0) + fname + data)
        central.append(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, crc, size, size,
                                   len(fname), 0, 0, 0, 0, 0, offset) + fname)
        offset += len(local[-1])
    directory = b"".join(central)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join(local) + directory + end


_NPY_MAGIC = b"\x93NUMPY\x01\x00"
_NPY_HEADER = re.compile(r"\{'descr': '([<>|][a-z]\d+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \}\s*$")


def _read_stored_npz(data: bytes) -> dict[str, np.ndarray] | None:
    """{name: array} of an uncompressed ``.npz`` whose members are NPY 1.0 C-order arrays of plain
    dtypes (as ``npz_bytes`` and ``np.savez`` write them), read by walking its local file headers (PKWARE
    APPNOTE 4.3.7) and parsing each NPY header (``numpy.lib.format``) with one regular expression, each
    member checked against its CRC-32 (the arrays are copies). None for anything
    else (compressed, ZIP64, data descriptors, other headers): the caller falls back to ``np.load``."""
    out, at, end = {}, 0, len(data)
    view = memoryview(data)
    while at + 30 <= end and data[at:at + 4] == b"PK\x03\x04":
        (_, _, flags, method, _, _, crc, size, usize, nlen, xlen) = struct.unpack_from("<4sHHHHHIIIHH", data, at)
        start = at + 30 + nlen + xlen
        if method != 0 or flags & 0x08 or size != usize or size == 0xFFFFFFFF or start + size > end:
            return None
        name = bytes(view[at + 30:at + 30 + nlen]).decode("utf-8", "replace")
        member = view[start:start + size]
        if zlib.crc32(member) != crc or bytes(member[:8]) != _NPY_MAGIC or size < 10:
            return None
        hlen = struct.unpack_from("<H", member, 8)[0]
        match = _NPY_HEADER.match(bytes(member[10:10 + hlen]).decode("latin1"))
        if match is None or not name.endswith(".npy"):
            return None
        shape = tuple(int(v) for v in match.group(2).replace(" ", "").split(",") if v)
        dtype = np.dtype(match.group(1))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        body = member[10 + hlen:]
        if len(body) != count * dtype.itemsize:
            return None
        out[name[:-len(".npy")]] = np.frombuffer(body, dtype=dtype, count=count).reshape(shape).copy()
        at = start + size
    if not out or data[at:at + 4] != b"PK\x01\x02":
        return None
    return out


def from_drawing(drawing: Drawing, *, line_width: float, face_labels: np.ndarray | None = None) -> StrokeArrays:
    """The record of a drawing's non-empty strokes, each ``line_width`` px wide at weight 1.

    face_labels: optional (F,) int part label of every mesh face, for ``part`` (else -1). A stroke's
    ``offset`` of None is zeros.
    """
    strokes = [s for s in drawing.strokes if len(s) > 0]
    if not strokes:
        return StrokeArrays.empty()

    counts = np.array([len(s) for s in strokes])
    face = np.concatenate([np.asarray(s.faces, np.int64).reshape(-1) for s in strokes])
    part = np.full(len(face), -1) if face_labels is None else np.asarray(face_labels)[face]
    return StrokeArrays.of(
        xy=np.concatenate([np.asarray(s.xy, np.float64).reshape(-1, 2) for s in strokes]),
        offset=np.concatenate([np.zeros((len(s), 2)) if s.offset is None else np.asarray(s.offset).reshape(-1, 2)
                               for s in strokes]),
        stroke=np.repeat(np.arange(len(strokes)), counts),
        point=np.concatenate([np.asarray(s.points, np.float64).reshape(-1, 3) for s in strokes]),
        face=face, part=part,
        kind=np.repeat([KIND_CODES[s.kind] for s in strokes], counts),
        weight=np.concatenate([np.ones(len(s)) if s.weight is None else np.asarray(s.weight).reshape(-1)
                               for s in strokes]),
        width=np.full(len(strokes), float(line_width)))


def to_drawing(arrays: StrokeArrays, camera) -> Drawing:
    """The record as a ``Drawing`` seen by ``camera`` (a ``render.camera.Camera``), one Stroke per
    stroke, float64, depth from the camera: what a style's ``apply`` takes."""
    from sketchgen.render.strokes import Stroke

    if len(arrays) == 0:
        return Drawing(camera=camera, strokes=[])
    points = arrays.point.astype(np.float64)
    _, depth = camera.world_to_pixels(points)
    cut = np.flatnonzero(np.diff(arrays.stroke)) + 1
    offset = arrays.offset.astype(np.float64)
    parts = zip(np.split(arrays.xy.astype(np.float64), cut), np.split(depth, cut), np.split(points, cut),
                np.split(arrays.face.astype(np.int64), cut), np.split(arrays.kind, cut),
                np.split(arrays.weight.astype(np.float64), cut), np.split(offset, cut))
    return Drawing(camera=camera, strokes=[
        Stroke(xy=xy, depth=d, points=p, faces=f, kind=LINE_TYPES[int(k[0])], weight=w,
               offset=o if np.any(o) else None)
        for xy, d, p, f, k, w, o in parts])


def styled(arrays: StrokeArrays, camera, style, *, line_width: float,
           face_labels: np.ndarray | None = None, keep=None) -> StrokeArrays:
    """The record drawn in ``style`` (a ``render.style`` object: ``apply(drawing)``), as a record with
    ``line_width`` px strokes. A vertex whose stroke the style left without an ``offset`` gets its drawn
    position minus the exact projection of its point by ``camera``: the offset's definition.
    keep: (K, 2) projected pixel positions whose ink the style must not take away (``SketchyStyle.apply``)."""
    from sketchgen.render.style import CleanStyle

    if isinstance(style, CleanStyle):
        return arrays
    from dataclasses import replace

    drawing = style.apply(to_drawing(arrays, camera), keep=keep)
    strokes = []
    for s in drawing.strokes:
        if s.offset is None and len(s):
            exact, _ = camera.world_to_pixels(np.asarray(s.points, np.float64).reshape(-1, 3))
            s = replace(s, offset=np.asarray(s.xy, np.float64).reshape(-1, 2) - exact)
        strokes.append(s)
    return from_drawing(Drawing(camera=camera, strokes=strokes), line_width=line_width, face_labels=face_labels)


def segments(arrays: StrokeArrays, line_width: float | None = None):
    """(a, b, width_a, width_b) of every piece between consecutive vertices of a stroke, as float64
    pixels for ``render.raster``; a one-vertex stroke is a zero-length piece (a dot). Widths are
    ``width[stroke] * weight``, or ``line_width * weight`` when ``line_width`` is given."""
    xy = arrays.xy.astype(np.float64)
    base = arrays.width.astype(np.float64)[arrays.stroke] if line_width is None else float(line_width)
    w = base * arrays.weight.astype(np.float64)
    n = len(xy)
    if n == 0:
        z = np.zeros(0)
        return np.zeros((0, 2)), np.zeros((0, 2)), z, z
    same = arrays.stroke[1:] == arrays.stroke[:-1]
    alone = np.ones(n, bool)  # a one-vertex stroke: a dot, drawn as a zero-length piece
    alone[1:] &= ~same
    alone[:-1] &= ~same
    joined = np.zeros(n, bool)  # the vertex starts a piece to the next one
    joined[:-1] = same
    start = np.flatnonzero(joined | alone)
    end = np.where(joined[start], start + 1, start)
    return xy[start], xy[end], w[start], w[end]


def draw_strokes(records: list[StrokeArrays], width: int, height: int) -> np.ndarray:
    """(len(records), height, width) uint8 grey images (255 paper) of stroke records, in one rasteriser
    call (``render.raster.segment_image_batch``): the same pixels as one call per record."""
    from sketchgen.render.raster import segment_image_batch

    parts = []
    for k, record in enumerate(records):
        a, b, wa, wb = segments(record)
        parts.append((a, b, wa, wb, np.full(len(a), k, np.int64)))
    if not parts:
        return np.zeros((0, height, width), np.uint8)
    a, b, wa, wb, image = (np.concatenate(p) for p in zip(*parts))
    return segment_image_batch(a, b, wa, wb, image, len(records), width, height).copy()


def window_segments(arrays: StrokeArrays, centre, half: float, size: int, line_width: float | None,
                    pieces=None):
    """(a, b, width_a, width_b) of the strokes in the square window of half-size ``half`` px around
    ``centre`` (x, y), scaled to a ``size`` x ``size`` image, with ``line_width`` px lines at weight 1
    (whatever width the strokes were drawn with; None: the strokes' own ``width``, in pixels of the
    window's image): redrawing, not resampling, keeps the line width constant across zooms.
    pieces: ``segments(arrays, line_width)`` when already known (several windows of one record)."""
    a, b, wa, wb = segments(arrays, line_width) if pieces is None else pieces
    c = np.asarray(centre, np.float64).reshape(1, 2)
    lo, hi = np.minimum(a, b) - c, np.maximum(a, b) - c
    m = half + 1.0
    near = ~((hi[:, 0] < -m) | (lo[:, 0] > m) | (hi[:, 1] < -m) | (lo[:, 1] > m))
    k = size / (2.0 * half)
    return (a[near] - c) * k + size / 2.0, (b[near] - c) * k + size / 2.0, wa[near], wb[near]


def draw_windows(records: list[StrokeArrays], windows, size: int, line_width: float | None = None) -> np.ndarray:
    """(K, size, size) uint8 grey images (255 paper) of K square windows of stroke records, in one
    rasteriser call: window k = (record index r, centre x, centre y, half-size) in the pixels of
    ``records[r]``, redrawn at ``size`` x ``size`` with each stroke's own ``width`` (px of the window's
    image) times its weight (``window_segments``). This is how a triplet's zoom images are made from the
    strokes of its views (``datagen.schema``): the same arrays and windows give the same bytes.
    line_width: draw every stroke ``line_width`` px wide (times its weight) instead, as ``window_segments``.
    Raises IndexError when a window names a record not given."""
    from sketchgen.render.raster import segment_image_batch

    windows = np.asarray(windows, np.float64).reshape(-1, 4)
    if len(windows) == 0:
        return np.zeros((0, size, size), np.uint8)
    # ``window_segments`` for every window of a record at once: the same arithmetic, element by element
    which, centre, half = windows[:, 0].astype(np.int64), windows[:, 1:3], windows[:, 3]
    if len(which) and not (0 <= which.min() and which.max() < len(records)):
        raise IndexError(f"a window names record {int(which.max() if which.max() >= len(records) else which.min())}"
                         f" of {len(records)}")
    scale = size / (2.0 * half)
    parts = []
    for r, record in enumerate(records):
        mine = np.flatnonzero(which == r)
        if len(mine) == 0:
            continue
        a, b, wa, wb = segments(record, line_width)
        c = centre[mine][:, None, :]  # (W, 1, 2)
        lo, hi = np.minimum(a, b)[None] - c, np.maximum(a, b)[None] - c
        m = (half[mine] + 1.0)[:, None]
        near = ~((hi[..., 0] < -m) | (lo[..., 0] > m) | (hi[..., 1] < -m) | (lo[..., 1] > m))
        w, p = np.nonzero(near)  # window-major, pieces in order within a window
        k = mine[w]
        cw = centre[k]
        sk = scale[k][:, None]
        parts.append(((a[p] - cw) * sk + size / 2.0, (b[p] - cw) * sk + size / 2.0, wa[p], wb[p], k))
    if parts:
        a, b, wa, wb, image = (np.concatenate(p) for p in zip(*parts))
    else:
        a = b = np.zeros((0, 2))
        wa = wb = np.zeros(0)
        image = np.zeros(0, np.int64)
    return segment_image_batch(a, b, wa, wb, image, len(windows), size, size).copy()


def _replace(arrays: StrokeArrays, **changes) -> StrokeArrays:
    return StrokeArrays(**{**arrays.fields(), **changes})
