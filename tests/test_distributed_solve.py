"""Poisson under ``mpiexec -n 2``: the distributed PETSc solve equals the one-process one."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("scripts") / "mpi_poisson.py"
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")

pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found beside the Python")


def run(ranks: int, out: Path, n: int = 65) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [MPIEXEC, "-n", str(ranks), sys.executable, str(SCRIPT), str(out), str(n)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


@pytest.mark.mpi
def test_two_ranks_match_one_rank(tmp_path):
    one = run(1, tmp_path / "one.npz")
    two = run(2, tmp_path / "two.npz")
    assert str(one["kind"]) == "LinearProblem"
    assert str(two["kind"]) == "DistributedLinearProblem"
    assert two["converged"].tolist() == [True, True]
    scale = np.abs(one["grid"]).max()
    np.testing.assert_allclose(two["grid"], one["grid"], rtol=0, atol=1e-8 * scale)


@pytest.mark.mpi
def test_serial_method_rejects_distributed(tmp_path):
    code = (
        "from mpi4py import MPI\n"
        "from neurosolve import problems, solve\n"
        "p = problems.poisson(shape=(17, 17), comm=MPI.COMM_WORLD)\n"
        "solve(p, method='cg')\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [MPIEXEC, "-n", "2", sys.executable, "-c", code], env=env, capture_output=True,
        text=True, timeout=120,
    )
    assert completed.returncode != 0
    assert "cannot solve a problem distributed over 2 MPI ranks" in completed.stderr
