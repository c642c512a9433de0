"""Solve a Poisson problem with ``petsc`` on however many MPI ranks run this script.

Writes the gathered grid solution and the iteration count (rank 0) to an .npz file.
"""

import sys

import numpy as np
from mpi4py import MPI

from neurosolve import problems, solve


def main(out: str, n: int) -> None:
    problem = problems.poisson(
        shape=(n, n), source=lambda x: 1.0 + x[0] * x[1], comm=MPI.COMM_WORLD
    )
    result = solve(problem, method="petsc", rtol=1e-10)
    grid = problem.to_grid(result.x)
    converged = MPI.COMM_WORLD.allgather(bool(result.converged))
    if MPI.COMM_WORLD.rank == 0:
        np.savez(
            out, grid=grid, converged=np.array(converged), iterations=result.iterations,
            ranks=MPI.COMM_WORLD.size, kind=type(problem).__name__,
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
