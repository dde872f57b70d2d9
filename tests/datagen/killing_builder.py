"""A triplet builder whose process dies (SIGKILL) every time it runs unit 1: a unit that can never be
made (a worker killed for memory each time). The executor must fail it alone and finish the rest."""

import os
import signal

from sketchgen.datagen import triplets

DIE_UNIT = 1


def build_unit(unit, config):
    if unit.index == DIE_UNIT:
        os.kill(os.getpid(), signal.SIGKILL)
    return triplets.build_unit(unit, config)
