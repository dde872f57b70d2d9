"""Background photos for the photo renderer (``sketchgen pairs --backgrounds DIR``): a folder of the user's
images, listed once when the command starts (``scan_backgrounds``) and read by the workers as units use
them (``load_background``).

The scan decodes every file (so a truncated JPEG is found there, not in the middle of a run), keeps the
readable images in name order and returns the others with their reason, which the command reports in
one line. The kept names and a SHA-256 over their bytes go into the pair set's config, so the manifest
records them and a resumed run whose photos changed rebuilds its shards.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchgen.errors import InputError

_CACHE: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
_KEEP = 32
# photos are kept at most this many times the render's size on their short side (a 12-megapixel
# photo is not held whole for a 256 px render)
_MAX_SCALE = 2


@dataclass(frozen=True)
class BackgroundScan:
    """folder: the folder, resolved; files: (name, ...) readable images, sorted; bad: ((name, reason), ...);
    sha256: hex digest over each kept file's name and bytes."""

    folder: str
    files: tuple[str, ...]
    bad: tuple[tuple[str, str], ...]
    sha256: str

    def report(self) -> str | None:
        """One line naming every file left out and why, or None when all were read."""
        if not self.bad:
            return None
        listed = "; ".join(f"{name} ({why})" for name, why in self.bad)
        return f"{self.folder}: {len(self.bad)} of {len(self.bad) + len(self.files)} files are not usable " \
               f"background photos and were left out: {listed}"


def _decode(path: Path, reduce: bool = False):
    import cv2

    data = np.fromfile(str(path), np.uint8)
    if not len(data):
        return None, "empty file"
    flag = cv2.IMREAD_REDUCED_COLOR_4 if reduce else cv2.IMREAD_COLOR
    image = cv2.imdecode(data, flag)
    if image is None:
        return None, "not an image OpenCV can decode"
    return image, None


def scan_backgrounds(folder: str | Path) -> BackgroundScan:
    """List the images of ``folder`` (not recursive; hidden files skipped). Raises InputError naming the
    folder when it is missing or holds no readable image."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder (--backgrounds wants a folder of photos)")
    files, bad = [], []
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            image, why = _decode(path, reduce=True)
        except OSError as exc:
            image, why = None, f"cannot read ({exc.strerror or exc})"
        if image is None or image.shape[0] < 1 or image.shape[1] < 1:
            bad.append((path.name, why or "empty image"))
            continue
        files.append(path.name)
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    if not files:
        reason = f"; {len(bad)} files are not images" if bad else ""
        raise InputError(f"{folder}: holds no readable image for --backgrounds{reason}")
    return BackgroundScan(str(folder), tuple(files), tuple(bad), digest.hexdigest())


def load_background(folder: str, name: str, size: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB of background photo ``name`` in ``folder``, downscaled (area filter) so its
    short side is at most ``_MAX_SCALE`` x ``size``; the last few are cached per process. Raises InputError
    naming the file when it no longer reads."""
    import cv2

    key = (str(Path(folder) / name), int(size))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    path = Path(key[0])
    try:
        image, why = _decode(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if image is None:
        raise InputError(f"{path}: {why}")
    limit = _MAX_SCALE * size
    short = min(image.shape[:2])
    if short > limit:
        scale = limit / short
        image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(image[..., ::-1])
    _CACHE[key] = image
    while len(_CACHE) > _KEEP:
        _CACHE.popitem(last=False)
    return image
