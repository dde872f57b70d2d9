"""One module per ``sketchgen`` subcommand, each with ``HELP``, ``configure(parser)`` and ``run(args) -> int``.

The data commands (draw, collection, triplets, pairs, sample, preview, export) import no torch; the
model commands (train, eval, demo, export psc-checkpoint) import it when they run."""
