"""Strong scaling of ``solve(method="petsc")`` (CG + GAMG) on 1 and N MPI ranks.

Run it under mpiexec; rank 0 prints one line per problem with the assembly time, the
set-up and solve times, the iteration count and the final relative residual:

    mpiexec -n 1 .venv/bin/python benchmarks/scaling_petsc.py
    mpiexec -n 2 .venv/bin/python benchmarks/scaling_petsc.py

Each figure is the minimum over ``--repeat`` runs.
"""

import argparse
import time

from mpi4py import MPI

from neurosolve import problems, solve

SHAPES = {"2d-1024": (1024, 1024), "3d-64": (64, 64, 64)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rtol", type=float, default=1e-8)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    for label, shape in SHAPES.items():
        best = {"assemble": float("inf"), "setup": float("inf"), "solve": float("inf")}
        for _ in range(args.repeat):
            comm.barrier()
            start = time.perf_counter()
            problem = problems.poisson(shape=shape, comm=comm)
            comm.barrier()
            best["assemble"] = min(best["assemble"], time.perf_counter() - start)
            result = solve(problem, method="petsc", rtol=args.rtol)
            setup = comm.allreduce(result.setup_seconds, op=MPI.MAX)
            solve_time = comm.allreduce(result.solve_seconds, op=MPI.MAX)
            best["setup"] = min(best["setup"], setup)
            best["solve"] = min(best["solve"], solve_time)
        if comm.rank == 0:
            print(
                f"{label:8s} ranks={comm.size} unknowns={problem.n} "
                f"assemble={best['assemble']:.3f}s setup={best['setup']:.3f}s "
                f"solve={best['solve']:.3f}s iterations={result.iterations} "
                f"residual={result.final_residual:.2e} converged={result.converged}",
                flush=True,
            )


if __name__ == "__main__":
    main()
