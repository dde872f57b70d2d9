"""A builder of ``config.points`` samples of 1 MiB each (seeded bytes): what a unit holds if its
samples are not streamed to the shard."""

import numpy as np

SAMPLE_BYTES = 1 << 20


def unit_samples(unit, config, failures):
    for k in range(config.points):
        data = np.random.default_rng([config.seed, k]).integers(0, 256, SAMPLE_BYTES, dtype=np.uint8)
        yield {"__key__": f"{unit.shape_id}_{unit.unit:04d}_{k:04d}", "bin": data.tobytes()}
    failures.append({"shape": unit.shape_id, "reason": "none missing", "count": 0})


def build_unit(unit, config):
    from sketchgen.datagen.execute import gather

    return gather(unit_samples, unit, config)
