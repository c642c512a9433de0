"""``direct``: sparse LU factorisation with scipy (SuperLU)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, splu

from .registry import Method, MethodOutput, register


@register
class Direct(Method):
    """Sparse LU factorisation (``scipy.sparse.linalg.splu``) followed by triangular solves.

    Options
    -------
    permc_spec : {"COLAMD", "MMD_AT_PLUS_A", "MMD_ATA", "NATURAL"}
        Column ordering of SuperLU (default ``"COLAMD"``, scipy's default).
    refinement_steps : int
        Maximum number of iterative-refinement steps ``x += LU \\ (b - A x)`` taken while
        the true residual is above the tolerance (default 2).

    Notes
    -----
    ``setup`` factorises, ``solve`` runs the triangular solves. A singular matrix gives
    ``status = -1``. ``x0``, ``maxiter`` and ``callback`` are ignored, and ``iterations``
    counts the refinement steps taken.
    """

    name = "direct"
    description = "sparse LU factorisation (scipy SuperLU)"
    iterative = False

    def __init__(self, *, permc_spec: str = "COLAMD", refinement_steps: int = 2) -> None:
        orderings = ("COLAMD", "MMD_AT_PLUS_A", "MMD_ATA", "NATURAL")
        if permc_spec not in orderings:
            raise ValueError(f"permc_spec must be one of {orderings}, got {permc_spec!r}")
        if int(refinement_steps) != refinement_steps or refinement_steps < 0:
            raise ValueError(
                f"refinement_steps must be a non-negative integer, got {refinement_steps}"
            )
        self.permc_spec = permc_spec
        self.refinement_steps = int(refinement_steps)
        self.factor: Any = None
        self.failure = ""

    def check(self, problem) -> None:
        if isinstance(problem.A, LinearOperator):
            raise ValueError(
                f"direct needs the entries of A, but problem {problem.name!r} gives A as a "
                f"LinearOperator; use 'cg' instead"
            )

    def setup(self, problem) -> None:
        try:
            self.factor = splu(sp.csc_matrix(problem.A), permc_spec=self.permc_spec)
        except RuntimeError as err:  # SuperLU reports an exactly singular matrix this way
            self.factor = None
            self.failure = f"factorisation failed: {err}"

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        b = problem.b
        b_norm = float(np.linalg.norm(b))
        if self.factor is None:
            return MethodOutput(np.zeros_like(b), -1, 0, [1.0], self.failure)
        threshold = max(rtol * b_norm, atol)
        x = self.factor.solve(b)
        residuals = [1.0]
        steps = 0
        residual = b - problem.matvec(x)
        while np.linalg.norm(residual) > threshold and steps < self.refinement_steps:
            x += self.factor.solve(residual)
            residual = b - problem.matvec(x)
            steps += 1
        residuals.append(float(np.linalg.norm(residual)) / b_norm)
        if not np.all(np.isfinite(x)):
            return MethodOutput(x, -1, steps, residuals, "solution is not finite: A is singular")
        return MethodOutput(x, 0, steps, residuals, "factorised", {"refinement_steps": steps})
