"""A triplet builder that rejects unit 0 as bad input: the executor must record it and carry on."""

from datagen import triplets
from render.errors import InputError


def build_unit(unit, config):
    if unit.index == 0:
        raise InputError(f"{unit.shape_id}.obj: mesh has no faces")
    return triplets.build_unit(unit, config)
