"""Every classical method against ``direct`` on named problems, and scipy's contract."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator

from neurosolve import ConvergenceWarning, LinearProblem, problems, solve

RTOL = 1e-8

# (name, options) of every classical method; petsc appears with GAMG and with MUMPS LU.
METHODS = [
    ("cg", {}),
    ("pcg-jacobi", {}),
    ("amg", {}),
    ("pcg-amg", {}),
    ("petsc", {}),
    ("petsc", {"direct": True}),
    ("direct", {}),
]
ITERATIVE = [("cg", {}), ("pcg-jacobi", {}), ("amg", {}), ("pcg-amg", {}), ("petsc", {})]


def _variable_coefficient(x):
    return 1.0 + 10.0 * (x[0] > 0.5)


CATALOGUE = {
    "poisson-2d": lambda: problems.poisson(shape=(25, 25)),
    "poisson-3d": lambda: problems.poisson(shape=(9, 9, 9)),
    "variable-coefficient": lambda: problems.poisson(
        shape=(25, 25), coefficient=_variable_coefficient
    ),
    "obstacle": lambda: problems.poisson(shape=(25, 25), obstacles=5, seed=0),
    "neumann-dirichlet": lambda: problems.poisson(
        shape=(25, 25), dirichlet={"xmin": 0.0, "ymin": 1.0}, neumann={"xmax": 1.0}
    ),
    "pyamg-airfoil": lambda: problems.from_pyamg_example("airfoil"),
}


@pytest.fixture(scope="module")
def catalogue():
    """Each problem with its direct solution and the 2-norm condition number of A."""
    entries = {}
    for name, build in CATALOGUE.items():
        problem = build()
        reference = solve(problem, "direct", rtol=1e-12).x
        eigenvalues = np.linalg.eigvalsh(problem.A.toarray())
        condition = eigenvalues[-1] / eigenvalues[0]
        entries[name] = (problem, reference, condition)
    return entries


@pytest.mark.parametrize("name", list(CATALOGUE))
@pytest.mark.parametrize(("method", "options"), METHODS, ids=lambda v: str(v or ""))
def test_method_agrees_with_direct(catalogue, name, method, options):
    problem, reference, condition = catalogue[name]
    result = solve(problem, method, rtol=RTOL, **options)
    assert result.converged
    assert result.status == 0
    residual = np.linalg.norm(problem.b - problem.A @ result.x) / np.linalg.norm(problem.b)
    assert residual <= RTOL
    # ||x - x*|| / ||x*|| <= cond(A) ||b - A x|| / ||b|| bounds the error of any x.
    error = np.linalg.norm(result.x - reference) / np.linalg.norm(reference)
    assert error <= condition * RTOL


@pytest.mark.parametrize(("method", "options"), ITERATIVE, ids=lambda v: str(v or ""))
def test_history_matches_iterations(method, options):
    problem = problems.poisson(shape=(33, 33))
    result = solve(problem, method, rtol=RTOL, **options)
    assert result.residuals[0] == pytest.approx(1.0)
    assert len(result.residuals) == result.iterations + 1
    assert result.residuals[-1] <= RTOL
    assert result.setup_seconds >= 0.0
    assert result.solve_seconds > 0.0


@pytest.mark.parametrize(("method", "options"), ITERATIVE, ids=lambda v: str(v or ""))
def test_maxiter_one_gives_one_callback(method, options):
    problem = problems.poisson(shape=(33, 33))
    calls = []
    with pytest.warns(ConvergenceWarning):
        result = solve(problem, method, maxiter=1, callback=calls.append, **options)
    assert len(calls) == 1
    assert calls[0].shape == (problem.n,)
    assert result.status == 1
    assert result.iterations == 1
    assert not result.converged


@pytest.mark.parametrize(("method", "options"), METHODS, ids=lambda v: str(v or ""))
def test_x0_is_not_modified(method, options):
    problem = problems.poisson(shape=(17, 17))
    x0 = np.full(problem.n, 0.25)
    result = solve(problem, method, x0=x0, rtol=RTOL, **options)
    np.testing.assert_array_equal(x0, np.full(problem.n, 0.25))
    assert result.converged


@pytest.mark.parametrize(("method", "options"), METHODS, ids=lambda v: str(v or ""))
def test_zero_rhs_gives_zero(method, options):
    problem = problems.poisson(shape=(9, 9), source=0.0)
    result = solve(problem, method, **options)
    assert result.converged
    assert result.iterations == 0
    np.testing.assert_array_equal(result.x, np.zeros(problem.n))


@pytest.mark.parametrize("method", ["cg", "pcg-jacobi", "pcg-amg", "amg", "petsc"])
def test_x0_solution_stops_at_once(method):
    problem = problems.poisson(shape=(17, 17))
    exact = solve(problem, "direct", rtol=1e-12).x
    result = solve(problem, method, x0=exact, rtol=RTOL)
    assert result.iterations == 0
    assert result.converged
    assert len(result.residuals) == 1
    assert result.residuals[0] <= RTOL


@pytest.mark.parametrize(("method", "options"), [("cg", {}), ("pcg-amg", {}), ("petsc", {})])
def test_nonsymmetric_matrix_rejected(method, options):
    problem = problems.from_pyamg_example("recirc_flow")
    with pytest.raises(ValueError, match="not symmetric"):
        solve(problem, method, **options)


def test_petsc_options_pass_through():
    problem = problems.from_pyamg_example("recirc_flow")
    result = solve(
        problem, "petsc", rtol=RTOL,
        petsc_options={"ksp_type": "gmres", "pc_type": "ilu", "ksp_gmres_restart": 100},
    )
    assert result.converged
    assert result.info["ksp_type"] == "gmres"
    assert result.info["pc_type"] == "ilu"
    np.testing.assert_allclose(result.x, problem.x_exact, rtol=0, atol=1e-5)


def test_direct_solves_nonsymmetric():
    problem = problems.from_pyamg_example("recirc_flow")
    result = solve(problem, "direct", rtol=1e-10)
    assert result.converged
    np.testing.assert_allclose(result.x, problem.x_exact, rtol=0, atol=1e-8)


def indefinite_problem() -> LinearProblem:
    # Symmetric with a positive diagonal, but its eigenvalues 0.5 - 2 cos(k pi / 51)
    # have both signs.
    A = sp.diags([-1.0, 0.5, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    return LinearProblem(A, np.ones(50))


@pytest.mark.parametrize(
    ("method", "options"), [("cg", {}), ("pcg-jacobi", {}), ("pcg-amg", {}), ("petsc", {})],
    ids=lambda v: str(v or ""),
)
def test_indefinite_matrix_reports_breakdown(method, options):
    with pytest.warns(ConvergenceWarning):
        result = solve(indefinite_problem(), method, **options)
    assert result.status < 0
    assert not result.converged


def test_singular_matrix_fails_direct():
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.warns(ConvergenceWarning, match="factorisation failed"):
        result = solve(LinearProblem(A, np.ones(2)), "direct")
    assert result.status < 0
    assert not result.converged


@pytest.mark.parametrize("method", ["amg", "pcg-amg", "petsc", "direct", "pcg-jacobi"])
def test_linear_operator_rejected(method):
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20), format="csr")
    problem = LinearProblem(aslinearoperator(A), np.ones(20))
    with pytest.raises(ValueError, match="LinearOperator"):
        solve(problem, method)


def test_invalid_option_rejected():
    problem = problems.poisson(shape=(9, 9))
    with pytest.raises(ValueError, match="cycle must be"):
        solve(problem, "amg", cycle="X")
    with pytest.raises(TypeError, match="valid options are: cycle, pyamg_options"):
        solve(problem, "pcg-amg", smoother="jacobi")


def test_unknown_pyamg_example_lists_names():
    with pytest.raises(ValueError, match="valid names are: .*airfoil"):
        problems.from_pyamg_example("no-such-matrix")


MPI_SCRIPT = """
import sys
import numpy as np
from mpi4py import MPI
from neurosolve import problems, solve, write_fields

