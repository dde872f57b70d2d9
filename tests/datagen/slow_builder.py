"""A builder that makes its samples slowly and says which processes run it: a file named after the
pid of each process that starts a unit, in ``<collection>.pids/``. For the tests that stop a run."""

import os
import time
from pathlib import Path

SAMPLES = 40
SECONDS_PER_SAMPLE = 0.25


def unit_samples(unit, config, failures):
    folder = Path(config.collection).with_suffix(".pids")
    folder.mkdir(exist_ok=True)
    (folder / str(os.getpid())).write_text(unit.shape_id)
    for k in range(SAMPLES):
        time.sleep(SECONDS_PER_SAMPLE)
        yield {"__key__": f"{unit.shape_id}_{unit.unit:04d}_{k:04d}", "txt": f"{k}"}


def build_unit(unit, config):
    from sketchgen.datagen.execute import gather

    return gather(unit_samples, unit, config)
