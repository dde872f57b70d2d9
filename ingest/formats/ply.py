"""PLY headers read by sketchgen, and the element counts they declare checked against the data.

trimesh parses the data, but reads an ASCII file's rows without counting them: a file cut short loads
with the faces that survived. Here the header (Turk 1994, "The PLY Polygon File Format": ``ply``,
``format ascii|binary_little_endian|binary_big_endian 1.0``, ``element NAME COUNT`` each followed by its
``property TYPE NAME`` / ``property list COUNT_TYPE ITEM_TYPE NAME`` lines, ``end_header``) is read as
Latin-1, so a comment in any 8-bit encoding reads, and every element is checked to hold the rows its
count declares: ASCII by rows (one per line) and the values of the last row, binary by bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError

# PLY scalar types and their sizes in bytes (the spec's names and the later numpy-like aliases)
TYPE_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
              "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8,
              "float64": 8}
_NUMPY = {"char": "i1", "uchar": "u1", "int8": "i1", "uint8": "u1", "short": "i2", "ushort": "u2",
          "int16": "i2", "uint16": "u2", "int": "i4", "uint": "u4", "int32": "i4", "uint32": "u4",
          "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
_END = re.compile(rb"end_header[ \t]*\r?\n")
_PLURAL = {"vertex": "vertices", "face": "faces", "edge": "edges"}


@dataclass(frozen=True)
class Element:
    """One ``element`` of a PLY header: its name, declared row count and properties, each
    (name, type) for a scalar or (name, (count_type, item_type)) for a list."""

    name: str
    count: int
    properties: tuple

    def rows(self, n: int) -> str:
        """"2000 faces", "1 vertex"."""
        word = self.name if n == 1 else _PLURAL.get(self.name, self.name + "s")
        return f"{n} {word}"


@dataclass(frozen=True)
class Header:
    """A parsed PLY header: ``format`` ("ascii", "binary_little_endian", "binary_big_endian"), its
    elements in file order, and ``size``, the header's length in bytes (where the data starts)."""

    format: str
    elements: tuple[Element, ...]
    size: int
    lines: int = 0  # lines of the header, end_header included

    def element(self, name: str) -> Element | None:
        return next((e for e in self.elements if e.name == name), None)

    def clean(self) -> bytes:
        """The header again in plain ASCII, without its comments and ``obj_info`` lines (for a parser that
        decodes them as UTF-8)."""
        lines = ["ply", f"format {self.format} 1.0"]
        for e in self.elements:
            lines.append(f"element {e.name} {e.count}")
            for name, kind in e.properties:
                lines.append(f"property list {kind[0]} {kind[1]} {name}" if isinstance(kind, tuple)
                             else f"property {kind} {name}")
        return ("\n".join(lines) + "\nend_header\n").encode("ascii")


