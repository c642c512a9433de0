"""Compare dcdm and dcdm-mg with CG, IC(0)-PCG and multigrid on Poisson with obstacles.

Run from the repository root::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/dcdm.py --output bench.csv

Each problem is :func:`neurosolve.problems.poisson` with random box obstacles, solved to
``rtol`` from a zero initial guess for two right-hand sides: ``random`` (standard normal
values at the unknowns) and ``smooth`` (the assembled load of the source ``f = 1``). The
script prints a Markdown table of iterations, set-up and solve seconds, and for the
learned methods the time per network call and the network's share of the solve time.
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
import warnings
from pathlib import Path

import numpy as np

from neurosolve import problems, solve
from neurosolve.solvers.result import ConvergenceWarning

METHODS = {
    "dcdm": ("dcdm", {}),
    "dcdm-mg": ("dcdm-mg", {}),
    "cg": ("cg", {}),
    "ic0-pcg": ("petsc", {"petsc_options": {"ksp_type": "cg", "pc_type": "icc"}}),
    "gmg": ("gmg", {}),
    "pcg-gmg": ("pcg-gmg", {}),
    "pcg-amg": ("pcg-amg", {}),
    "petsc-gamg": ("petsc", {}),
}

COLUMNS = [
    "dim", "n", "unknowns", "rhs", "method", "converged", "iterations", "final_residual",
    "setup_s", "solve_s",
    "network_calls", "seconds_per_call", "network_share", "fallbacks", "restarts",
]


def run_case(problem, label: str, rtol: float, maxiter: int | None) -> dict:
    method, method_options = METHODS[label]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        result = solve(problem, method=method, rtol=rtol, maxiter=maxiter, **method_options)
        total = time.perf_counter() - start
    calls = result.info.get("network_calls", 0)
    network = result.info.get("network_seconds", 0.0)
    return {
        "method": label,
        "converged": result.converged,
        "iterations": result.iterations,
        "final_residual": float(result.final_residual),
        "setup_s": round(result.setup_seconds, 3),
        "solve_s": round(result.solve_seconds, 3),
        "network_calls": calls,
        "seconds_per_call": round(network / calls, 4) if calls else "",
        "network_share": round(network / result.solve_seconds, 2) if calls else "",
        "fallbacks": result.info.get("fallbacks", ""),
        "restarts": result.info.get("restarts", ""),
        "total_s": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-2d", type=int, nargs="*", default=[64, 128, 256, 512])
    parser.add_argument("--sizes-3d", type=int, nargs="*", default=[16, 32, 64])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--rhs", nargs="+", default=["random", "smooth"],
                        choices=["random", "smooth"], help="right-hand sides to solve for")
    parser.add_argument("--obstacles", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument(
        "--dcdm-maxiter", type=int, default=150,
        help="iteration limit of dcdm (the other methods use their defaults)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output", type=Path, default=None, help="CSV file for the rows")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    cases = [(2, n) for n in args.sizes_2d] + [(3, n) for n in args.sizes_3d]
    print("| dim | n | rhs | method | converged | iterations | final residual | setup s | "
          "solve s | s per network call | network share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dim, n in cases:
        problem = problems.poisson(shape=(n,) * dim, obstacles=args.obstacles, seed=args.seed)
        smooth = problem.b.copy()
        random = np.random.default_rng(args.seed).standard_normal(problem.n)
        for rhs_name, rhs in (("random", random), ("smooth", smooth)):
            if rhs_name not in args.rhs:
                continue
            problem.b = rhs
            for label in args.methods:
                maxiter = args.dcdm_maxiter if label == "dcdm" else None
                row = {"dim": dim, "n": n, "unknowns": problem.n, "rhs": rhs_name}
                row.update(run_case(problem, label, args.rtol, maxiter))
                rows.append(row)
                print(
                    f"| {dim} | {n} | {rhs_name} | {label} | {row['converged']} | "
                    f"{row['iterations']} | {row['final_residual']:.2g} | "
                    f"{row['setup_s']:.3f} | {row['solve_s']:.3f} | "
                    f"{row['seconds_per_call']} | {row['network_share']} |",
                    flush=True,
                )
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
