"""``neurosolve demo``: every classical method on 2D (with an obstacle) and 3D Poisson problems.

For each problem the demo solves with ``direct`` first, as the reference, and then with
every registered classical linear method. It prints a table (method, iterations, setup s,
solve s, final relative residual, error against ``direct``), writes each solution to
HDF5 and plots the residual histories to a PNG file.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="solve 2D and 3D Poisson problems with every classical method",
        description=(
            "Assemble a 2D Poisson problem with a disc-shaped obstacle and a 3D Poisson "
            "problem with FEniCSx, solve both with every classical method, print a table, "
            "write the fields to HDF5 and the residual histories to a PNG plot."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    parser.add_argument("--n2", type=int, default=256, help="grid points per side in 2D")
    parser.add_argument("--n3", type=int, default=32, help="grid points per side in 3D")
    parser.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance")
    parser.set_defaults(func=run)


def disc_obstacle(n: int, centre: float = 0.5, radius: float = 0.2) -> Any:
    """Return the cell mask of a disc-shaped obstacle on an ``n`` x ``n`` point grid."""
    import numpy as np

    middle = (np.arange(n - 1) + 0.5) / (n - 1)
    y, x = np.meshgrid(middle, middle, indexing="ij")
    return (x - centre) ** 2 + (y - centre) ** 2 < radius**2


def classical_methods() -> list[str]:
    """Return the registered linear methods that are not learned, ``direct`` first."""
    from ..solvers.registry import registered_methods

    names = [
        name for name, cls in sorted(registered_methods().items())
        if "linear" in cls.problem_kinds and not cls.learned and name != "direct"
    ]
    return ["direct", *names]


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from .. import problems, write_fields

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fields").mkdir(exist_ok=True)
    builders = {
        f"poisson-2d-obstacle-{args.n2}": lambda: problems.poisson(
            shape=(args.n2, args.n2), obstacles=disc_obstacle(args.n2),
            name=f"poisson-2d-obstacle-{args.n2}",
        ),
        f"poisson-3d-{args.n3}": lambda: problems.poisson(
            shape=(args.n3,) * 3, name=f"poisson-3d-{args.n3}"
        ),
    }
    methods = classical_methods()
    _import_solver_libraries()
    rows: list[dict[str, Any]] = []
    histories: dict[str, dict[str, Any]] = {}
    failures = 0
    with tqdm(total=len(builders) * (len(methods) + 1), unit="step") as progress:
        for label, build in builders.items():
            progress.set_description(f"assembling {label}")
            problem = build()
            progress.update()
            reference = None
            histories[label] = {}
            for method in methods:
                progress.set_description(f"{label}: {method}")
                row = _solve_one(problem, method, args.rtol, reference)
                progress.update()
                rows.append(row)
                result = row.pop("result")
                if result is None:
                    failures += 1
                    continue
                if method == "direct":
                    reference = result.x
                if result.iterations > 0:
                    histories[label][method] = np.asarray(result.residuals)
                fields = {"reference": reference} if reference is not None else None
                write_fields(args.out / "fields" / f"{label}_{method}.h5", result, fields=fields)

    table = format_table(rows)
    print(table)
    _write_text(args.out / "table.md", table + "\n")
    plot_histories(histories, args.rtol, args.out / "convergence.png")
    print(f"\nfields: {args.out / 'fields'}/*.h5   plot: {args.out / 'convergence.png'}")
    return 1 if failures or not all(row["converged"] for row in rows) else 0


def _solve_one(problem: Any, method: str, rtol: float, reference: Any) -> dict[str, Any]:
    import warnings

    import numpy as np

    from .. import solve
    from ..solvers.result import ConvergenceWarning

    row: dict[str, Any] = {"problem": problem.name, "method": method, "unknowns": problem.n}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the table reports it
            result = solve(problem, method, rtol=rtol)
    except Exception as err:  # noqa: BLE001  (one failing method must not hide the others)
        logger.error("%s failed on %s: %s", method, problem.name, err)
        row.update(converged=False, note=f"error: {err}", result=None)
        return row
    error = 0.0  # direct runs first and is the reference
    if reference is not None:
        error = float(np.linalg.norm(result.x - reference) / np.linalg.norm(reference))
    row.update(
        iterations=result.iterations, setup=result.setup_seconds, solve=result.solve_seconds,
        residual=result.final_residual, error=error, converged=result.converged,
        note="" if result.converged else result.message, result=result,
    )
    return row


def _import_solver_libraries() -> None:
    """Import pyamg and petsc4py now, so their import time is not counted as set-up time."""
    import dolfinx_solver  # noqa: F401  (loads the bundled PETSc before petsc4py)
    import petsc4py.PETSc  # noqa: F401
    import pyamg  # noqa: F401


def format_table(rows: list[dict[str, Any]]) -> str:
    """Format result rows as a Markdown table."""
    header = (
        "| problem | unknowns | method | iterations | setup s | solve s | "
        "final rel. residual | rel. error vs direct | converged |"
    )
    lines = [header, "|" + "---|" * 9]
    for row in rows:
        if "iterations" not in row:
            lines.append(
                f"| {row['problem']} | {row['unknowns']} | {row['method']} | - | - | - | - | "
                f"- | {row['note']} |"
            )
            continue
        converged = "yes" if row["converged"] else f"no: {row['note']}"
        lines.append(
            f"| {row['problem']} | {row['unknowns']} | {row['method']} | {row['iterations']} | "
            f"{row['setup']:.3f} | {row['solve']:.3f} | {row['residual']:.2e} | "
            f"{row['error']:.2e} | {converged} |"
        )
    return "\n".join(lines)


def plot_histories(histories: dict[str, dict[str, Any]], rtol: float, path: Path) -> None:
    """Plot relative residual against iteration, one panel per problem, to a PNG file."""
    from matplotlib.figure import Figure

    from ..data.io import atomic_path

    figure = Figure(figsize=(6 * len(histories), 4.5), layout="constrained")
    axes = figure.subplots(1, len(histories), squeeze=False)[0]
    for ax, (label, curves) in zip(axes, histories.items(), strict=True):
        for method, residuals in curves.items():
            ax.semilogy(range(len(residuals)), residuals, marker=".", label=method)
        ax.axhline(rtol, color="grey", linestyle="--", linewidth=1, label=f"rtol {rtol:g}")
        ax.set_title(label)
        ax.set_xlabel("iteration")
        ax.set_ylabel("||b - A x|| / ||b||")
        ax.legend(fontsize="small")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)


def _write_text(path: Path, text: str) -> None:
    from ..data.io import atomic_path

    with atomic_path(path) as temporary:
        temporary.write_text(text)
