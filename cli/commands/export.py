"""``sketchgen export TARGET ...``: write a dataset (or a model) in the layout a paper's own code reads.

Each target is a module exposing ``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``,
registered in ``TARGETS``; like the top-level subcommands, a target module defers its heavy imports
(torch, GL) to ``run``, since every target's parser is built for ``sketchgen export --help``.
"""

from __future__ import annotations

import argparse
import importlib

# target -> module; the module's HELP is the target's one-line help
TARGETS = {
    "sketchzooms": "sketchgen.cli.commands.export_sketchzooms",
    "psc": "sketchgen.cli.commands.export_psc",
    "sfnet": "sketchgen.cli.commands.export_sfnet",
    # a trained model, not a dataset: its module lives with training (it needs torch, imported in run)
    "psc-checkpoint": "sketchgen.cli.commands.export_psc_checkpoint",
}

HELP = "write a dataset (or a trained model) in the layout of a paper's own training code (" + ", ".join(TARGETS) + ")"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, modname in TARGETS.items():
        module = importlib.import_module(modname)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(p)
        p.set_defaults(_export=module.run)


def run(args) -> int:
    return int(args._export(args) or 0)
