"""One module per torch-side ``sketchgen`` subcommand (train, eval, demo), each with ``configure(parser)``
and ``run(args) -> int``."""
