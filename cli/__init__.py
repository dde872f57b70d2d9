"""The ``sketchgen`` command line: one ``main`` that dispatches to a module per subcommand.

Every subcommand is a module of ``sketchgen.cli.commands`` exposing ``HELP`` (one line),
``configure(parser)`` and ``run(args) -> int``; the numeric option types are in ``cli.options`` and the
``--config``/``--preset`` files in ``cli.presets``. Modules are imported only when their subcommand runs,
so ``sketchgen collection`` never loads torch and ``sketchgen train`` never loads GL. The errors the
commands and the layers below raise (``sketchgen.errors``) are printed as one line here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util  # a submodule: `import importlib` does not load it
import logging
import sys

from sketchgen.errors import InputError, UsageError

# name -> (module, one-line help). The help is repeated here so that `sketchgen --help` lists every
# subcommand without importing torch or GL.
SUBCOMMANDS = {
    "draw": ("sketchgen.cli.commands.draw", "draw a mesh from one or more cameras: PNG, SVG and projected points"),
    "collection": ("sketchgen.cli.commands.collection", "list a collection's shapes, their status and per-category totals"),
    "triplets": ("sketchgen.cli.commands.triplets", "build a SketchZooms triplet dataset"),
    "pairs": ("sketchgen.cli.commands.pairs", "build a warp-pretraining pair dataset with dense flow"),
    "sample": ("sketchgen.cli.commands.sample", "make one sample of a dataset again, alone, and compare it with the stored one"),
    "preview": ("sketchgen.cli.commands.preview", "contact sheet of a triplet or pair dataset"),
    "export": ("sketchgen.cli.commands.export", "write a dataset in the layout of a paper's own training code"),
    "train": ("sketchgen.cli.commands.train", "train the descriptor or the warp estimator on sketchgen shards"),
    "eval": ("sketchgen.cli.commands.eval", "evaluate a trained model against the baselines"),
    "demo": ("sketchgen.cli.commands.demo", "the whole story on the bundled collection: data, training, evaluation"),
}


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser whose errors (a bad or missing option) are one line, ``sketchgen CMD: error: ...``,
    exit code 2, like every other error of the command line (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _available() -> dict[str, str]:
    found = {}
    for name, (module, _) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = module
    return found


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None, argparse.ArgumentParser | None]:
    """The ``sketchgen`` parser, the module of the subcommand ``argv`` asks for and that subcommand's
    parser (None, None when it names none), with the defaults of its ``--preset`` and ``--config`` applied
    (``cli.presets``; raises InputError for a bad file)."""
    from sketchgen.cli.presets import add_config_arguments

    parser = OneLineParser(
        prog="sketchgen",
        description="Line-drawing datasets with exact point correspondences from part-registered meshes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    available = _available()
    # import only the module of the subcommand asked for; others get a stub parser for --help
    wanted = next((a for a in argv if not a.startswith("-")), None)
    chosen = chosen_parser = None
    for name, modname in available.items():
        if name == wanted:
            module = importlib.import_module(modname)
            p = sub.add_parser(name, help=getattr(module, "HELP", None))
            module.configure(p)
            # a command of actions (collection info, export psc) takes its files on the action's parser
            leaf = _action_parser(p, argv[argv.index(name) + 1:])
            add_config_arguments(leaf, name)
            p.set_defaults(_run=module.run)
            chosen, chosen_parser = module, leaf
        else:
            sub.add_parser(name, add_help=False, help=SUBCOMMANDS[name][1])
    if chosen_parser is not None:
        _apply_config_files(chosen_parser, wanted, argv)
    return parser, chosen, chosen_parser


def _action_parser(parser: argparse.ArgumentParser, rest: list[str]) -> argparse.ArgumentParser:
    """The parser of the action ``rest`` names when ``parser`` has actions (its subparsers), else
    ``parser``: the first word of ``rest`` that is one of its actions."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            named = next((word for word in rest if word in action.choices), None)
            return action.choices[named] if named is not None else parser
    return parser


def _apply_config_files(parser: argparse.ArgumentParser, command: str, argv: list[str]) -> None:
    """Defaults from ``--preset`` then ``--config`` (flags on the command line still win)."""
    from sketchgen.cli.presets import apply_config, preset_path, read_toml

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset")
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    if known.preset:
        path = preset_path(command, known.preset)
        apply_config(parser, read_toml(path), f"preset {known.preset} ({path})")
    if known.config:
        apply_config(parser, read_toml(known.config), known.config)


def resolve(argv: list[str]) -> argparse.Namespace:
    """The options of the command line ``argv`` (``["triplets", "--preset", "demo", ...]``) as the command
    would run with them, presets and configuration files applied. Raises InputError for a bad file;
    argparse exits for bad flags."""
    parser, _, _ = build_parser(argv)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser, _, command_parser = build_parser(argv)
    except InputError as exc:  # a bad --config or --preset
        command = next((a for a in argv if not a.startswith("-")), "")
        print(f"sketchgen {command}: error: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2, its line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0 if args.command is None else 2
    if args.print_config:
        from sketchgen.cli.presets import resolved, to_toml

        print(to_toml(resolved(command_parser, args)), end="")
        return 0
    try:
        return int(args._run(args) or 0)
    except (UsageError, InputError) as exc:
        print(f"sketchgen {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only output folder: one line, not a traceback
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"sketchgen {args.command}: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

