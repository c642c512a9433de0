"""Benchmark dataset generation and HDF5 writing.

Generation rate (run under mpiexec to use several ranks)::

    mpiexec -n 2 python benchmarks/generate.py darcy --resolution 64 --samples 200

prints one line ``ranks resolution samples seconds samples_per_second``, timed from a
barrier after the imports to the end of the run, so interpreter start-up is excluded.

HDF5 write throughput of the layout writer (one process)::

    python benchmarks/generate.py write --resolution 256 --samples 200

writes random float32 fields (two per sample, as Darcy has) through
``neurosolve.data.layout.SampleWriter`` and prints MB/s of uncompressed field data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_darcy(resolution: int, samples: int, folder: Path) -> None:
    from mpi4py import MPI

    from neurosolve.data.generators.base import import_fem_collectively
    from neurosolve.data.generators.darcy import generate_darcy, solve_poisson_grid

    comm = MPI.COMM_WORLD
    import_fem_collectively()
    # One warm-up solve per rank compiles the forms (cached afterwards) outside the timing.
    solve_poisson_grid(np.ones((resolution, resolution)), 1.0, (resolution, resolution))
    out = folder / f"darcy-{resolution}-{comm.size}.h5"
    out = Path(comm.bcast(str(out), root=0))
    comm.barrier()
    start = time.perf_counter()
    generate_darcy(samples, resolution, 0, out, comm=comm, progress=False, overwrite=True)
    seconds = time.perf_counter() - start
    if comm.rank == 0:
        print(
            f"ranks={comm.size} resolution={resolution} samples={samples} "
            f"seconds={seconds:.2f} samples_per_second={samples / seconds:.2f}"
        )


def bench_write(resolution: int, samples: int, folder: Path) -> None:
    from neurosolve.data.layout import DatasetSpec, Variable, open_writer

    grid = np.linspace(0, 1, resolution)
    spec = DatasetSpec(
        generator="write-benchmark",
        samples=samples,
        coords={"y": grid, "x": grid},
        variables={"a": Variable(("y", "x"), role="x"), "u": Variable(("y", "x"), role="y")},
        settings={},
        seed=0,
    )
    rng = np.random.default_rng(0)
    # Smooth fields compress like solutions do; white noise would not compress at all.
    base = np.cumsum(np.cumsum(rng.standard_normal((resolution, resolution)), 0), 1)
    fields = {"a": base.astype(np.float32), "u": (base * 0.5).astype(np.float32)}
    out = folder / f"write-{resolution}.h5"
    start = time.perf_counter()
    with open_writer(out, spec, overwrite=True) as writer:
        for index in range(samples):
            writer.write_sample(index, fields)
    seconds = time.perf_counter() - start
    megabytes = samples * 2 * resolution**2 * 4 / 1e6
    print(
        f"resolution={resolution} samples={samples} seconds={seconds:.2f} "
        f"MB={megabytes:.1f} MB_per_second={megabytes / seconds:.1f} "
        f"file_MB={out.stat().st_size / 1e6:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["darcy", "write"])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--folder", default=None, help="where to write (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        if args.what == "darcy":
            bench_darcy(args.resolution, args.samples, folder)
        else:
            bench_write(args.resolution, args.samples, folder)


if __name__ == "__main__":
    main()
