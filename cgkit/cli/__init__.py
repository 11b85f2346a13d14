"""The ``cgkit`` command line.

Each subcommand lives in its own module of this package, defining
``register(subparsers) -> None`` which adds an :mod:`argparse` sub-parser whose
``func`` default takes the parsed namespace and returns an exit code. Modules are
discovered automatically, so later features add a file rather than editing this one.
Subcommands are thin wrappers over library calls.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from cgkit._version import __version__


class CLIError(Exception):
    """An error to report to the user as ``cgkit: error: ...`` with exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every discovered subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="cgkit",
        description="Coarse-graining toolkit: ECG, CGMP and backmapping for ASE workflows.",
    )
    parser.add_argument("--version", action="version", version=f"cgkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cgkit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"cgkit: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as exc:
        # library errors already name the file/frame/atom at fault (existing output,
        # unreadable input, bad values)
        print(f"cgkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
