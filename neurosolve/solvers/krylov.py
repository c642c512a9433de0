"""Conjugate gradients, written out, with the front door's stopping rule.

:func:`conjugate_gradient` is shared by ``cg``, ``pcg-jacobi`` and every method that
preconditions CG (``pcg-amg``, ``pcg-gmg``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from .registry import Method, MethodOutput, register

Vector = np.ndarray


def as_preconditioner(M: Any) -> Callable[[Vector], Vector] | None:
    """Turn a scipy-style preconditioner (matrix or LinearOperator) into a function."""
    if M is None:
        return None
    if callable(M) and not isinstance(M, LinearOperator) and not sp.issparse(M):
        return M
    operator = aslinearoperator(M)
    return lambda r: np.asarray(operator.matvec(r)).reshape(-1)


@dataclass
class InitialResidual:
    """The starting iterate of a Krylov loop and the quantities of its stopping rule.

    ``threshold`` is ``max(rtol * ||b||, atol)``; ``scale`` is ``||b||`` (1 when ``b = 0``),
    the divisor of the relative residuals a method records.
    """

    x: Vector
    r: Vector
    r_norm: float
    threshold: float
    scale: float


def initial_residual(
    matvec: Callable[[Vector], Vector], b: Vector, x0: Vector | None, rtol: float, atol: float
) -> InitialResidual:
    """Copy ``x0`` (zeros when None) and compute ``r = b - A x0`` and the stopping threshold."""
    b_norm = float(np.linalg.norm(b))
    x = np.zeros(b.shape[0]) if x0 is None else np.array(x0, dtype=np.float64, copy=True)
    r = b - matvec(x) if x0 is not None else b.copy()
    return InitialResidual(
        x, r, float(np.linalg.norm(r)), max(rtol * b_norm, atol), b_norm if b_norm > 0 else 1.0
    )


def conjugate_gradient(
    matvec: Callable[[Vector], Vector],
    b: Vector,
    *,
    x0: Vector | None = None,
    rtol: float = 1e-6,
    atol: float = 0.0,
    maxiter: int | None = None,
    precondition: Callable[[Vector], Vector] | None = None,
    callback: Callable[[Vector], Any] | None = None,
) -> MethodOutput:
    """Solve ``A x = b`` for symmetric positive definite ``A`` by (preconditioned) CG.

    Stops when ``||b - A x|| <= max(rtol * ||b||, atol)``. The loop tracks the updated
    residual. When that passes the test, the true residual ``b - A x`` is computed and must
    pass too; if it does not, it replaces the updated residual and the iteration goes on.

    Returns
    -------
    MethodOutput
        ``status`` is 0 on convergence, ``maxiter`` when the limit was reached, -1 when
        ``p . A p <= 0`` (``A`` is not positive definite), -2 when ``r . M r <= 0`` (the
        preconditioner is not positive definite), -3 when the iterate stopped being finite.
        ``residuals`` holds relative residual norms, the initial one first.
    """
    maxiter = 10 * b.shape[0] if maxiter is None else int(maxiter)
    start = initial_residual(matvec, b, x0, rtol, atol)
    x, r, r_norm, threshold, scale = start.x, start.r, start.r_norm, start.threshold, start.scale
    residuals = [r_norm / scale]
    if r_norm <= threshold:
        return MethodOutput(x=x, status=0, iterations=0, residuals=residuals, message="x0 met tol")

    z = precondition(r) if precondition is not None else r
    rz = float(r @ z)
    if not rz > 0:
        return MethodOutput(x, -2, 0, residuals, "preconditioner is not positive definite")
    p = z.copy()

    for k in range(1, maxiter + 1):
        Ap = matvec(p)
        curvature = float(p @ Ap)
        if not curvature > 0:
            return MethodOutput(
                x, -1, k - 1, residuals,
                f"non-positive curvature p.Ap = {curvature:.3g}: A is not positive definite",
            )
        alpha = rz / curvature
        x += alpha * p
        r -= alpha * Ap
        r_norm = float(np.linalg.norm(r))
        if not np.isfinite(r_norm):
            return MethodOutput(x, -3, k, residuals, "iterate is no longer finite")

        if r_norm <= threshold:
            r = b - matvec(x)
            r_norm = float(np.linalg.norm(r))
        residuals.append(r_norm / scale)
        if callback is not None:
            callback(x)
        if r_norm <= threshold:
            return MethodOutput(x, 0, k, residuals, "converged")

        z = precondition(r) if precondition is not None else r
        rz_new = float(r @ z)
        if not rz_new > 0:
            return MethodOutput(x, -2, k, residuals, "preconditioner is not positive definite")
        p = z + (rz_new / rz) * p
        rz = rz_new

    return MethodOutput(x, maxiter, maxiter, residuals, f"reached maxiter={maxiter}")


@register
class CG(Method):
    """Conjugate gradients; with ``M`` it is scipy-style preconditioned CG."""

    name = "cg"
    description = "conjugate gradients (numpy), optional preconditioner M"
    requires_spd = True
    accepts_preconditioner = True

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        return conjugate_gradient(
            problem.matvec, problem.b, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
            precondition=as_preconditioner(M), callback=callback,
        )


@register
class JacobiPCG(Method):
    """CG preconditioned by the inverse diagonal of ``A``."""

    name = "pcg-jacobi"
    description = "conjugate gradients preconditioned by the diagonal of A"
    requires_spd = True

    def setup(self, problem) -> None:
        A = problem.A
        if isinstance(A, LinearOperator):
            raise ValueError("pcg-jacobi needs the entries of A, not a LinearOperator")
        diagonal = np.asarray(A.diagonal(), dtype=np.float64)
        if np.any(diagonal <= 0):
            raise ValueError(
                f"pcg-jacobi needs a positive diagonal; A has {int(np.sum(diagonal <= 0))} "
                f"non-positive diagonal entries"
            )
        self._inverse_diagonal = 1.0 / diagonal

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        inverse = self._inverse_diagonal
        return conjugate_gradient(
            problem.matvec, problem.b, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
            precondition=lambda r: inverse * r, callback=callback,
        )
