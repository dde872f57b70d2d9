"""A triplet builder that rejects unit 0 as bad input: the executor must record it and carry on."""

from sketchgen.datagen import triplets
from sketchgen.errors import InputError


def build_unit(unit, config):
    if unit.index == 0:
        raise InputError(f"{unit.shape_id}.obj: mesh has no faces")
    return triplets.build_unit(unit, config)
