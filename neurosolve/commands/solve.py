"""``neurosolve solve``: build one problem, solve it with one method, optionally write HDF5."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="solve one problem with one method and report convergence",
        description=(
            "Solve a problem through neurosolve.solve and print the method, convergence, "
            "iterations, timings and final relative residual. Exits with status 1 when "
            "the tolerance was not met."
        ),
    )
    parser.add_argument(
        "--problem", default="poisson",
        help="'poisson' (FEniCSx, unit square or cube), 'pyamg:NAME' for a matrix bundled "
        "with pyamg, or the path of a Matrix Market file (default: poisson)",
    )
    parser.add_argument("--n", type=int, default=None, help="grid points per side (default 128)")
    parser.add_argument("--dim", type=int, choices=(2, 3), default=None,
                        help="2D or 3D grid (default 2)")
    parser.add_argument(
        "--obstacles", type=int, default=None, help="number of random box obstacles"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the obstacle placement")
    parser.add_argument(
        "--mesh", default=None,
        help="unstructured mesh for poisson instead of the grid: plate-with-holes, unit-disk "
        "or unit-square (--out then also writes an XDMF file)",
    )
    parser.add_argument(
        "--resolution", type=float, default=None, help="target cell size of --mesh"
    )
    parser.add_argument("--method", default="pcg-amg", help="method name (see neurosolve methods)")
    parser.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance")
    parser.add_argument("--atol", type=float, default=0.0, help="absolute tolerance")
    parser.add_argument("--maxiter", type=int, default=None, help="maximum iterations")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="method option; VALUE is read as JSON when it parses, else as text (repeatable)",
    )
    parser.add_argument(
        "--petsc-option", action="append", default=[], metavar="KEY=VALUE",
        help="PETSc option for --method petsc, without the leading dash (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=None, help="HDF5 file for the solution")
    parser.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar on standard error"
    )
    parser.set_defaults(func=run)


def parse_options(pairs: list[str], argument: str) -> dict[str, Any]:
    """Turn ``["key=value", ...]`` into a dict, reading each value as JSON when possible."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise ValueError(f"{argument} expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def _flags(flags: list[str]) -> str:
    """Return ``"--a only applies"`` or ``"--a, --b only apply"`` for an error message."""
    return f"{', '.join(flags)} only {'applies' if len(flags) == 1 else 'apply'}"


def build_problem(args: argparse.Namespace) -> Any:
    """Build the problem named by ``--problem`` with the grid options of ``args``."""
    from .. import problems

    spec = args.problem
    grid_flags = [flag for flag, value in (("--n", args.n), ("--dim", args.dim),
                                           ("--obstacles", args.obstacles)) if value is not None]
    mesh_flags = [flag for flag, value in (("--mesh", args.mesh),
                                           ("--resolution", args.resolution)) if value is not None]
    if spec != "poisson" and grid_flags + mesh_flags:
        raise ValueError(
            f"{_flags(grid_flags + mesh_flags)} to --problem poisson, not to {spec!r}"
        )
    if spec == "poisson" and args.mesh is not None:
        if grid_flags:
            raise ValueError(
                f"{_flags(grid_flags)} to the structured grid, not to --mesh; set the mesh's "
                f"cell size with --resolution"
            )
        return problems.poisson(mesh=args.mesh, resolution=args.resolution)
    if args.resolution is not None:
        raise ValueError("--resolution only applies to --mesh; set the grid size with --n")
    if spec == "poisson":
        shape = (args.n if args.n is not None else 128,) * (args.dim or 2)
        return problems.poisson(shape=shape, obstacles=args.obstacles, seed=args.seed)
    if spec.startswith("pyamg:"):
        return problems.from_pyamg_example(spec.partition(":")[2])
    path = Path(spec)
    if path.suffix == ".mtx" or path.exists():
        return problems.from_matrix_market(path)
    raise ValueError(
        f"unknown problem {spec!r}; use 'poisson', 'pyamg:NAME' or a Matrix Market file path"
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .. import solve, write_fields

    options = parse_options(args.option, "--option")
    petsc_options = parse_options(args.petsc_option, "--petsc-option")
    if petsc_options:
        options["petsc_options"] = {**options.get("petsc_options", {}), **petsc_options}
    if args.out is not None and not args.out.parent.is_dir():
        raise FileNotFoundError(f"--out folder {args.out.parent} does not exist; create it first")

    steps = 3 if args.out is not None else 2
    with tqdm(total=steps, unit="step", disable=args.no_progress) as progress:
        progress.set_description(f"assembling {args.problem}")
        problem = build_problem(args)
        progress.update()
        progress.set_description(f"solving with {args.method}")
        result = solve(
            problem, args.method, rtol=args.rtol, atol=args.atol, maxiter=args.maxiter, **options
        )
        progress.update()
        if args.out is not None:
            progress.set_description(f"writing {args.out}")
            write_fields(args.out, result)
            progress.update()
    print(
        f"{problem.name}: {problem.n} unknowns, method {result.method}, "
        f"converged {result.converged} (status {result.status}), "
        f"{result.iterations} iterations, setup {result.setup_seconds:.3f} s, "
        f"solve {result.solve_seconds:.3f} s, final relative residual "
        f"{result.final_residual:.3e}"
    )
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0 if result.converged else 1