def read_header(path: Path, data: bytes) -> Header:
    """Parse the header at the start of ``data`` (the bytes of ``path``); InputError naming the file and
    the line otherwise."""
    end = _END.search(data, 0, 1 << 20)
    if not data.startswith(b"ply") or end is None:
        raise InputError(f"{path}: cannot parse as PLY (no 'ply' ... 'end_header' header)")
    lines = data[:end.start()].decode("latin-1").splitlines()
    fmt = None
    elements: list[list] = []
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if not line.isascii():  # element and property names are ASCII words (only comments may be other text)
            raise InputError(f"{path}: line {number}: not a PLY header line: {line.strip()[:60]!r}")
        if words[0] == "format" and len(words) == 3:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append([words[1], int(words[2]), []])
        elif words[0] == "property" and elements and len(words) == 3 and words[1] in TYPE_SIZES:
            elements[-1][2].append((words[2], words[1]))
        elif (words[0] == "property" and elements and len(words) == 5 and words[1] == "list"
              and words[2] in TYPE_SIZES and words[3] in TYPE_SIZES):
            elements[-1][2].append((words[4], (words[2], words[3])))
        else:
            raise InputError(f"{path}: line {number}: not a PLY header line: {line.strip()[:60]!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise InputError(f"{path}: cannot parse as PLY (format {fmt!r} is not ascii or binary)")
    return Header(fmt, tuple(Element(n, c, tuple(p)) for n, c, p in elements), end.end(), len(lines) + 1)


def check_counts(path: Path, data: bytes, header: Header) -> None:
    """Raise InputError naming the file when its data holds fewer rows of an element than the header
    declares (or, binary, more bytes than the declared rows fill)."""
    body = memoryview(data)[header.size:]
    if header.format == "ascii":
        _check_ascii(path, bytes(body), header)
    else:
        _check_binary(path, body, header, "<" if header.format == "binary_little_endian" else ">")


def _short(path: Path, header: Header, held: list[int], more: str = "") -> InputError:
    declared = " and ".join(e.rows(e.count) for e in header.elements if e.count)
    holds = " and ".join(e.rows(h) for e, h in zip(header.elements, held) if e.count)
    return InputError(f"{path}: its PLY header declares {declared} but the file holds {holds} "
                      f"({more or 'cut short?'})")


def _check_ascii(path: Path, body: bytes, header: Header) -> None:
    rows = [r for r in body.splitlines() if r.strip()]
    held, start = [], 0
    for e in header.elements:
        held.append(min(e.count, max(len(rows) - start, 0)))
        start += e.count
    if held != [e.count for e in header.elements]:
        raise _short(path, header, held)
    start = 0
    for e in header.elements:  # a file cut inside a row: the last row of each element has all its values
        if e.count:
            values = rows[start + e.count - 1].split()
            need = _ascii_values(values, e.properties)
            if need is None or len(values) < need:
                raise _short(path, header, [e2.count - (e2 is e) for e2 in header.elements],
                             f"its last {e.rows(1).split(' ', 1)[1]} is cut short: {len(values)} values")
        _check_ascii_rows(path, body, header, e, rows[start:start + e.count], start)
        start += e.count


def _check_ascii_rows(path: Path, body: bytes, header: Header, e: Element, rows: list[bytes], first: int) -> None:
    """Every row of ``e`` holds the values its properties need, each a number (a changed byte inside a
    number would otherwise be read as a shorter row). Rows of one width are checked in one conversion."""
    if not rows:
        return
    width = _ascii_values(rows[0].split(), e.properties)
    tokens = b" ".join(rows).split()
    if width is not None and len(tokens) == width * len(rows):
        try:
            table = np.array(tokens, dtype=np.float64).reshape(len(rows), width)
        except ValueError:
            table = None
        if table is not None:
            at, same = 0, True
            for _, kind in e.properties:  # every list as long as the first row's, so the widths hold
                if isinstance(kind, tuple):
                    same &= bool(np.all(table[:, at] == table[0, at]))
                    at += 1 + int(table[0, at])
                else:
                    at += 1
            if same:
                return
    for k, row in enumerate(rows):  # find the offending row for the message
        values = row.split()
        need = _ascii_values(values, e.properties)
        bad = need is None or len(values) != need
        if not bad:
            try:
                np.array(values, dtype=np.float64)
            except ValueError:
                bad = True
        if bad:
            line = _line_number(body, header, first + k)
            raise InputError(f"{path}: line {line}: {e.name} {k} is not {need if need is not None else 'its'} "
                             f"numbers as its properties ({', '.join(n for n, _ in e.properties)}) declare: "
                             f"{row.decode('latin-1').strip()[:60]!r}")


def _line_number(body: bytes, header: Header, row: int) -> int:
    """The 1-based line of the file holding non-blank data row ``row`` (0-based)."""
    seen = -1
    for number, line in enumerate(body.splitlines()):
        if line.strip():
            seen += 1
            if seen == row:
                return header.lines + number + 1
    return header.lines + 1


def _ascii_values(values: list[bytes], properties) -> int | None:
    """How many values a row of these properties needs, read from the row's own list counts (None when
    a list count is not a whole number)."""
    need = 0
    for _, kind in properties:
        if isinstance(kind, tuple):
            if need >= len(values):
                return need + 1
            try:
                need += 1 + int(values[need])
            except ValueError:
                return None
        else:
            need += 1
    return need


def _check_binary(path: Path, body: memoryview, header: Header, order: str) -> None:
    offset, held = 0, []
    for e in header.elements:
        rows, offset = _binary_rows(body, offset, e, order)
        held.append(rows)
        if rows < e.count:
            held += [0] * (len(header.elements) - len(held))
            raise _short(path, header, held)
    if offset < len(body):
        raise InputError(f"{path}: its PLY data runs {len(body) - offset} bytes past the rows its header "
                         f"declares ({' and '.join(e.rows(e.count) for e in header.elements)})")


def _binary_rows(body: memoryview, offset: int, e: Element, order: str) -> tuple[int, int]:
    """(rows of ``e`` held whole from ``offset``, the offset after them)."""
    if e.count == 0:
        return 0, offset
    lists = [k for _, k in e.properties if isinstance(k, tuple)]
    if not lists:
        size = sum(TYPE_SIZES[k] for _, k in e.properties)
        rows = min(e.count, (len(body) - offset) // size) if size else e.count
        return rows, offset + rows * size
    # rows of one fixed layout (every list as long as in the first row: triangles) are checked at once
    layout, at = [], offset
    for name, kind in e.properties:
        if isinstance(kind, tuple):
            if at + TYPE_SIZES[kind[0]] > len(body):
                return 0, offset
            n = int(np.frombuffer(body, order + _NUMPY[kind[0]], 1, at)[0])
            layout += [(f"{name}_n", order + _NUMPY[kind[0]]), (name, order + _NUMPY[kind[1]], (n,) if n else (0,))]
            at += TYPE_SIZES[kind[0]] + n * TYPE_SIZES[kind[1]]
        else:
            layout.append((name, order + _NUMPY[kind]))
            at += TYPE_SIZES[kind]
    dtype = np.dtype(layout)
    fit = min(e.count, (len(body) - offset) // dtype.itemsize)
    table = np.frombuffer(body, dtype, fit, offset)
    same = np.ones(fit, bool)
    for name, kind in e.properties:
        if isinstance(kind, tuple):
            same &= table[f"{name}_n"] == dtype[name].shape[0]
    if fit == e.count and same.all():
        return e.count, offset + fit * dtype.itemsize
    # rows of several lengths (mixed polygons), or a file cut short: walk the rows one by one
    rows, at = 0, offset
    while rows < e.count:
        for _, kind in e.properties:
            if isinstance(kind, tuple):
                if at + TYPE_SIZES[kind[0]] > len(body):
                    return rows, at
                n = int(np.frombuffer(body, order + _NUMPY[kind[0]], 1, at)[0])
                at += TYPE_SIZES[kind[0]] + n * TYPE_SIZES[kind[1]]
            else:
                at += TYPE_SIZES[kind]
        if at > len(body):
            return rows, at
        rows += 1
    return rows, at
