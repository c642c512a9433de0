"""``petsc``: a PETSc KSP solver through petsc4py (CG with GAMG by default, LU via MUMPS)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .registry import Method, MethodOutput, register

_prefixes = itertools.count()

# Negative KSP reasons that mean "stopped at max_it" rather than a breakdown.
_DIVERGED_MAX_IT = -3


@register
class PETScKSP(Method):
    """A PETSc Krylov solver (``KSP``) and preconditioner (``PC``) from petsc4py.

    Options
    -------
    petsc_options : dict, optional
        PETSc options database entries without the leading dash, for example
        ``{"ksp_type": "gmres", "pc_type": "hypre"}``. They override the defaults
        ``ksp_type=cg``, ``pc_type=gamg``.
    direct : bool
        Solve by LU factorisation with MUMPS (``ksp_type=preonly``, ``pc_type=lu``,
        ``pc_factor_mat_solver_type=mumps``); ``petsc_options`` still apply on top.

    Notes
    -----
    The KSP monitors the unpreconditioned residual norm and stops on
    ``||r|| <= max(rtol * ||b||, atol)`` (PETSc's ``rtol`` is set to 0 and its ``atol``
    to that threshold), the front door's rule. Because Krylov methods update the
    residual recursively, the true residual is checked after the solve, and the KSP
    restarts from the current iterate (at most twice) when it is still above the
    threshold. ``ksp_rtol``, ``ksp_atol`` and ``ksp_max_it`` in ``petsc_options`` are
    replaced by the ``solve`` arguments. ``maxiter`` defaults to PETSc's 10000.
    ``setup`` copies ``A`` into a PETSc matrix and calls ``KSPSetUp``, which builds the
    GAMG hierarchy or the LU factors. A problem distributed over MPI ranks already holds
    a parallel ``Mat`` and ``Vec``; the KSP runs on their communicator, every rank calls
    ``solve`` together, and ``x`` holds this rank's owned values.
    """

    name = "petsc"
    description = "PETSc KSP via petsc4py: CG + GAMG by default, any petsc_options, MUMPS LU"
    supports_distributed = True

    def __init__(
        self, *, petsc_options: dict[str, Any] | None = None, direct: bool = False
    ) -> None:
        options: dict[str, Any] = {"ksp_type": "cg", "pc_type": "gamg"}
        if direct:
            options = {
                "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
            }
        for key, value in (petsc_options or {}).items():
            options[key.lstrip("-")] = value
        self.options = options
        self.direct = direct
        self.ksp: Any = None

    def check(self, problem) -> None:
        import dolfinx_solver  # noqa: F401  (imported before the timed set-up, which excludes it)
        import petsc4py.PETSc  # noqa: F401

        if getattr(problem, "distributed", False):
            return
        if isinstance(problem.A, LinearOperator):
            raise ValueError(
                f"petsc needs the entries of A, but problem {problem.name!r} gives A as a "
                f"LinearOperator; use 'cg' instead"
            )
        if self.options.get("ksp_type") == "cg" and problem.spd is not True:
            from .api import _is_symmetric

            if _is_symmetric(problem.A) is False:
                raise ValueError(
                    f"petsc with ksp_type=cg requires a symmetric matrix, but A of "
                    f"{problem.name!r} is not symmetric; pass "
                    f"petsc_options={{'ksp_type': 'gmres'}} or direct=True"
                )

    def setup(self, problem) -> None:
        import dolfinx_solver  # noqa: F401  (loads the bundled PETSc before petsc4py)
        from petsc4py import PETSc

        self.distributed = bool(getattr(problem, "distributed", False))
        if self.distributed:
            matrix = problem.A
        else:
            A = problem.A
            matrix = PETSc.Mat().createAIJ(
                size=A.shape,
                csr=(A.indptr.astype(PETSc.IntType), A.indices.astype(PETSc.IntType), A.data),
                comm=PETSc.COMM_SELF,
            )
            matrix.assemble()
        ksp = PETSc.KSP().create(matrix.getComm())
        ksp.setOperators(matrix)
        prefix = f"neurosolve_{next(_prefixes)}_"
        ksp.setOptionsPrefix(prefix)
        database = PETSc.Options()
        for key, value in self.options.items():
            database.setValue(prefix + key, value)
        try:
            ksp.setFromOptions()
        finally:
            for key in self.options:
                database.delValue(prefix + key)
        if not self.direct and ksp.getType() != "preonly":
            ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)  # type: ignore[arg-type]
        ksp.setUp()
        self.matrix = matrix
        self.ksp = ksp

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        from petsc4py import PETSc

        ksp = self.ksp
        if self.distributed:
            b_norm = problem.b_norm()
            b = problem.b
        else:
            b_norm = float(np.linalg.norm(problem.b))
            b = self.matrix.createVecLeft()
            b.array[:] = problem.b
        threshold = max(rtol * b_norm, atol)
        max_it = 10000 if maxiter is None else int(maxiter)
        ksp.setTolerances(rtol=0.0, atol=threshold, max_it=max_it)
        if callback is not None:
            ksp.setMonitor(lambda k, its, norm: its > 0 and callback(k.buildSolution().array))

        x = self.matrix.createVecRight()
        if x0 is not None:
            x.array[:] = x0
        history: list[float] = []
        iterations = 0
        # preonly applies the preconditioner once (LU), so it cannot start from a guess.
        uses_guess = ksp.getType() != "preonly"
        for attempt in range(3 if uses_guess else 1):
            ksp.setInitialGuessNonzero(uses_guess and (x0 is not None or attempt > 0))
            ksp.setConvergenceHistory(length=max_it + 1, reset=True)
            ksp.solve(b, x)
            iterations += ksp.getIterationNumber()
            norms = list(ksp.getConvergenceHistory())
            history.extend(norms if not history else norms[1:])
            reason = ksp.getConvergedReason()
            true_norm = problem.residual_norm(x.array)
            if reason <= 0 or true_norm <= threshold or iterations >= max_it:
                break
            ksp.setTolerances(rtol=0.0, atol=threshold, max_it=max_it - iterations)
        ksp.cancelMonitor()

        solution = x.array.copy()
        # The last recorded norm is the recursively updated one, so report the true one.
        residuals = [norm / b_norm for norm in history]
        if residuals:
            residuals[-1] = true_norm / b_norm
        else:  # preonly (LU) records no norms
            initial = 1.0 if x0 is None else problem.residual_norm(x0) / b_norm
            residuals = [initial, true_norm / b_norm]
        message = _reason_name(PETSc, reason)
        info = {"ksp_type": ksp.getType(), "pc_type": ksp.getPC().getType(), "reason": message}
        if reason > 0:
            return MethodOutput(solution, 0, iterations, residuals, message, info)
        if reason == _DIVERGED_MAX_IT:
            return MethodOutput(solution, max(iterations, 1), iterations, residuals, message, info)
        return MethodOutput(solution, -1, iterations, residuals, f"KSP {message}", info)


def _reason_name(PETSc: Any, reason: int) -> str:
    reasons = PETSc.KSP.ConvergedReason
    for name in dir(reasons):
        if not name.startswith("_") and getattr(reasons, name) == reason:
            return name
    return f"reason {reason}"
