"""The result of a solve and the warnings and errors that report failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class NeurosolveWarning(UserWarning):
    """Base class of the package's warnings."""


class ConvergenceWarning(NeurosolveWarning):
    """A method stopped before it met the requested tolerance."""


class ConvergenceError(RuntimeError):
    """A method stopped before it met the requested tolerance and failure was asked to raise."""

    def __init__(self, message: str, result: SolveResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class SolveResult:
    """What one call of :func:`neurosolve.solve` produced.

    Attributes
    ----------
    x : ndarray
        The solution: a vector for linear problems, a field on the grid for operator
        problems, a time series of fields for wave problems, ``(horizon, channels)`` for
        forecasts.
    converged : bool
        Whether the stopping rule was met. For linear systems it is checked on the true
        residual ``||b - A x|| <= max(rtol * ||b||, atol)`` after the method returns.
    status : int
        scipy's convention: 0 converged, > 0 stopped at ``maxiter`` (the iteration count),
        < 0 breakdown or invalid input found during the iteration.
    iterations : int
        Iterations performed (0 for direct and one-shot methods).
    residuals : ndarray
        Relative residual norms ``||b - A x_k|| / ||b||``, the initial one first. Empty for
        problems without an assembled system.
    setup_seconds, solve_seconds : float
        Wall-clock time of the set-up phase (factorisation, hierarchy, model load) and of
        the solve phase, measured separately.
    method : str
        Registered name of the method.
    options : dict
        The method's options as given, plus ``rtol``, ``atol`` and ``maxiter``.
    message : str
        A short human-readable account of how the method stopped.
    checkpoint : str or None
        Path of the checkpoint a learned method used.
    info : dict
        Method-specific facts (fallback counts, iterations saved by a refine step, ...).
    """

    x: np.ndarray
    converged: bool
    status: int
    iterations: int
    residuals: np.ndarray
    setup_seconds: float
    solve_seconds: float
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    checkpoint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    problem: Any = field(default=None, repr=False)

    @property
    def final_residual(self) -> float:
        """Last relative residual norm, or NaN when none was recorded."""
        return float(self.residuals[-1]) if len(self.residuals) else float("nan")

    @property
    def total_seconds(self) -> float:
        return self.setup_seconds + self.solve_seconds
