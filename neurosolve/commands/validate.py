"""``neurosolve validate SUITE``: run a validation suite and write its reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SUITE_NAMES = ("quick", "smoke", "linear", "linear-large", "operators", "wave", "forecast", "all")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="run named problems against every applicable method and report",
        description=(
            "Run a suite of named problems against every applicable method with one "
            "stopping rule, and write a CSV, a Markdown table, PNG plots and an HDF5 file. "
            "Exits with 1 when a method raised an error on a problem; non-convergence and "
            "declared known failures are results, not errors."
        ),
    )
    parser.add_argument("suite", choices=SUITE_NAMES, help="suite to run ('smoke' is the smallest)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument(
        "--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)"
    )
    parser.add_argument(
        "--maxiter", type=int, default=None, help="iteration limit for every method"
    )
    parser.add_argument(
        "--methods", nargs="+", default=None, metavar="NAME", help="only run these methods"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="H5",
        help="an earlier results file to compare with; prints what got better or worse",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..validation import compare_results, read_hdf5, run_suite, write_report
    from ..validation.report import markdown_table

    if args.compare is not None and not args.compare.is_file():
        raise FileNotFoundError(f"--compare file {args.compare} not found")
    if args.methods is not None:
        from ..solvers.registry import registered_methods

        unknown = sorted(set(args.methods) - set(registered_methods()))
        if unknown:
            valid = ", ".join(sorted(registered_methods()))
            raise ValueError(f"unknown method(s) {', '.join(unknown)}; valid methods are: {valid}")
    suite = run_suite(
        args.suite,
        rtol=args.rtol,
        maxiter=args.maxiter,
        methods=args.methods,
        progress=not args.no_progress,
    )
    written = write_report(suite, args.out, command=["neurosolve", *sys.argv[1:]])
    print(markdown_table(suite.results))
    missing = [case for case in suite.results if case.outcome == "missing"]
    for case in missing:
        print(f"missing: {case.problem}: {case.message}")

    if args.compare is not None:
        changes = compare_results(read_hdf5(args.compare), read_hdf5(written["hdf5"]))
        print(f"compared with {args.compare}: {len(changes)} change(s)")
        for change in changes:
            print(change.describe())

    plots = [path for key, path in written.items() if key not in ("csv", "markdown", "hdf5")]
    print(f"results: {written['csv']}, {written['markdown']}, {written['hdf5']}")
    folder = plots[0].parent if plots else args.out
    print(f"plots: {len(plots)} PNG files in {folder}")
    errors = [case for case in suite.results if case.outcome == "error"]
    if errors:
        print(f"{len(errors)} case(s) failed with an error; see the note column", file=sys.stderr)
        return 1
    return 0
