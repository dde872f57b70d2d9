"""Configuration files and named presets for every ``sketchgen`` command.

A configuration file is TOML holding a command's options by their flag names (``max-angle = 60``) or
their argument names (``max_angle = 60``); a preset is such a file shipped with sketchgen
(``cli/presets/<command>-<name>.toml``, e.g. ``triplets-demo``). ``--preset NAME`` and ``--config
FILE`` set the command's defaults, in that order, and flags given on the command line override both,
so ``sketchgen triplets --config cfg.toml`` is the same run as the flags the file holds.
``--print-config`` prints the resolved options as TOML (a file ``--config`` reads back) and exits.

Values are checked as the flags would be: an unknown key, a value of the wrong type or outside an
option's choices is an ``InputError`` naming the file and the key.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from sketchgen.errors import InputError

PRESET_DIR = Path(__file__).resolve().parent / "presets"
# the options that choose a file of options, or print them: never part of a resolved configuration
OWN_OPTIONS = ("config", "preset", "print_config", "help")


def list_presets(command: str) -> list[str]:
    """Names of the presets shipped for ``command`` (``triplets``, ``train``, ...), sorted."""
    prefix = f"{command}-"
    return sorted(p.stem[len(prefix):] for p in PRESET_DIR.glob(f"{prefix}*.toml"))


def preset_path(command: str, name: str) -> Path:
    """The file of preset ``name`` of ``command``. Raises InputError naming the presets there are."""
    path = PRESET_DIR / f"{command}-{name}.toml"
    if not path.is_file():
        known = ", ".join(list_presets(command)) or "none"
        raise InputError(f"no preset {name!r} for sketchgen {command} (presets: {known})")
    return path


def read_toml(path: str | Path) -> dict:
    """The table of a TOML file. Raises InputError naming the file when it is missing or not TOML."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: no such configuration file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a TOML file ({exc})") from None
    except OSError as exc:  # a folder, no permission
        raise InputError(f"{path}: cannot read the configuration file ({exc.strerror or exc})") from None


def add_config_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add ``--config``, ``--preset`` and ``--print-config`` to a command's parser."""
    presets = list_presets(command)
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="TOML file of this command's options (flag names as keys); flags given override it")
    parser.add_argument("--preset", metavar="NAME", default=None,
                        help="a shipped configuration (" + (", ".join(presets) if presets else "none for this command")
                             + "); --config and flags override it")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved options as TOML (readable by --config) and exit")


def apply_config(parser: argparse.ArgumentParser, values: dict, source: str) -> None:
    """Make ``values`` ({option: value}, from ``source``) the defaults of ``parser``'s options.

    A required option or positional argument given a value is no longer required. Raises InputError
    naming ``source`` and the key for an unknown option or a value the option would refuse."""
    actions = {a.dest: a for a in parser._actions if a.dest not in OWN_OPTIONS and a.dest != argparse.SUPPRESS}
    defaults = {}
    for key, value in values.items():
        dest = key.replace("-", "_")
        action = actions.get(dest)
        if action is None:
            known = ", ".join(sorted(d.replace("_", "-") for d in actions))
            raise InputError(f"{source}: unknown option {key!r} (options: {known})")
        defaults[dest] = _checked(action, value, f"{source}: {key}")
        if action.required:
            action.required = False
        if not action.option_strings and action.nargs is None:  # a positional given by the file
            action.nargs = "?"
        action.default = defaults[dest]
    parser.set_defaults(**defaults)


def _checked(action: argparse.Action, value, where: str):
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if action.nargs not in (None, "?"):
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        if isinstance(action.nargs, int) and len(value) != action.nargs:
            raise InputError(f"{where}: expected {action.nargs} values, got {len(value)}")
        return [_scalar(action, v, where) for v in value]
    return _scalar(action, value, where)


def _scalar(action: argparse.Action, value, where: str):
    kind = action.type
    cast = getattr(kind, "cast", kind)  # cli.options.Number: a range over int or float
    if isinstance(value, (list, dict)):
        raise InputError(f"{where}: expected one value, got {value!r}")
    if cast is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected a whole number, got {value!r}")
    elif cast is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{where}: expected a number, got {value!r}")
        value = float(value)
    elif not isinstance(value, str) and (kind is None or kind is str):
        raise InputError(f"{where}: expected a string, got {value!r}")
    if kind not in (None, str, int, float):  # a converter of the flag's text: what the flag would do with it
        try:
            value = kind(value if isinstance(value, str) else repr(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            raise InputError(f"{where}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise InputError(f"{where}: {value!r} is not one of {', '.join(map(str, action.choices))}")
    return value


def resolved(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """{flag name: value} of every option of ``parser`` as ``args`` resolved it, in declaration order,
    None values (an option left unset) left out."""
    out = {}
    for action in parser._actions:
        if action.dest in OWN_OPTIONS or action.dest == argparse.SUPPRESS or action.dest.startswith("_"):
            continue
        value = getattr(args, action.dest, None)
        if value is not None:
            out[action.dest.replace("_", "-")] = value
    return out


def to_toml(values: dict) -> str:
    """Flat TOML of ``values`` (str, bool, int, float, Path, or lists/tuples of them), one key a line."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
