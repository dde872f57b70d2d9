"""Registrations kept on disk, keyed by the content of the two shapes, so a dataset's units (and later
runs) compute the part-wise alignment of a pair of shapes once.

A work unit loads its shapes afresh, so a cache keyed on the objects (as an ``lru_cache`` on
``register``'s arguments is) never hits across units; this one keys on ``plan.shape_hash`` of both
shapes (SHA-256 of their vertices, faces, labels and keypoints), the ``register`` settings, and a
digest of the source of the modules that compute a registration (``_version``: any change to them
is a new key, never a stale hit). Files: ``<cache>/registration/<key[:2]>/<key>.npz`` under
``index.user_cache_dir()`` ($SKETCHGEN_CACHE, else $XDG_CACHE_HOME/sketchgen, else
~/.cache/sketchgen; ``SKETCHGEN_CACHE=off`` keeps registrations in this process's memory only),
written under a temporary name and renamed, so concurrent workers never see half a file. A file that
does not read back whole is computed again and replaced.

Stored arrays (``np.savez``): per alignment (L of them, the labels in ``labels``, ``WHOLE`` = -1 among
them) and per piece (P): ``matrix`` (3, 3), ``offset`` (3,), ``stats`` (residual, size, spacing) float64;
piece faces as concatenated int64 arrays with per-piece counts (a ``b_count`` of -1: all of B's
faces); ``fallback`` (P,) bool; ``method`` (UTF-8 bytes); for a label-free registration its segment
pairing: ``match_pairs`` (K, 2) int64, ``match_overlap`` (K,) and ``match_stats`` (agreement, turn)
float64. Loading gives arrays equal bit for bit to those computed, so every
output made from a cached registration is byte-identical to one made without the cache.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
from collections import OrderedDict

import numpy as np

log = logging.getLogger(__name__)

SOURCES = ("sketchgen.datagen.registration", "sketchgen.ingest.sampling", "sketchgen.ingest.partmesh",
           "sketchgen.datagen.registration_cache")
_MEMORY: OrderedDict = OrderedDict()  # key -> Registration, the last MEMORY_SIZE used in this process
MEMORY_SIZE = 64


@functools.lru_cache(maxsize=1)
def _version() -> str:
    """SHA-256 of the source of the modules a registration is computed by (``SOURCES``)."""
    import importlib.util

    h = hashlib.sha256(b"registration-cache 1")
    for name in SOURCES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            with open(spec.origin, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def registration_key(a, b, settings: dict) -> str:
    """Hex SHA-256 naming the registration of PartMesh ``a`` onto ``b`` with ``register``'s ``settings``."""
    text = json.dumps({"a": _content(a), "b": _content(b), "settings": settings, "v": _version()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _content(shape) -> str:
    """``plan.shape_hash`` of a shape, computed once per object."""
    from sketchgen.datagen.plan import shape_hash

    digest = _HASHES.get(shape)
    if digest is None:
        digest = shape_hash(shape)
        try:
            _HASHES[shape] = digest
        except TypeError:
            pass
    return digest


def _weak_dict():
    import weakref

    return weakref.WeakKeyDictionary()


_HASHES = _weak_dict()


def cached_register(a, b, **settings):
    """``registration.register(a, b, **settings)`` (with ``method="label-free"`` among the settings,
    ``registration.register_label_free`` with the others), from this process's memory or the disk
    cache when the same shapes (by content) were registered with the same settings before; computed
    and stored otherwise. The Registration returned holds ``a`` and ``b`` themselves."""
    import dataclasses

    from sketchgen.datagen.registration import LABEL_FREE, register, register_label_free

    key = registration_key(a, b, settings)
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        reg = _MEMORY[key]
        return reg if reg.a is a and reg.b is b else dataclasses.replace(reg, a=a, b=b)
    path = _path(key)
    reg = None
    if path is not None and path.exists():
        try:
            reg = from_bytes(a, b, path.read_bytes())
        except (OSError, ValueError, KeyError, EOFError) as exc:  # a damaged file: computed again below
            log.info("%s: unreadable cached registration (%s), computing it again", path, exc)
    if reg is None:
        others = {k: v for k, v in settings.items() if k != "method"}
        reg = (register_label_free if settings.get("method") == LABEL_FREE else register)(a, b, **others)
        if path is not None:
            from sketchgen.files import atomic_write

            try:
                atomic_write(path, to_bytes(reg))
            except OSError as exc:  # a read-only cache only costs the time
                log.info("%s: cannot write the registration cache (%s)", path, exc)
    _MEMORY[key] = reg
    while len(_MEMORY) > MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return reg


def _path(key: str):
    from sketchgen.ingest.index import user_cache_dir

    base = user_cache_dir()
    return None if base is None else base / "registration" / key[:2] / f"{key}.npz"


def _alignment_arrays(alignments) -> dict[str, np.ndarray]:
    return {"matrix": np.array([al.matrix for al in alignments], np.float64).reshape(-1, 3, 3),
            "offset": np.array([al.offset for al in alignments], np.float64).reshape(-1, 3),
            "stats": np.array([(al.residual, al.size, al.spacing) for al in alignments], np.float64).reshape(-1, 3)}


def to_bytes(reg) -> bytes:
    """The ``.npz`` bytes of a Registration's alignments and pieces (layout in the module docstring)."""
    labels = list(reg.alignments)
    arrays = {f"al_{k}": v for k, v in _alignment_arrays([reg.alignments[label] for label in labels]).items()}
    arrays["labels"] = np.array(labels, np.int64)
    arrays.update({f"pc_{k}": v for k, v in _alignment_arrays([p.alignment for p in reg.pieces]).items()})
    arrays["a_count"] = np.array([len(p.a_faces) for p in reg.pieces], np.int64)
    arrays["a_faces"] = np.concatenate([np.asarray(p.a_faces, np.int64) for p in reg.pieces] or [np.zeros(0, np.int64)])
    arrays["b_count"] = np.array([-1 if p.b_faces is None else len(p.b_faces) for p in reg.pieces], np.int64)
    arrays["b_faces"] = np.concatenate([np.asarray(p.b_faces, np.int64) for p in reg.pieces if p.b_faces is not None]
                                       or [np.zeros(0, np.int64)])
    arrays["fallback"] = np.array([p.fallback for p in reg.pieces], bool)
    arrays["method"] = np.frombuffer(reg.method.encode(), np.uint8)
    if reg.match is not None:
        m = reg.match
        arrays["match_pairs"] = np.array(m.pairs, np.int64).reshape(-1, 2)
        arrays["match_overlap"] = np.array([m.overlap[int(la)] for la, _ in m.pairs], np.float64)
        arrays["match_stats"] = np.array([m.agreement, m.turn], np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def from_bytes(a, b, data: bytes):
    """The Registration of ``a`` onto ``b`` stored by ``to_bytes``. Raises ValueError or KeyError when
    the bytes are not such a file or do not fit the shapes' face counts."""
    from sketchgen.datagen.registration import PartAlignment, Piece, Registration

    import zipfile

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"not a registration file ({exc})") from None

    def alignments(prefix):
        m, o, st = arrays[f"{prefix}_matrix"], arrays[f"{prefix}_offset"], arrays[f"{prefix}_stats"]
        return [PartAlignment(m[k].copy(), o[k].copy(), float(st[k, 0]), float(st[k, 1]), float(st[k, 2]))
                for k in range(len(m))]

    labels = arrays["labels"]
    als = alignments("al")
    if len(als) != len(labels):
        raise ValueError("alignments and labels differ in number")
    pieces, a_at, b_at = [], 0, 0
    for k, al in enumerate(alignments("pc")):
        na, nb = int(arrays["a_count"][k]), int(arrays["b_count"][k])
        fa = arrays["a_faces"][a_at:a_at + na].copy()
        a_at += na
        fb = None
        if nb >= 0:
            fb = arrays["b_faces"][b_at:b_at + nb].copy()
            b_at += nb
        if len(fa) != na or (fb is not None and len(fb) != nb):
            raise ValueError("piece faces cut short")
        if (len(fa) and fa.max() >= a.n_faces) or (fb is not None and len(fb) and fb.max() >= b.n_faces):
            raise ValueError("piece faces beyond the shapes' faces")
        pieces.append(Piece(fa, al, fb, bool(arrays["fallback"][k])))
    match = None
    if "match_pairs" in arrays:
        from sketchgen.datagen.registration import SegmentMatch

        pairs = tuple((int(la), int(lb)) for la, lb in arrays["match_pairs"])
        overlap = {la: float(o) for (la, _), o in zip(pairs, arrays["match_overlap"])}
        agreement, turn = arrays["match_stats"]
        match = SegmentMatch(pairs, overlap, float(agreement), int(turn))
    method = arrays["method"].tobytes().decode() if "method" in arrays else "part-labels"
    return Registration(a, b, {int(label): al for label, al in zip(labels, als)}, pieces, method, match)
