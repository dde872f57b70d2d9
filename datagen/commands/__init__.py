"""One module per ``sketchgen`` subcommand, each with ``configure(parser)`` and ``run(args) -> int``."""
