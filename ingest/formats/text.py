"""Text mesh files as they come: byte-order marks, bytes that are not UTF-8, and vertex lines.

Mesh text formats (OBJ, OFF) keep their numbers in ASCII; only comments and names (groups, materials)
hold other characters, often in a legacy 8-bit encoding (a Latin-1 umlaut in a CAD exporter's
comment). Such a byte must not reject the file, and a UTF-8 byte-order mark must not glue itself to
the first keyword (where it would silently drop the first vertex and shift every index after it).
"""

from __future__ import annotations

import codecs
import logging
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError

log = logging.getLogger(__name__)

# UTF-32-LE's mark starts with UTF-16-LE's: the longer is tried first
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def read_text(path: Path, kind: str) -> str:
    """The text of ``path``, a ``kind`` ("OBJ", "OFF") text file, without any byte-order mark.

    UTF-8 (or UTF-16/32 with their byte-order mark); a file that is not valid UTF-8 is read as Latin-1,
    which maps every byte to a character, so the ASCII numbers and keywords read the same. Raises
    InputError naming the file when it cannot be read or holds NUL bytes (a binary file).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError:
                raise InputError(f"{path}: cannot parse as {kind} (its byte-order mark says {encoding}, "
                                 f"its bytes are not)") from None
    if b"\x00" in data:
        raise InputError(f"{path}: cannot parse as {kind} (not a text file: it holds NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        log.debug("%s: byte %d is not UTF-8; reading the file as Latin-1", path, exc.start)
        return data.decode("latin-1")


def fixed_width_tokens(rows: list[str], width: int) -> list[str] | None:
    """The tokens of ``rows`` in order when every row holds exactly ``width`` of them, else None: one
    split of the joined text, with a separator between rows so that a short row next to a long one
    cannot pass for two right ones."""
    tokens = " ; ".join(rows).split()
    if len(tokens) != (width + 1) * len(rows) - 1 or tokens[width::width + 1].count(";") != len(rows) - 1:
        return None
    del tokens[width::width + 1]
    return tokens


def parse_vertices(path: Path, rows: list[str], lines: list[int]) -> np.ndarray:
    """(V, 3) float64 from vertex lines' text ``rows`` (their keyword removed; the first three numbers
    count, colours or weights after them are ignored); ``lines``: their line numbers, for the message
    of the InputError raised on a malformed one."""
    flat = fixed_width_tokens(rows, 3)
    if flat is not None:  # the common case, three numbers on every line, in one conversion
        try:
            return np.array(flat, dtype=np.float64).reshape(-1, 3)
        except ValueError:
            pass
    try:
        return np.array([r.split()[:3] for r in rows], dtype=np.float64).reshape(-1, 3)
    except ValueError:
        pass  # find the offending line for the message
    for row, lineno in zip(rows, lines):
        parts = row.split()
        if len(parts) < 3:
            raise InputError(f"{path}: line {lineno}: vertex needs 3 coordinates")
        try:
            [float(t) for t in parts[:3]]
        except ValueError:
            raise InputError(f"{path}: line {lineno}: vertex coordinates are not numbers") from None
    raise InputError(f"{path}: malformed vertex lines")


def read_lines(path: Path, kind: str) -> list[str]:
    """The lines of ``path`` (``read_text``) with ``#`` comments cut off, numbered from 0."""
    text = read_text(path, kind)
    lines = text.splitlines()
    if "#" in text:
        lines = [ln.split("#", 1)[0] for ln in lines]
    return lines
