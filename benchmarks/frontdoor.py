"""Measure the front door's cost against pyamg and petsc4py called directly.

For each Poisson problem the script times, in the same process and on the same matrix:

- ``solve(problem, "pcg-amg")`` against ``pyamg.smoothed_aggregation_solver(A)`` followed
  by ``ml.solve(b, tol=rtol, accel="cg")``;
- ``solve(problem, "petsc")`` against a petsc4py KSP (CG + GAMG, unpreconditioned norm)
  built and solved by hand.

Each pair runs ``--repeats`` times, alternating, and the median wall time of each is
reported. ``overhead`` is the front door's median over the direct call's median, minus
one. ``paired overhead`` is the median over the repeats of each run's ratio to the
direct run right after it, minus one. ``wrapper`` is the part of the front door's wall
time spent outside the method's timed set-up and solve (checks, the true-residual
recheck, building the result).

Run from the repository root::

    nice -n 10 .venv/bin/python benchmarks/frontdoor.py --out docs/benchmarks-frontdoor.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

# One BLAS thread: on a small shared machine, threaded BLAS makes each vector norm of a
# few 10^4 entries cost milliseconds, which would swamp the difference being measured.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import numpy as np  # noqa: E402

from neurosolve import problems, solve  # noqa: E402

SIZES = {
    "2d-256": (256, 256),
    "2d-512": (512, 512),
    "2d-1024": (1024, 1024),
    "3d-32": (32, 32, 32),
    "3d-64": (64, 64, 64),
}


def direct_pyamg(A, b, rtol):
    import pyamg

    start = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(A)
    residuals: list[float] = []
    x = ml.solve(b, tol=rtol, accel="cg", residuals=residuals)
    seconds = time.perf_counter() - start
    return x, len(residuals) - 1, seconds


def direct_petsc(A, b, rtol):
    import dolfinx_solver  # noqa: F401
    from petsc4py import PETSc

    start = time.perf_counter()
    matrix = PETSc.Mat().createAIJ(
        size=A.shape,
        csr=(A.indptr.astype(PETSc.IntType), A.indices.astype(PETSc.IntType), A.data),
        comm=PETSc.COMM_SELF,
    )
    matrix.assemble()
    ksp = PETSc.KSP().create(PETSc.COMM_SELF)
    ksp.setOperators(matrix)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
    ksp.setTolerances(rtol=rtol, atol=0.0, max_it=10000)
    ksp.setUp()
    rhs = matrix.createVecLeft()
    rhs.array[:] = b
    x = matrix.createVecRight()
    ksp.solve(rhs, x)
    seconds = time.perf_counter() - start
    return x.array.copy(), ksp.getIterationNumber(), seconds


def front_door(problem, method, rtol):
    start = time.perf_counter()
    result = solve(problem, method, rtol=rtol)
    seconds = time.perf_counter() - start
    wrapper = seconds - result.setup_seconds - result.solve_seconds
    return result, seconds, wrapper


def relative_residual(A, b, x) -> float:
    return float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))


def run_case(label, shape, rtol, repeats):
    build_start = time.perf_counter()
    problem = problems.poisson(shape=shape)
    assembly = time.perf_counter() - build_start
    A, b = problem.A, problem.b
    rows = []
    for method, direct in (("pcg-amg", direct_pyamg), ("petsc", direct_petsc)):
        ours, theirs, wrappers = [], [], []
        for _ in range(repeats):
            result, seconds, wrapper = front_door(problem, method, rtol)
            ours.append(seconds)
            wrappers.append(wrapper)
            x, iterations, direct_seconds = direct(A, b, rtol)
            theirs.append(direct_seconds)
        overhead = statistics.median(ours) / statistics.median(theirs) - 1
        # Each front-door run is paired with the direct run right after it, so a slow
        # spell caused by other processes tends to hit both members of a pair.
        paired = statistics.median(a / b - 1 for a, b in zip(ours, theirs, strict=True))
        row = {
            "problem": label,
            "unknowns": problem.n,
            "assembly_s": round(assembly, 3),
            "method": method,
            "frontdoor_s": round(statistics.median(ours), 4),
            "direct_s": round(statistics.median(theirs), 4),
            "overhead_pct": round(100 * overhead, 1),
            "paired_overhead_pct": round(100 * paired, 1),
            "wrapper_s": round(statistics.median(wrappers), 4),
            "frontdoor_iterations": result.iterations,
            "direct_iterations": iterations,
            "frontdoor_residual": f"{relative_residual(A, b, result.x):.2e}",
            "direct_residual": f"{relative_residual(A, b, x):.2e}",
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="CSV file for the rows")
    args = parser.parse_args()

    # Warm-up: import the libraries and build each solver once on a small problem.
    warm = problems.poisson(shape=(33, 33))
    for method in ("pcg-amg", "petsc"):
        solve(warm, method)
    direct_pyamg(warm.A, warm.b, 1e-8)
    direct_petsc(warm.A, warm.b, 1e-8)

    rows = []
    for label in args.sizes:
        rows.extend(run_case(label, SIZES[label], args.rtol, args.repeats))
    if args.out is not None:
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
