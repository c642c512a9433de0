"""Geometric multigrid: grid-independent convergence, symmetry, masks and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosolve import LinearProblem, solve
from neurosolve.sciml.dcdm.grid import grid_poisson_problem, random_box_obstacles
from neurosolve.solvers.gmg import GeometricMultigrid, coarse_points_1d, interpolation_1d
from neurosolve.solvers.problems import GridGeometry


def convergence_factor(result) -> float:
    """Geometric mean of the residual reduction per iteration."""
    residuals = np.asarray(result.residuals)
    return float((residuals[-1] / residuals[0]) ** (1.0 / result.iterations))


@pytest.mark.parametrize("obstacles", [0, 5])
def test_gmg_rate_independent_of_size(obstacles):
    factors = []
    for n in (65, 129, 257):
        mask = random_box_obstacles((n, n), obstacles, np.random.default_rng(3))
        problem = grid_poisson_problem((n, n), mask, seed=1)
        result = solve(problem, method="gmg", rtol=1e-8)
        assert result.converged
        factors.append(convergence_factor(result))
    assert max(factors) < 0.3
    assert max(factors) - min(factors) < 0.1


def test_gmg_rate_3d_sizes():
    factors = []
    for n in (9, 17, 33):
        problem = grid_poisson_problem((n, n, n), seed=2)
        result = solve(problem, method="gmg", max_coarse=20, rtol=1e-8)
        assert result.converged
        factors.append(convergence_factor(result))
    assert max(factors) < 0.3
    assert max(factors) - min(factors) < 0.1


@pytest.mark.parametrize("shape", [(20, 31), (18, 18, 18)])
def test_pcg_gmg_odd_and_even_sizes(shape):
    problem = grid_poisson_problem(shape, seed=4)
    result = solve(problem, method="pcg-gmg", rtol=1e-10)
    assert result.converged
    assert result.iterations <= 12
    x_direct = sp.linalg.spsolve(problem.A.tocsc(), problem.b)
    np.testing.assert_allclose(result.x, x_direct, rtol=0, atol=1e-8 * np.abs(x_direct).max())


def test_vcycle_is_symmetric():
    mask = random_box_obstacles((21, 21), 3, np.random.default_rng(0))
    problem = grid_poisson_problem((21, 21), mask)
    hierarchy = GeometricMultigrid(problem.A, problem.geometry)
    rng = np.random.default_rng(5)
    u, v = rng.standard_normal((2, problem.n))
    left = u @ hierarchy.vcycle(v)
    right = v @ hierarchy.vcycle(u)
    assert abs(left - right) <= 1e-12 * abs(left)
    assert u @ hierarchy.vcycle(u) > 0


def test_jacobi_smoother_converges():
    problem = grid_poisson_problem((65, 65), seed=6)
    result = solve(problem, method="pcg-gmg", smoother="jacobi", sweeps=2, rtol=1e-8)
    assert result.converged
    assert result.iterations <= 15


def test_interpolation_reproduces_linears():
    for n in (5, 8, 9, 12):
        P = interpolation_1d(n)
        positions = coarse_points_1d(n)
        assert positions[0] == 0
        assert positions[-1] == n - 1
        np.testing.assert_array_equal(P[positions].toarray(), np.eye(len(positions)))
        np.testing.assert_allclose(P @ positions.astype(float), np.arange(n), atol=1e-14)


def test_gmg_on_dolfinx_poisson():
    problems = pytest.importorskip("neurosolve.problems")
    problem = problems.poisson(shape=(65, 65), obstacles=4, seed=0)
    result = solve(problem, method="pcg-gmg", rtol=1e-8)
    assert result.converged
    assert result.iterations <= 15


def test_gmg_rejects_problem_without_grid():
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10), format="csr")
    with pytest.raises(ValueError, match="structured grid"):
        solve(LinearProblem(A, np.ones(10)), method="gmg")


def test_gmg_rejects_wrong_free_mask():
    problem = grid_poisson_problem((9, 9))
    wrong = np.ones((9, 9), dtype=bool)
    geometry = GridGeometry(shape=(9, 9), dof_to_grid=problem.geometry.dof_to_grid, free=wrong)
    bad = LinearProblem(problem.A, problem.b, geometry=geometry, spd=True)
    with pytest.raises(ValueError, match="must mark exactly the unknowns"):
        solve(bad, method="gmg")


def test_gmg_rejects_unknown_smoother():
    with pytest.raises(ValueError, match="smoother must be one of"):
        solve(grid_poisson_problem((9, 9)), method="gmg", smoother="sor")
