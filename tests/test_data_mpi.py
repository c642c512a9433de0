"""Generation under ``mpiexec -n 2`` gives the same file contents as one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neurosolve.data import open_dataset

MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")

pytestmark = [
    pytest.mark.mpi,
    pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found"),
]


def generate_two_ranks(out: Path, samples: int, *extra: str) -> None:
    command = [
        MPIEXEC, "-n", "2", sys.executable, "-m", "neurosolve", "generate", *extra,
        "--samples", str(samples), "--resolution", "17", "--seed", "5", "--out", str(out),
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]


def assert_same_samples(first: Path, second: Path, names: tuple[str, ...]) -> None:
    a, b = open_dataset(first), open_dataset(second)
    assert a["completed"].values.tolist() == b["completed"].values.tolist()
    assert a.attrs["settings"] == b.attrs["settings"]
    for name in names:
        assert a[name].values.tobytes() == b[name].values.tobytes(), name
    a.close()
    b.close()


def test_two_ranks_match_one_rank(tmp_path):
    from mpi4py import MPI

    from neurosolve.data.generators.darcy import generate_darcy

    generate_darcy(5, 17, 5, tmp_path / "one.h5", comm=MPI.COMM_SELF, progress=False)
    generate_two_ranks(tmp_path / "two.h5", 5, "darcy")
    assert_same_samples(tmp_path / "one.h5", tmp_path / "two.h5", ("coefficient", "solution"))


def test_rank_without_samples(tmp_path):
    from mpi4py import MPI

    from neurosolve.data.generators.heat import generate_heat

    generate_two_ranks(tmp_path / "two.h5", 1, "heat", "--steps", "3")
    generate_heat(1, 17, 5, tmp_path / "one.h5", comm=MPI.COMM_SELF, progress=False, steps=3)
    ds = open_dataset(tmp_path / "two.h5")
    assert ds["completed"].values.tolist() == [1]
    assert np.isfinite(ds["temperature"].values).all()
    ds.close()
    assert_same_samples(tmp_path / "one.h5", tmp_path / "two.h5", ("initial", "temperature"))


FAILING_RUN = textwrap.dedent(
    """
    import sys
    import numpy as np
    from neurosolve.data.layout import DatasetSpec, Variable
    from neurosolve.data.generators.base import run_generator

    grid = np.linspace(0, 1, 4)
    spec = DatasetSpec("failing", 12, {"y": grid, "x": grid},
                       {"a": Variable(("y", "x"), role="x")}, {}, 0)

    def solve(index, rng):
        if index == 5:
            raise ArithmeticError("sample five is broken")
        return {"a": np.full((4, 4), float(index))}

    try:
        run_generator(sys.argv[1], spec, solve, progress=False)
    except RuntimeError as err:
        print("raised:", err, flush=True)
    """
)


def test_failed_sample_stops_both_ranks(tmp_path):
    out = tmp_path / "failing.h5"
    command = [MPIEXEC, "-n", "2", sys.executable, "-c", FAILING_RUN, str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("raised:") == 2
    assert "sample 5 failed: ArithmeticError: sample five is broken" in run.stdout
    ds = open_dataset(out)
    done = ds["completed"].values
    assert done[5] == 0
    # Rank 0 always solves its first sample; rank 1 sends 1 and 3 before 5 fails.
    assert done[[0, 1, 3]].all()
    written = np.flatnonzero(done)
    assert np.array_equal(ds["a"].values[written, 0, 0], written.astype(np.float32))
    ds.close()
