"""Smoothed-aggregation algebraic multigrid from pyamg: ``amg`` and ``pcg-amg``.

Both methods build the same pyamg hierarchy in ``setup``. ``amg`` repeats multigrid
cycles as a stand-alone solver; ``pcg-amg`` uses one cycle as the preconditioner of the
shared :func:`~neurosolve.solvers.krylov.conjugate_gradient`.

References
----------
Vanek, P., Mandel, J. and Brezina, M. (1996). Algebraic multigrid by smoothed
aggregation for second and fourth order elliptic problems. Computing 56, 179-196.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .krylov import conjugate_gradient
from .registry import Method, MethodOutput, register


class _PyamgHierarchy(Method):
    """Shared set-up: the smoothed-aggregation hierarchy of ``A``."""

    def __init__(self, *, cycle: str = "V", pyamg_options: dict[str, Any] | None = None) -> None:
        if cycle not in ("V", "W", "F"):
            raise ValueError(f"cycle must be 'V', 'W' or 'F', got {cycle!r}")
        self.cycle = cycle
        self.pyamg_options = dict(pyamg_options or {})
        self.hierarchy: Any = None

    def check(self, problem) -> None:
        import pyamg  # noqa: F401  (imported before the timed set-up, which excludes it)

        if isinstance(problem.A, LinearOperator):
            raise ValueError(
                f"{self.name} needs the entries of A to build its hierarchy, but problem "
                f"{problem.name!r} gives A as a LinearOperator; use 'cg' instead"
            )

    def setup(self, problem) -> None:
        import pyamg

        self.hierarchy = pyamg.smoothed_aggregation_solver(problem.A, **self.pyamg_options)

    def hierarchy_info(self) -> dict[str, Any]:
        return {
            "levels": len(self.hierarchy.levels),
            "operator_complexity": float(self.hierarchy.operator_complexity()),
            "grid_complexity": float(self.hierarchy.grid_complexity()),
        }


class _DivergedError(Exception):
    """Raised from the cycle callback to stop pyamg once the residual is not finite."""


@register
class AMG(_PyamgHierarchy):
    """Stand-alone smoothed-aggregation multigrid cycles (pyamg).

    Options
    -------
    cycle : {"V", "W", "F"}
        Multigrid cycle, default ``"V"``.
    pyamg_options : dict, optional
        Keyword arguments of ``pyamg.smoothed_aggregation_solver`` (``strength``,
        ``smooth``, ``presmoother``, ``max_coarse``, ...).

    Notes
    -----
    After every cycle pyamg computes the true residual ``||b - A x||`` and stops when it
    is below ``max(rtol * ||b||, atol)``, which is the front door's rule. ``maxiter``
    defaults to 200 cycles. Smoothed aggregation is designed for symmetric positive
    definite matrices. On others, pass ``pyamg_options={"symmetry": "nonsymmetric"}``
    and expect that the cycles may diverge, as they do on pyamg's ``recirc_flow``.
    """

    name = "amg"
    description = "smoothed-aggregation algebraic multigrid cycles (pyamg)"

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        b = problem.b
        b_norm = float(np.linalg.norm(b))
        threshold = max(rtol * b_norm, atol)
        maxiter = 200 if maxiter is None else int(maxiter)
        x_start = np.zeros_like(b) if x0 is None else x0
        info = self.hierarchy_info()
        if x0 is not None:
            # pyamg always runs one cycle, so check a starting guess that already passes.
            initial = problem.residual_norm(x0)
            if initial <= threshold:
                return MethodOutput(x0, 0, 0, [initial / b_norm], "x0 met tol", info)
        norms: list[float] = []
        latest = [x_start]

        def after_cycle(x: np.ndarray) -> None:
            # pyamg appends the residual norm before it calls back, so a diverged run
            # stops here instead of cycling on to maxiter.
            latest[0] = x
            if not np.isfinite(norms[-1]):
                raise _DivergedError
            if callback is not None:
                callback(x)

        try:
            with np.errstate(over="ignore", invalid="ignore"):
                x, status = self.hierarchy.solve(
                    b, x0=x_start, tol=threshold / b_norm, maxiter=maxiter, cycle=self.cycle,
                    accel=None, callback=after_cycle, residuals=norms, return_info=True,
                )
        except _DivergedError:
            residuals = [norm / b_norm for norm in norms]
            message = "the cycles diverged and the residual is no longer finite"
            return MethodOutput(latest[0], -3, len(norms) - 1, residuals, message, info)
        residuals = [norm / b_norm for norm in norms]
        iterations = len(norms) - 1
        if status == 0:
            return MethodOutput(x, 0, iterations, residuals, "converged", info)
        return MethodOutput(x, maxiter, iterations, residuals, f"reached maxiter={maxiter}", info)


@register
class AMGPCG(_PyamgHierarchy):
    """Conjugate gradients preconditioned by one smoothed-aggregation cycle (pyamg).

    Options are those of ``amg``. ``maxiter`` defaults to ``10 * n`` as for ``cg``.
    """

    name = "pcg-amg"
    description = "conjugate gradients preconditioned by a pyamg smoothed-aggregation cycle"
    requires_spd = True

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        preconditioner = self.hierarchy.aspreconditioner(cycle=self.cycle)
        output = conjugate_gradient(
            problem.matvec, problem.b, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
            precondition=preconditioner.matvec, callback=callback,
        )
        output.info.update(self.hierarchy_info())
        return output
