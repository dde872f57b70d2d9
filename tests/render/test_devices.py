"""The EGL device of each worker: the visible GPUs shared round-robin (no GPU is needed: the rule is
plain Python, and EGL's device list is replaced by the test's)."""

import os

import pytest

from sketchgen.render import devices
from sketchgen.render.devices import EglDevice, choose_device, visible_devices, worker_slot

# a node with four NVIDIA GPUs (CUDA ordinals 0-3 as EGL devices 0-3) and Mesa's software device
NODE = [EglDevice(0, 0), EglDevice(1, 1), EglDevice(2, 2), EglDevice(3, 3), EglDevice(4, None, software=True)]


@pytest.mark.parametrize("cuda_visible, expected", [
    (None, [0, 1, 2, 3]),          # every GPU; the software rasteriser only when there is nothing else
    ("2,3", [2, 3]),               # a scheduler's allocation, in its order
    ("3,1", [3, 1]),
    ("1,-1,2", [1]),               # CUDA reads up to the first invalid ordinal
    ("", [4]), ("-1", [4]),        # no GPU for this process: the software device
    ("GPU-5f2a", [0, 1, 2, 3]),    # UUIDs cannot be mapped: every GPU
    ("7", [4]),                    # an ordinal the driver does not list
])
def test_visible_devices_follow_cuda_visible_devices(cuda_visible, expected):
    assert visible_devices(NODE, cuda_visible) == expected


def test_devices_without_cuda_ordinals_are_all_visible_and_software_only_alone():
    mesa = [EglDevice(0, None, software=True)]
    assert visible_devices(mesa, "0") == [0]  # a CPU machine renders on llvmpipe whatever CUDA says
    drm = [EglDevice(0), EglDevice(1), EglDevice(2, software=True)]
    assert visible_devices(drm, None) == [0, 1] and visible_devices([], None) == []


def test_workers_take_the_visible_devices_round_robin():
    visible = visible_devices(NODE, "2,3")
    assert [choose_device(slot, visible) for slot in range(5)] == [2, 3, 2, 3, 2]
    assert choose_device(3, []) == 0


def _slot_and_pid(_):
    import time

    time.sleep(0.2)
    return worker_slot(), os.getpid()


def test_local_workers_have_distinct_consecutive_slots():
    """Local workers (joblib's loky, multiprocessing) number themselves by spawn order: a pool's workers
    hold consecutive slots, so they take distinct devices whenever there are as many devices as workers."""
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(3) as pool:
        got = pool.map(_slot_and_pid, range(9), chunksize=1)
    slot_of = {}
    for slot, pid in got:
        assert slot_of.setdefault(pid, slot) == slot  # a process keeps its slot
    slots = sorted(slot_of.values())
    assert len(set(slots)) == len(slots) and slots == list(range(slots[0], slots[0] + len(slots)))
    assert worker_slot() == 0  # the main process


def _in_dask_worker(monkeypatch, name):
    """Inside a Dask worker named ``name``, as ``distributed.get_worker()`` tells it."""
    import sys
    import types

    worker = types.SimpleNamespace(name=name)
    monkeypatch.setitem(sys.modules, "distributed", types.SimpleNamespace(get_worker=lambda: worker))
    return worker


def test_a_dask_workers_slot_is_the_number_its_name_ends_with(monkeypatch):
    Worker = _in_dask_worker(monkeypatch, "node7-worker-3")
    assert worker_slot() == 3
    Worker.name = 5  # LocalCluster: 0, 1, ...
    assert worker_slot() == 5


def test_the_choice_is_written_for_pyrender_and_an_explicit_device_wins(monkeypatch):
    _in_dask_worker(monkeypatch, 3)
    monkeypatch.setattr(devices, "egl_devices", lambda: NODE)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,2")
    monkeypatch.setenv("EGL_DEVICE_ID", "")  # unset, and restored after the test (the choice writes it)
    assert devices.egl_device_index() == 2  # slot 3 of [0, 2]
    assert os.environ["EGL_DEVICE_ID"] == "2"
    monkeypatch.setenv("EGL_DEVICE_ID", "1")
    assert devices.egl_device_index() == 1


def test_this_machines_devices_enumerate():
    """On a machine without a GPU, Mesa's software device (the one every test here renders on)."""
    import sketchgen.render  # noqa: F401 - sets PYOPENGL_PLATFORM=egl

    found = devices.egl_devices()
    assert found and all(d.index == k for k, d in enumerate(found))
    assert choose_device(0, visible_devices(found, os.environ.get("CUDA_VISIBLE_DEVICES"))) in range(len(found))
