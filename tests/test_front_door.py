"""The front door's contract on small systems with known answers."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosolve import ConvergenceWarning, LinearProblem, list_methods, solve
from neurosolve.solvers.result import ConvergenceError


def laplacian_1d(n: int) -> sp.csr_matrix:
    return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")


def test_cg_matches_direct_solution():
    A = laplacian_1d(40)
    x_true = np.sin(np.linspace(0, 3, 40))
    result = solve(LinearProblem(A, A @ x_true), method="cg", rtol=1e-12)
    assert result.converged
    assert result.status == 0
    np.testing.assert_allclose(result.x, x_true, rtol=0, atol=1e-9)


def test_residual_history_starts_at_initial():
    A = laplacian_1d(30)
    result = solve(LinearProblem(A, np.ones(30)), method="cg", rtol=1e-8)
    assert result.residuals[0] == pytest.approx(1.0)
    assert result.residuals[-1] <= 1e-8
    assert len(result.residuals) == result.iterations + 1


def test_maxiter_one_gives_one_callback():
    A = laplacian_1d(30)
    calls = []
    with pytest.warns(ConvergenceWarning):
        result = solve(LinearProblem(A, np.ones(30)), method="cg", maxiter=1, callback=calls.append)
    assert len(calls) == 1
    assert result.status == 1
    assert not result.converged


def test_x0_is_not_modified():
    A = laplacian_1d(20)
    x0 = np.full(20, 0.5)
    solve(LinearProblem(A, np.ones(20)), method="cg", x0=x0)
    np.testing.assert_array_equal(x0, np.full(20, 0.5))


def test_zero_rhs_returns_zero():
    result = solve(LinearProblem(laplacian_1d(10), np.zeros(10)), method="cg")
    assert result.converged
    assert result.iterations == 0
    np.testing.assert_array_equal(result.x, np.zeros(10))


def test_unknown_method_lists_valid_names():
    with pytest.raises(ValueError, match="valid methods are: .*cg"):
        solve(LinearProblem(laplacian_1d(5), np.ones(5)), method="no-such-method")


def test_unknown_option_lists_valid_options():
    with pytest.raises(TypeError, match="invalid options for method 'cg'"):
        solve(LinearProblem(laplacian_1d(5), np.ones(5)), method="cg", smoother="jacobi")


def test_nonsymmetric_matrix_rejected_by_cg():
    A = laplacian_1d(6).tolil()
    A[0, 1] = 5.0
    with pytest.raises(ValueError, match="not symmetric"):
        solve(LinearProblem(A.tocsr(), np.ones(6)), method="cg")


def test_indefinite_matrix_reports_breakdown():
    A = sp.diags(np.array([1.0, -1.0, 2.0, 3.0]))
    b = np.array([1.0, 1.0, 1.0, 1.0])
    with pytest.warns(ConvergenceWarning, match="not positive definite"):
        result = solve(LinearProblem(A, b), method="cg")
    assert result.status < 0
    assert not result.converged


def test_raise_on_failure_raises():
    with pytest.raises(ConvergenceError):
        solve(LinearProblem(laplacian_1d(30), np.ones(30)), method="cg", maxiter=2,
              raise_on_failure=True)


@pytest.mark.parametrize(
    ("A", "b", "message"),
    [
        (np.ones((3, 4)), np.ones(3), "square"),
        (np.eye(3), np.ones(4), "b has shape"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), "NaN"),
        (np.eye(2), np.array([1.0, np.inf]), "NaN or infinite"),
    ],
)
def test_invalid_system_rejected(A, b, message):
    with pytest.raises(ValueError, match=message):
        LinearProblem(A, b)


def test_list_methods_describes_each():
    methods = list_methods()
    assert "cg" in methods
    assert all(isinstance(text, str) and text for text in methods.values())
