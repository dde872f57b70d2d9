"""A triplet builder whose process dies (SIGKILL) the first time it meets unit 1: fault injection for
the executor tests. A marker file next to the collection spec makes the death happen once per run."""

import os
import signal
from pathlib import Path

from sketchgen.datagen import triplets

DIE_UNIT = 1


def marker(config) -> Path:
    return Path(config.collection).with_suffix(".died")


def build_unit(unit, config):
    if unit.index == DIE_UNIT and not marker(config).exists():
        marker(config).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return triplets.build_unit(unit, config)
