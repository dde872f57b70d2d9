"""The error every bad input raises: its message names the file (when there is one) and the reason.

The CLI prints it as one line and exits with code 2; batches record it and carry on.
"""


class InputError(ValueError):
    """Bad input: a corrupt or empty mesh, NaN coordinates, an invalid camera, a mismatched label file."""
