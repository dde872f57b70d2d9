"""The errors every layer of sketchgen raises, in one place.

- ``InputError`` (a ``ValueError``): bad input, a corrupt or empty mesh, NaN coordinates, an invalid
  camera, a mismatched label file, a bad configuration file. Its message names the file (when there is
  one) and the reason. Subclasses live beside the code that raises them:
  ``sketchgen.render.camera.CameraError`` and ``sketchgen.render.gbuffer.RenderBackendError``.
- ``UsageError``: a request the command line cannot meet (an empty range, options that contradict each
  other); nothing is wrong with the data.

The CLI (``sketchgen.cli``) prints either as one line, ``sketchgen CMD: error: ...``, and exits
with code 2; batches record an ``InputError`` against the unit that raised it and carry on.

This module imports nothing, so any layer (``render``, ``datagen``, ``train``) may import it.
"""


class InputError(ValueError):
    """Bad input: a corrupt or empty mesh, NaN coordinates, an invalid camera, a mismatched label file."""


class UsageError(Exception):
    """A user error on the command line: printed as one line, exit code 2."""
