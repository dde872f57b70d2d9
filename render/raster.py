"""Anti-aliased rasterisation of strokes: black lines on a white background, width in pixels.

Each segment is drawn by its exact distance field: a pixel whose centre lies at distance ``d`` from the
segment receives ink ``clamp(w/2 + 1/2 - d, 0, 1)`` (a one-pixel linear ramp around the edge of a line
``w`` pixels wide, round caps and joins), so a line's ink integrates to ``w`` across its width and its
centre lands exactly where the stroke's xy say, to a fraction of a pixel, in the pixel convention of
``render/camera.py`` (pixel (row i, col j) has its centre at (j + 0.5, i + 0.5)). Lines thinner than a
pixel are drawn one pixel wide with ink ``w``, so their integral is still ``w``. Overlapping strokes
take the darker ink (no double darkening where segments of a polyline meet).

Width and ink vary along a stroke: ``Stroke.weight`` (pen pressure, in [0, 1]) multiplies the width at
each vertex and is interpolated linearly along each segment; suggestive contours fade and the sketchy
style's gaps are weights falling to 0.

cv2.polylines (LINE_AA, shift bits) was tried first: it is faster, but its thickness is a whole number
of pixels and its thick lines come out about a pixel wider than asked with up to 0.2 px bias, which rules
out fractional widths and pen-pressure variation. This vectorised distance field evaluates each piece
only on the few pixels of its box; a zoom image holds a few hundred pieces, so numpy's per-call overhead
dominates one image, and ``segment_ink_batch`` draws many images (a triplet's nine zooms) in one call:
about 0.85 ms a 224 x 224 zoom image (to uint8) against 1.4-1.8 ms drawn one call each, on a busy
2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sketchgen.render.strokes import Drawing, Stroke

WHITE = 255


def rasterize(drawing: Drawing, *, line_width: float = 1.0) -> np.ndarray:
    """(H, W) uint8 image of the drawing at its camera's size: 255 background, 0 full ink.

    line_width: stroke width in pixels at weight 1.
    """
    cam = drawing.camera
    ink = stroke_ink(drawing.strokes, cam.width, cam.height, line_width=line_width)
    return ink_to_image(ink)


def ink_to_image(ink: np.ndarray) -> np.ndarray:
    """(..., H, W) float32 ink in [0, 1] -> (..., H, W) uint8 grey levels, white background."""
    grey = np.subtract(1.0, ink, dtype=np.float32)  # in place from here: 9 zooms are 1.8 MB of floats
    grey *= WHITE
    np.rint(grey, out=grey)
    return grey.astype(np.uint8)


def stroke_ink(strokes: Iterable[Stroke], width: int, height: int, *, line_width: float = 1.0) -> np.ndarray:
    """(height, width) float32 ink coverage in [0, 1] of ``strokes``.

    strokes: polylines with (N, 2) float64 xy in pixels; ``weight`` (N,) multiplies the width.
    """
    starts, ends, w0, w1 = [], [], [], []
    for stroke in strokes:
        xy = np.asarray(stroke.xy, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            continue
        weight = np.ones(len(xy)) if stroke.weight is None else np.asarray(stroke.weight, dtype=np.float64)
        if len(xy) == 1:  # a dot: a zero-length segment draws a disc
            xy, weight = np.repeat(xy, 2, axis=0), np.repeat(weight, 2)
        starts.append(xy[:-1])
        ends.append(xy[1:])
        w0.append(weight[:-1])
        w1.append(weight[1:])
    if not starts:
        return np.zeros((height, width), dtype=np.float32)
    return segment_ink(np.concatenate(starts), np.concatenate(ends),
                       np.concatenate(w0) * line_width, np.concatenate(w1) * line_width, width, height)


def segment_ink(a: np.ndarray, b: np.ndarray, width_a: np.ndarray, width_b: np.ndarray,
                width: int, height: int) -> np.ndarray:
    """(height, width) float32 ink of M segments.

    a, b: (M, 2) float64 segment end points in pixels. width_a, width_b: (M,) float64 line width in
    pixels at each end, interpolated linearly along the segment.
    """
    return segment_ink_batch(a, b, width_a, width_b, 0, 1, width, height)[0].copy()


def segment_ink_batch(a: np.ndarray, b: np.ndarray, width_a: np.ndarray, width_b: np.ndarray,
                      image, count: int, width: int, height: int, *, compiled: bool = True) -> np.ndarray:
    """(count, height, width) float32 ink of M segments spread over ``count`` images of one size.

    a, b: (M, 2) float64 segment end points in pixels. width_a, width_b: (M,) float64 line width in
    pixels at each end, interpolated linearly along the segment. image: (M,) int64 index in
    [0, count) of the image each segment is drawn on (or one int for all). Drawing several images in
    one call gives the same pixels as one call per image, at a fraction of the per-call cost (a zoom
    image holds only a few hundred short pieces, so numpy's per-operation overhead dominates). The
    result may be a view into a larger canvas: copy it to keep it long. compiled: False draws with the
    numpy path even where the compiled kernel is at hand (the same pixels, bit for bit).
    """
    drawn = _ink_canvas(a, b, width_a, width_b, image, count, width, height, compiled=compiled)
    if drawn is None:
        return np.zeros((count, height, width), dtype=np.float32)
    ink, _, pad, rows, stride = drawn
    return ink.reshape(count, rows, stride)[:, pad:pad + height, pad:pad + width]


def segment_image_batch(a: np.ndarray, b: np.ndarray, width_a: np.ndarray, width_b: np.ndarray,
                        image, count: int, width: int, height: int, *, compiled: bool = True) -> np.ndarray:
    """(count, height, width) uint8 grey images (255 background) of M segments over ``count`` images:
    ``ink_to_image(segment_ink_batch(...))``, converting only the pixels that received ink (a few
    percent of a drawing). Arguments as ``segment_ink_batch``."""
    drawn = _ink_canvas(a, b, width_a, width_b, image, count, width, height, compiled=compiled)
    if drawn is None:
        return np.full((count, height, width), WHITE, dtype=np.uint8)
    ink, touched, pad, rows, stride = drawn
    grey = np.full(ink.shape, WHITE, dtype=np.uint8)
    kernel = _compiled_kernel(1) if compiled and _KERNELS else None  # numba already started for the stencil
    if kernel is not None:
        kernel(grey, ink, touched)
    else:
        grey[touched] = np.rint((1.0 - ink[touched]) * WHITE).astype(np.uint8)
    return grey.reshape(count, rows, stride)[:, pad:pad + height, pad:pad + width]


def _ink_canvas(a, b, width_a, width_b, image, count: int, width: int, height: int, *, compiled: bool = True):
    """The drawing behind ``segment_ink_batch``: (flat float32 ink of ``count`` padded canvases, (T,)
    int64 flat indices of the pixels that received ink (repeats allowed), pad, rows, stride), or None
    when nothing is drawn. compiled: evaluate the pieces' stencils in the compiled kernel
    (``_stencil_max``) where numba is installed and there are ``COMPILED_MIN`` pieces or more; False:
    the numpy path (the same pixels)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    wa = np.maximum(np.asarray(width_a, dtype=np.float64).reshape(-1), 0.0)
    wb = np.maximum(np.asarray(width_b, dtype=np.float64).reshape(-1), 0.0)
    img = np.broadcast_to(np.asarray(image, dtype=np.int64), (len(a),))
    # a sum is finite only when every term is (inf - inf is NaN)
    keep = np.isfinite(a.sum(axis=1) + b.sum(axis=1)) & ((wa > 0) | (wb > 0))
    if not keep.all():
        a, b, wa, wb, img = a[keep], b[keep], wa[keep], wb[keep], img[keep]
    if len(a) == 0:
        return None
    reach = np.maximum(np.maximum(wa, wb), 1.0) * 0.5 + 0.5  # farthest pixel centre that gets ink
    a, b, wa, wb, img, reach = _clip_to_image(a, b, wa, wb, img, reach, width, height)
    if len(a) == 0:
        return None
    # pieces of Chebyshev length up to piece_px: a piece's box then spans at most floor(piece_px +
    # 2 reach) + 1 = floor(2 reach) + 3 pixel centres per axis, with piece_px as long as that allows
    # (cost per pixel of line ~ stencil^2 / piece_px, least for pieces 2-3 px long). Per segment, so
    # that how a segment is cut (which moves its pixels by float rounding, and changes them where its
    # width varies) never depends on the other segments of the call.
    piece_px = np.floor(2.0 * reach) + 3.0 - 2.0 * reach - 1e-6
    a, b, wa, wb, img, reach = _split_long(a, b, wa, wb, img, reach, piece_px)
    k = int(np.floor((np.abs(b - a) + 2.0 * reach[:, None]).max())) + 1

    # every piece gets the same k x k stencil of pixels from the corner of its box (the first pixel
    # whose centre may be within reach): dense (M, k, k) arrays are several times faster than ragged
    # per-piece pixel lists. A canvas padded by more than a stencil needs no inside-the-image test.
    pad = k + 2
    stride = width + 2 * pad
    rows = height + 2 * pad
    lo = np.ceil(np.minimum(a, b) - reach[:, None] - 0.5)
    np.clip(lo[:, 0], -pad, width + pad - k, out=lo[:, 0])
    np.clip(lo[:, 1], -pad, height + pad - k, out=lo[:, 1])

    f32 = np.float32
    rel = (lo + 0.5 - a).astype(f32)  # first pixel centre relative to the piece's start
    d = b - a
    length = np.sqrt((d * d).sum(axis=1))
    safe = np.where(length > 0, length, 1.0)
    unit = (d / safe[:, None]).astype(f32)  # zero for a zero-length piece (a dot)
    base = img * (rows * stride) + (lo[:, 1].astype(np.int64) + pad) * stride + (lo[:, 0].astype(np.int64) + pad)
    ink = np.zeros(count * rows * stride, dtype=np.float32)
    kernel = _compiled_kernel() if compiled and (len(a) >= COMPILED_MIN or _KERNELS) else None
    if kernel is not None:
        touched = np.empty(len(a) * k * k, np.int64)
        n = kernel(ink, touched, rel, unit, length.astype(f32), wa.astype(f32), ((wb - wa) / safe).astype(f32),
                   base, k, stride)
        return ink, touched[:n], pad, rows, stride

    off = np.arange(k, dtype=f32)
    px = rel[:, 0, None, None] + off[None, None, :]  # (M, 1, k)
    py = rel[:, 1, None, None] + off[None, :, None]  # (M, k, 1)
    # squared distance to the piece: |p|^2 - 2 t s + t^2 with s = p.u and t = s clamped to the piece
    s = px * unit[:, 0, None, None] + py * unit[:, 1, None, None]  # (M, k, k)
    t = np.clip(s, 0.0, length.astype(f32)[:, None, None])
    s *= -2.0
    s += t
    s *= t
    s += px * px + py * py
    np.maximum(s, 0.0, out=s)
    dist = np.sqrt(s, out=s)
    if np.all(wa == wb):
        w = wa.astype(f32)[:, None, None]
    else:
        w = wa.astype(f32)[:, None, None] + t * ((wb - wa) / safe).astype(f32)[:, None, None]
    cover = np.subtract(np.maximum(w, f32(1.0)) * f32(0.5) + f32(0.5), dist, out=dist)
    np.clip(cover, 0.0, 1.0, out=cover)
    thin = np.minimum(w, f32(1.0))
    if np.any(thin < 1.0):  # lines thinner than a pixel: one pixel wide, ink w
        cover *= thin

    stencil = (np.arange(k)[:, None] * stride + np.arange(k)[None, :]).ravel()
    index = (base[:, None] + stencil[None, :]).ravel()
    cover = cover.reshape(-1)
    inked = cover > 0  # most of a stencil misses its piece: scatter only what it inks
    touched = index[inked]
    _scatter_max(ink, touched, cover[inked])
    return ink, touched, pad, rows, stride


# pieces from which the stencil runs compiled in a process that has not started numba: below, the numpy
# path costs less than starting numba (about a second); a triplet's 24 zooms hold thousands, one PSB pair
# image a few hundred. Once started (``compile_kernels``, or one call this large), every call runs compiled.
COMPILED_MIN = 2048
_KERNELS: list = []  # [stencil kernel, grey kernel], or [None, None] when numba is missing; on first use


def compile_kernels() -> bool:
    """Start the compiled kernels in this process (numba, cached on disk), so that every later call
    draws with them however few its pieces: for processes that draw many small images, such as training
    loaders. Returns False where numba is not installed (the numpy path then draws: the same pixels)."""
    return _compiled_kernel() is not None


def _compiled_kernel(which: int = 0):
    """The compiled stencil loop (``which`` 0, ``_stencil_max``) or grey conversion (1, ``_to_grey``):
    numba, cached on disk beside this module where it can be; None where numba is not installed (the
    numpy path then draws, with the same pixels)."""
    if not _KERNELS:
        try:
            import numba
        except ImportError:
            _KERNELS.extend([None, None])
        else:
            _KERNELS.extend(numba.njit(cache=True, nogil=True)(f) for f in (_stencil_max, _to_grey))
    return _KERNELS[which]


def _to_grey(grey, ink, touched):
    """``grey[touched] = rint((1 - ink[touched]) * 255)`` in float32, as the numpy path computes it."""
    one, white = np.float32(1.0), np.float32(WHITE)
    for idx in touched:
        grey[idx] = np.uint8(np.rint((one - ink[idx]) * white))


def _stencil_max(ink, touched, rel, unit, length, wa, dw, base, k, stride):
    """The numpy path's per-pixel arithmetic, pixel by pixel, in the same float32 operations in the same
    order (no fused multiply-adds: numba contracts none without ``fastmath``), so the ink is bit for bit
    the same: for every piece m and stencil pixel (i, j), the cover at pixel centre (rel + (j, i)) is
    max-written into ``ink[base[m] + i * stride + j]``; every pixel first inked is appended to
    ``touched``. Returns how many were. Compiled by ``_compiled_kernel``; plain Python otherwise."""
    zero, half, one, minus_two = np.float32(0.0), np.float32(0.5), np.float32(1.0), np.float32(-2.0)
    n = 0
    for m in range(rel.shape[0]):
        rx, ry, ux, uy = rel[m, 0], rel[m, 1], unit[m, 0], unit[m, 1]
        top, w0, dwm, at = length[m], wa[m], dw[m], base[m]
        for i in range(k):
            py = ry + np.float32(i)
            for j in range(k):
                px = rx + np.float32(j)
                s = px * ux + py * uy
                t = min(max(s, zero), top)
                q = s * minus_two
                q = q + t
                q = q * t
                q = q + (px * px + py * py)
                w = w0 + t * dwm
                reach = max(w, one) * half + half
                if q > reach * reach * np.float32(1.001) + np.float32(1e-6):
                    continue  # certainly beyond the line's reach (cover 0); the rest decides exactly
                if q < zero:
                    q = zero
                dist = np.sqrt(q)
                cover = reach - dist
                cover = min(max(cover, zero), one)
                cover = cover * min(w, one)
                if cover > zero:
                    idx = at + i * stride + j
                    if ink[idx] == zero:
                        touched[n] = idx
                        n += 1
                    if cover > ink[idx]:
                        ink[idx] = cover
    return n


def _scatter_max(out: np.ndarray, index: np.ndarray, value: np.ndarray) -> None:
    """``np.maximum.at(out, index, value)`` for ``out`` all zeros and ``value`` > 0, by plain fancy
    assignment repeated for the values that lost to another write of the same pixel: each round raises
    every such pixel, so it ends with the maximum whatever order the writes took, after as many rounds
    as pieces overlap at a pixel (a few), several times faster than ``ufunc.at``."""
    out[index] = value
    while True:
        lost = out[index] < value
        if not lost.any():
            return
        index, value = index[lost], value[lost]
        out[index] = value


def _clip_to_image(a, b, wa, wb, img, reach, width: int, height: int):
    """Cut segments to the image grown by their reach (Liang-Barsky), dropping those wholly outside, so
    a stroke running far off screen costs no more than its visible part. Only the segments reaching
    outside are touched."""
    margin = reach + 1.5
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    out = ((lo[:, 0] < -margin) | (lo[:, 1] < -margin)
           | (hi[:, 0] > width + margin) | (hi[:, 1] > height + margin))
    if not out.any():
        return a, b, wa, wb, img, reach  # the usual case: every segment inside, nothing to cut
    sel = np.flatnonzero(out)
    ca, cd, cm = a[sel], b[sel] - a[sel], margin[sel]
    t0 = np.zeros(len(sel))
    t1 = np.ones(len(sel))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, size in ((0, width), (1, height)):
            for bound, sign in ((-cm, 1.0), (size + cm, -1.0)):
                # inside where sign * (a + t d - bound) >= 0
                num = sign * (ca[:, axis] - bound)
                den = sign * cd[:, axis]
                t = -num / den
                t0 = np.where(den > 0, np.maximum(t0, t), t0)
                t1 = np.where(den < 0, np.minimum(t1, t), t1)
                t1 = np.where((den == 0) & (num < 0), -1.0, t1)
    a, b, wa, wb = a.copy(), b.copy(), wa.copy(), wb.copy()
    dw = wb[sel] - wa[sel]
    a[sel] = ca + t0[:, None] * cd
    b[sel] = ca + t1[:, None] * cd
    wa[sel], wb[sel] = wa[sel] + t0 * dw, wa[sel] + t1 * dw
    keep = np.ones(len(a), dtype=bool)
    keep[sel] = t0 <= t1
    return a[keep], b[keep], wa[keep], wb[keep], img[keep], reach[keep]


def _split_long(a, b, wa, wb, img, reach, max_len: np.ndarray):
    """Cut segments longer than their ``max_len`` (M,) (in x or y) into equal collinear pieces (same
    line, smaller stencil)."""
    pieces = np.maximum(np.ceil(np.abs(b - a).max(axis=1) / max_len), 1).astype(np.int64)
    if np.all(pieces == 1):
        return a, b, wa, wb, img, reach
    seg = np.repeat(np.arange(len(a)), pieces)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    n = pieces[seg]
    t0, t1 = k / n, (k + 1) / n
    a0, d = a[seg], (b - a)[seg]
    w0, dw = wa[seg], (wb - wa)[seg]
    return (a0 + t0[:, None] * d, a0 + t1[:, None] * d, w0 + t0 * dw, w0 + t1 * dw, img[seg], reach[seg])


def encode_png(image: np.ndarray, *, compression: int = 1) -> bytes:
    """PNG bytes of an (H, W) or (H, W, 3) uint8 image; compression 0-9.

    Line drawings are mostly white runs: for a grey image at level 1, zlib's run-length strategy with
    no row filter encodes a 224 x 224 zoom in about 0.2 ms for a file of about 2.6 kB, against 0.37 ms
    and 3.8 kB with the "up" filter and the default strategy (still used for colour images, whose
    runs are short), and 3 ms at OpenCV's defaults.
    """
    import cv2

    params = [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11
        if image.ndim == 2 and compression <= 1:
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE,
                       cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
        else:
            params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), params)
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()
