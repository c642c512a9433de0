"""``neurosolve methods``: list the registered methods."""

from __future__ import annotations

import argparse

from ..solvers.registry import registered_methods


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("methods", help="list the registered methods")
    parser.add_argument(
        "--kind", choices=["linear", "operator", "wave", "forecast"],
        help="only list methods for this problem kind",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = [
        (name, ",".join(sorted(cls.problem_kinds)), "yes" if cls.learned else "", cls.description)
        for name, cls in sorted(registered_methods().items())
        if args.kind is None or args.kind in cls.problem_kinds
    ]
    width = max(len(r[0]) for r in rows)
    kinds = max(len(r[1]) for r in rows)
    print(f"{'method':<{width}}  {'problems':<{kinds}}  learned  description")
    for name, kind, learned, description in rows:
        print(f"{name:<{width}}  {kind:<{kinds}}  {learned:<7}  {description}")
    return 0
