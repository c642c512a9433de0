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
    Samples still missing are dealt round-robin to the ranks (``missing[rank::size]``).
    Other ranks send each finished sample to rank 0 without waiting. Rank 0 solves its
    own share and, after each of its samples, writes whatever has arrived. Only rank 0
    opens the file, so a rank that gets no sample never touches it. After a failure rank 0
    sends a stop message to the other ranks, and each stops after its current sample.
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
    assert missing is not None
    mine = [int(i) for i in missing[rank::size]]

    def solve(index: int) -> dict[str, np.ndarray] | str:
        try:
            fields = solve_sample(index, sample_rng(spec.seed, index))
        except Exception as err:  # sent to rank 0, which stops the run and raises
            logger.error("sample %d failed on rank %d: %s", index, rank, err)
            return f"{type(err).__name__}: {err}"
        # Cast before sending, so messages to rank 0 carry float32, not float64, arrays.
        cast = dict(fields)
        for name, values in fields.items():
            if name in spec.variables:
                cast[name] = np.asarray(values).astype(spec.variables[name].dtype, copy=False)
        return cast

    start = time.perf_counter()
    messages = comm.Dup()
    failures: list[str] = []
    stop_requests: list[Any] = []
    stopped = False
    try:
        if rank == 0:
            assert writer is not None
            failures, stop_requests = _collect_and_write(
                messages, writer, mine, solve, spec, path, progress
            )
        else:
            stopped = _solve_and_send(messages, mine, solve)
    finally:
        if writer is not None:
            writer.close()
    # Rank 0 sends a stop message to every other rank once a sample fails; each rank
    # receives it exactly once, in its loop or here.
    failures = messages.bcast(failures, root=0)
    if rank != 0 and failures and not stopped:
        messages.recv(source=0, tag=_STOP_TAG)
    for request in stop_requests:
        request.wait()
    messages.Free()
    if failures:
        raise RuntimeError(
            f"{spec.generator}: {'; '.join(failures)}; completed samples are kept in {path}"
        )
    if rank == 0:
        logger.info(
            "%s: wrote %d samples to %s in %.1f s on %d ranks",
            spec.generator, len(missing), path, time.perf_counter() - start, size,
        )
    comm.barrier()
    return path


# Tags of the messages between the ranks of one run (on a duplicated communicator).
_RESULT_TAG = 1
_STOP_TAG = 2


def _solve_and_send(comm: Any, mine: list[int], solve: Callable[[int], Any]) -> bool:
    """Solve this rank's samples and send each to rank 0, then an end marker (index None).

    Returns True if rank 0's stop message arrived and was received before the last sample.
    """
    requests = []
    stopped = False
    for index in mine:
        if comm.iprobe(source=0, tag=_STOP_TAG):
            comm.recv(source=0, tag=_STOP_TAG)
            stopped = True
            break
        requests.append(comm.isend((index, solve(index)), dest=0, tag=_RESULT_TAG))
    requests.append(comm.isend((None, None), dest=0, tag=_RESULT_TAG))
    for request in requests:
        request.wait()
    return stopped


def _collect_and_write(
    comm: Any,
    writer: Any,
    mine: list[int],
    solve: Callable[[int], Any],
    spec: DatasetSpec,
    path: Path,
    progress: bool,
) -> tuple[list[str], list[Any]]:
    """Solve rank 0's samples, receive the other ranks' samples, and write them all.

    Returns the failure messages and the pending requests of the stop messages sent.
    """
    from mpi4py import MPI

    bar = None
    if progress:
        from tqdm.auto import tqdm

        done = spec.samples - len(writer.missing())
        bar = tqdm(
            total=spec.samples, initial=done, desc=f"{spec.generator} -> {path.name}",
            unit="sample", dynamic_ncols=True,
        )
    failures: list[str] = []
    stop_requests: list[Any] = []
    active = comm.size - 1

    def handle(index: int | None, payload: Any) -> None:
        nonlocal active
        if index is None:
            active -= 1
            return
        if not isinstance(payload, str):
            try:
                writer.write_sample(index, payload)
            except (ValueError, OSError) as err:
                payload = f"writing failed: {err}"
        if isinstance(payload, str):
            failures.append(f"sample {index} failed: {payload}")
            if not stop_requests:
                stop_requests.extend(
                    comm.isend(None, dest=r, tag=_STOP_TAG) for r in range(1, comm.size)
                )
        elif bar is not None:
            bar.update(1)

    try:
        for index in mine:
            if failures:
                break
            handle(index, solve(index))
            while active and comm.iprobe(source=MPI.ANY_SOURCE, tag=_RESULT_TAG):
                handle(*comm.recv(source=MPI.ANY_SOURCE, tag=_RESULT_TAG))
        while active:
            handle(*comm.recv(source=MPI.ANY_SOURCE, tag=_RESULT_TAG))
    finally:
        if bar is not None:
            bar.close()
    return failures, stop_requests
