"""Generation under ``mpiexec -n 2`` gives the same file contents as one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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
