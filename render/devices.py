"""Which EGL device a process renders on: the visible GPUs shared round-robin by the workers of a run.

A process whose ``EGL_DEVICE_ID`` is set renders on that device, as pyrender does. Otherwise:

1. the EGL devices are enumerated (``EGL_EXT_device_enumeration``); Mesa's software rasteriser
   (a device with ``EGL_MESA_device_software``) counts only when there is no other device;
2. where the NVIDIA driver names each device's CUDA ordinal (``EGL_CUDA_DEVICE_NV``), only those
   listed in ``CUDA_VISIBLE_DEVICES`` are kept, in its order (a scheduler's GPU allocation);
3. the process takes device ``visible[slot % len(visible)]``, where ``slot`` is its worker number: a
   Dask worker's name when it ends in a number (a LocalCluster names its workers 0, 1, ...), a joblib
   (loky) or multiprocessing worker's spawn number, 0 for the main process.

The choice is written to ``EGL_DEVICE_ID`` so that pyrender (the shaded renderer) uses the same device.
The rule (``visible_devices``, ``choose_device``, ``worker_slot``) is plain Python, tested without a GPU;
only ``egl_devices`` talks to EGL.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

EGL_EXTENSIONS = 0x3055
EGL_CUDA_DEVICE_NV = 0x323A


@dataclass(frozen=True)
class EglDevice:
    """One EGL device: its index in the enumeration (what ``EGL_DEVICE_ID`` names), its CUDA ordinal
    where the driver tells it (else None), and whether it is a software rasteriser."""

    index: int
    cuda: int | None = None
    software: bool = False


def visible_devices(devices: list[EglDevice], cuda_visible: str | None) -> list[int]:
    """The EGL device indices this process may use, in the order workers take them (rules 1 and 2 of
    the module docstring). ``cuda_visible``: ``CUDA_VISIBLE_DEVICES`` or None when unset; entries that
    are not ordinals (GPU UUIDs, MIG names) leave the list unfiltered, as sketchgen cannot map them."""
    hardware = [d for d in devices if not d.software] or list(devices)
    if cuda_visible is None or not any(d.cuda is not None for d in hardware):
        return [d.index for d in hardware]
    ordinals = []
    for token in (t.strip() for t in cuda_visible.split(",")):
        if not re.fullmatch(r"-?\d+", token):
            if token:
                return [d.index for d in hardware]
            break
        if int(token) < 0:  # CUDA stops reading the list at the first invalid ordinal
            break
        ordinals.append(int(token))
    by_cuda = {d.cuda: d.index for d in hardware if d.cuda is not None}
    chosen = [by_cuda[o] for o in ordinals if o in by_cuda]
    if chosen:
        return chosen
    # no GPU visible to this process: a software device if there is one, else what the driver lists
    software = [d.index for d in devices if d.software]
    return software or [d.index for d in hardware]


def choose_device(slot: int, visible: list[int]) -> int:
    """Round-robin: worker ``slot`` (0-based) renders on ``visible[slot % len(visible)]`` (0 when none)."""
    return visible[slot % len(visible)] if visible else 0


def worker_slot() -> int:
    """This process's worker number (rule 3 of the module docstring)."""
    import multiprocessing
    import sys

    name = None
    distributed = sys.modules.get("distributed")  # a Dask worker has it loaded; others need not load it
    if distributed is not None:
        try:
            name = str(distributed.get_worker().name)
        except ValueError:  # not inside a Dask worker
            pass
    if name is not None:
        found = re.search(r"(\d+)$", name)
        if found:
            return int(found.group(1))
    identity = getattr(multiprocessing.current_process(), "_identity", ())
    return identity[0] - 1 if identity else 0


def egl_device_index() -> int:
    """The EGL device this process renders on: ``EGL_DEVICE_ID`` when set, else the round-robin choice,
    which is then written to ``EGL_DEVICE_ID``. Falls back to device 0 when EGL cannot enumerate."""
    explicit = os.environ.get("EGL_DEVICE_ID", "").strip()
    if explicit:
        return int(explicit)
    try:
        devices = egl_devices()
    except Exception as exc:  # noqa: BLE001 - no enumeration: the driver's first device, as before
        log.debug("EGL devices cannot be enumerated (%s); using device 0", exc)
        devices = []
    index = choose_device(worker_slot(), visible_devices(devices, os.environ.get("CUDA_VISIBLE_DEVICES")))
    os.environ["EGL_DEVICE_ID"] = str(index)
    if len(devices) > 1:
        log.info("rendering on EGL device %d of %d", index, len(devices))
    return index


def egl_devices() -> list[EglDevice]:
    """The EGL devices the driver lists, with their CUDA ordinals and software flag."""
    import ctypes

    from pyrender.platforms import egl

    from OpenGL import EGL

    found = egl.query_devices()
    query_string = _function(EGL, "eglQueryDeviceStringEXT", ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)
    query_attrib = _function(EGL, "eglQueryDeviceAttribEXT", ctypes.c_uint, ctypes.c_void_p, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_ssize_t))
    out = []
    for index, device in enumerate(found):
        raw = getattr(device, "_display", None)  # pyrender keeps the EGLDeviceEXT handle here
        handle = ctypes.cast(raw, ctypes.c_void_p) if raw is not None else None
        extensions = b""
        if query_string is not None and handle is not None:
            extensions = query_string(handle, EGL_EXTENSIONS) or b""
        cuda = None
        if query_attrib is not None and handle is not None and b"EGL_NV_device_cuda" in extensions:
            value = ctypes.c_ssize_t(-1)
            if query_attrib(handle, EGL_CUDA_DEVICE_NV, ctypes.byref(value)) and value.value >= 0:
                cuda = int(value.value)
        out.append(EglDevice(index, cuda, b"EGL_MESA_device_software" in extensions))
    return out


def _function(EGL, name: str, restype, *argtypes):
    import ctypes

    address = EGL.eglGetProcAddress(name)
    if not address:
        return None
    proto = ctypes.CFUNCTYPE(restype, *argtypes)
    return proto(address)
