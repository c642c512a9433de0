"""Shared driver of the generators: splits samples over MPI ranks, resumes, writes, reports.

A generator describes its file with a :class:`~neurosolve.data.layout.DatasetSpec` and
provides ``solve_sample(index, rng) -> {variable: array}``; :func:`run_generator` does the rest.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..layout import DatasetSpec, open_writer, sample_rng

logger = logging.getLogger(__name__)

SolveSample = Callable[[int, np.random.Generator], dict[str, np.ndarray]]


def world_communicator(comm: Any = None) -> Any:
    """Return ``comm``, or ``MPI.COMM_WORLD`` when it is None."""
    if comm is not None:
        return comm
    from mpi4py import MPI

    return MPI.COMM_WORLD


def import_fem_collectively() -> None:
    """Import dolfinx (and so initialise PETSc) on every rank at the same point.

    PETSc's initialisation communicates over ``MPI.COMM_WORLD``. If only some ranks
    initialised it later, for example lazily inside their first solve, its messages would
    mix with the generator's own broadcasts and the run would fail or hang.
    """
    import dolfinx_solver  # noqa: F401, I001  (must be imported before dolfinx)
    import dolfinx  # noqa: F401, I001


def run_generator(
    path: str | os.PathLike[str],
    spec: DatasetSpec,
    solve_sample: SolveSample,
    *,
    comm: Any = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Generate every missing sample of a dataset and write it to ``path``.

    Parameters
    ----------
    path : str or PathLike
        Output HDF5 file; an existing file with the same spec is resumed.
    spec : DatasetSpec
        Layout, settings and seed; identical on every rank.
    solve_sample : callable
        ``solve_sample(index, rng)`` returns the fields of sample ``index`` as a dict of
        arrays, drawing all randomness from ``rng`` (:func:`~neurosolve.data.layout.sample_rng`)
        and solving on ``MPI.COMM_SELF``, so the arrays do not depend on the rank count.
    comm : mpi4py communicator, optional
        Ranks sharing the work; ``MPI.COMM_WORLD`` by default.
    progress : bool
        Show a tqdm progress bar with the rate and the estimated time left (rank 0 only).
    overwrite : bool
        Start a new file even if a matching one exists.

    Returns
    -------
    Path
        The output file.

    Raises
    ------
    RuntimeError
        If ``solve_sample`` raised on any rank; the message names the sample and the error.
        Samples completed before the error stay in the file.

    Notes
    -----
    Samples still missing are dealt to the ranks in rounds: in each round rank ``r`` solves
    the ``r``-th next missing sample, and rank 0 gathers the round's fields and writes them.
    Only rank 0 opens the file, so a rank that gets no sample never touches it.
    """
    comm = world_communicator(comm)
    rank, size = comm.rank, comm.size
    import_fem_collectively()
    path = Path(path)

    writer = None
    missing: np.ndarray | None = None
    error: str | None = None
    if rank == 0:
        try:
            writer = open_writer(path, spec, overwrite=overwrite)
            missing = writer.missing()
        except (ValueError, OSError) as err:
            error = str(err)
    error = comm.bcast(error, root=0)
    if error is not None:
        if rank == 0:
            raise ValueError(error)
        raise ValueError(f"rank 0 could not open {path}: {error}")
    missing = comm.bcast(missing, root=0)

    bar = None
    if rank == 0 and progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=spec.samples,
            initial=spec.samples - len(missing),
            desc=f"{spec.generator} -> {path.name}",
            unit="sample",
            dynamic_ncols=True,
        )
    start = time.perf_counter()
    try:
        for first in range(0, len(missing), size):
            mine = first + rank
            result: tuple[int, Any] | None = None
            if mine < len(missing):
                index = int(missing[mine])
                try:
                    result = (index, solve_sample(index, sample_rng(spec.seed, index)))
                except Exception as err:  # reported to every rank below, then re-raised
                    result = (index, f"{type(err).__name__}: {err}")
            gathered = comm.gather(result, root=0)
            failure = None
            if rank == 0:
                assert writer is not None
                for item in gathered:
                    if item is None:
                        continue
                    index, fields = item
                    if isinstance(fields, str):
                        failure = f"sample {index} failed: {fields}"
                        continue
                    writer.write_sample(index, fields)
                    if bar is not None:
                        bar.update(1)
            failure = comm.bcast(failure, root=0)
            if failure is not None:
                raise RuntimeError(
                    f"{spec.generator}: {failure}; completed samples are kept in {path}"
                )
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    if rank == 0:
        logger.info(
            "%s: wrote %d samples to %s in %.1f s on %d ranks",
            spec.generator, len(missing), path, time.perf_counter() - start, size,
        )
    comm.barrier()
    return path