problem = problems.poisson(shape=(33, 33), comm=MPI.COMM_WORLD)
result = solve(problem, "petsc", rtol=1e-10)
grid = problem.to_grid(result.x)
write_fields(sys.argv[2], result)
if MPI.COMM_WORLD.rank == 0:
    np.save(sys.argv[1], grid)
    print(type(problem).__name__, result.converged)
"""


@pytest.mark.mpi
def test_petsc_on_two_ranks_matches_serial(tmp_path):
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if mpiexec is None:
        pytest.skip("mpiexec not found beside the Python")
    out = tmp_path / "grid.npy"
    fields = tmp_path / "fields.h5"
    completed = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, "-c", MPI_SCRIPT, str(out), str(fields)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == ["DistributedLinearProblem", "True"]
    serial = problems.poisson(shape=(33, 33))
    expected = serial.to_grid(solve(serial, "direct", rtol=1e-12).x)
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-8 * np.abs(expected).max())
    with h5py.File(fields, "r") as handle:
        np.testing.assert_array_equal(handle["solution"][...], np.load(out))
        assert handle.attrs["method"] == "petsc"


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_diverging_amg_reports_breakdown():
    # Smoothed aggregation cycles diverge on this convection-dominated matrix.
    problem = problems.from_pyamg_example("recirc_flow")
    with pytest.warns(ConvergenceWarning, match="diverged"):
        result = solve(problem, "amg", rtol=1e-8)
    assert result.status < 0
    assert not result.converged
