"""The ``neurosolve`` command.

Each subcommand lives in a module of :mod:`neurosolve.commands` that defines
``add_parser(subparsers)``; the parser it adds sets ``func`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from ._version import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "neurosolve.commands.methods",
    "neurosolve.commands.solve",
    "neurosolve.commands.demo",
    "neurosolve.commands.train",
    "neurosolve.commands.validate",
    "neurosolve.commands.generate",
    "neurosolve.commands.inspect",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurosolve",
        description="Learned and classical solvers for PDEs and sparse linear systems.",
    )
    parser.add_argument("--version", action="version", version=f"neurosolve {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as err:
        # Invalid input, missing files and solver library errors get one line; -vv shows
        # the traceback for bug reports.
        if args.verbose >= 2:
            raise
        print(f"neurosolve {args.command}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
