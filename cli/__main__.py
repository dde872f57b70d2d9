"""``python -m sketchgen.cli``: the ``sketchgen`` command."""

import sys

from sketchgen.cli import main

sys.exit(main())
