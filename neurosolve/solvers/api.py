"""The front door: :func:`solve`."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from .problems import LinearProblem, OperatorProblem, Problem
from .registry import Method, MethodOutput, get_method
from .result import ConvergenceError, ConvergenceWarning, SolveResult

logger = logging.getLogger(__name__)

MethodSpec = str | type[Method] | tuple[str, dict[str, Any]]


def stopping_threshold(b_norm: float, rtol: float, atol: float) -> float:
    """Return the residual norm below which a linear solve counts as converged."""
    return max(rtol * b_norm, atol)


def resolve_method(method: MethodSpec, options: dict[str, Any]) -> tuple[type[Method], dict]:
    """Turn a method name, class or ``(name, options)`` pair into a class and its options."""
    if isinstance(method, tuple):
        if len(method) != 2 or not isinstance(method[1], dict):
            raise TypeError(f"a method pair must be (name, {{options}}), got {method!r}")
        name, pair_options = method
        return resolve_method(name, {**pair_options, **options})
    if isinstance(method, type) and issubclass(method, Method):
        return method, options
    if isinstance(method, str):
        return get_method(method), options
    raise TypeError(
        f"method must be a registered name, a Method subclass or a (name, options) pair, "
        f"got {type(method).__name__}"
    )


def _is_symmetric(A: Any) -> bool | None:
    if isinstance(A, LinearOperator):
        return None
    if sp.issparse(A):
        diff = (A - A.T).tocoo()
        scale = abs(A).max() if A.nnz else 0.0
        return bool(diff.nnz == 0 or abs(diff.data).max() <= 1e-12 * max(scale, 1e-300))
    A = np.asarray(A)
    return bool(np.allclose(A, A.T, rtol=0.0, atol=1e-12 * max(np.abs(A).max(), 1e-300)))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _check_applicable(cls: type[Method], problem: Problem) -> None:
    if getattr(problem, "distributed", False) and not cls.supports_distributed:
        ranks = problem.comm.size  # type: ignore[attr-defined]
        raise ValueError(
            f"method {cls.name!r} cannot solve a problem distributed over {ranks} MPI ranks; "
            f"use method='petsc', or build the problem with comm=MPI.COMM_SELF on each rank"
        )
    if problem.kind not in cls.problem_kinds:
        kinds = ", ".join(sorted(cls.problem_kinds))
        raise ValueError(
            f"method {cls.name!r} does not apply to {_article(problem.kind)} {problem.kind} "
            f"problem "
            f"({type(problem).__name__} {problem.name!r}); it accepts: {kinds}"
        )
    if cls.requires_grid and getattr(problem, "geometry", None) is None:
        raise ValueError(
            f"method {cls.name!r} needs a problem on a structured grid, but "
            f"{problem.name!r} has no grid geometry; build it with problems.poisson(shape=...)"
        )
    if cls.requires_spd and isinstance(problem, LinearProblem) and problem.spd is not True:
        if _is_symmetric(problem.A) is False:
            raise ValueError(
                f"method {cls.name!r} requires a symmetric positive definite matrix, but A of "
                f"{problem.name!r} is not symmetric; use 'direct', or 'petsc' with "
                f"petsc_options={{'ksp_type': 'gmres'}}"
            )


def _check_tolerances(rtol: Any, atol: Any, maxiter: Any) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    if maxiter is None:
        return
    if isinstance(maxiter, bool) or not isinstance(maxiter, int | np.integer) or maxiter < 1:
        raise ValueError(f"maxiter must be a positive integer or None, got {maxiter!r}")


def _check_x0(x0: Any, problem: LinearProblem) -> np.ndarray | None:
    if x0 is None:
        return None
    x0 = np.array(x0, dtype=np.float64, copy=True)
    if x0.shape != (problem.n,):
        raise ValueError(f"x0 has shape {x0.shape}, expected ({problem.n},)")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 contains NaN or infinite entries")
    return x0


def solve(
    problem: Problem,
    method: MethodSpec = "dcdm",
    *,
    x0: np.ndarray | None = None,
    rtol: float = 1e-6,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Any = None,
    raise_on_failure: bool = False,
    **options: Any,
) -> SolveResult:
    """Solve a problem with a registered method.

    Parameters
    ----------
    problem : LinearProblem, OperatorProblem, WaveProblem or ForecastProblem
        The problem, usually built by a constructor in :mod:`neurosolve.problems`.
    method : str, Method subclass or (str, dict)
        A name from :func:`neurosolve.list_methods`, a class, or a name with options.
    x0 : ndarray, optional
        Initial guess for iterative linear methods. It is copied, never modified.
    rtol, atol : float
        Tolerances of the stopping rule ``||b - A x|| <= max(rtol * ||b||, atol)``,
        evaluated on the true residual.
    maxiter : int, optional
        Maximum number of iterations; each method documents its default.
    M : sparse matrix, ndarray or LinearOperator, optional
        Preconditioner approximating ``inv(A)``, for Krylov methods that accept one.
    callback : callable, optional
        Called as ``callback(xk)`` after each iteration of an iterative method.
    raise_on_failure : bool
        Raise :class:`ConvergenceError` instead of warning when the tolerance is missed.
    **options
        Method-specific options; unknown names raise ``TypeError`` listing the valid ones.

    Returns
    -------
    SolveResult

    Raises
    ------
    ValueError
        Unknown method, method not applicable to the problem, invalid tolerances or ``x0``.
    TypeError
        Unknown option for the method.
    ConvergenceError
        With ``raise_on_failure=True``, when the tolerance is not met.

    Warns
    -----
    ConvergenceWarning
        When the tolerance is not met.

    Notes
    -----
    For linear problems the front door recomputes ``||b - A x||`` from the returned ``x``
    and sets ``converged`` from it, whatever the method reported. A zero right-hand side
    returns ``x = 0`` at iteration 0.
    """
    cls, method_options = resolve_method(method, options)
    _check_applicable(cls, problem)
    _check_tolerances(rtol, atol, maxiter)
    if M is not None and not cls.accepts_preconditioner:
        raise ValueError(f"method {cls.name!r} takes no preconditioner M")

    try:
        instance = cls(**method_options)
    except TypeError as err:
        valid = ", ".join(cls.option_names()) or "none"
        raise TypeError(
            f"invalid options for method {cls.name!r}: {err}; valid options are: {valid}"
        ) from err
    instance.check(problem)

    recorded = {**method_options, "rtol": rtol, "atol": atol, "maxiter": maxiter}
    x0_checked = _check_x0(x0, problem) if isinstance(problem, LinearProblem) else x0

    if isinstance(problem, LinearProblem) and not np.any(problem.b):
        return SolveResult(
            x=np.zeros(problem.n), converged=True, status=0, iterations=0,
            residuals=np.zeros(1), setup_seconds=0.0, solve_seconds=0.0, method=cls.name,
            options=recorded, message="zero right-hand side: x = 0", problem=problem,
        )
    # A PDE whose assembled right-hand side is zero (no source, zero boundary values) has
    # the solution zero, whatever the method; its relative residual is undefined.
    system = problem.linear_problem if isinstance(problem, OperatorProblem) else None
    if isinstance(problem, OperatorProblem) and system is not None and not np.any(system.b):
        return SolveResult(
            x=np.zeros(problem.geometry.shape), converged=True, status=0, iterations=0,
            residuals=np.zeros(1), setup_seconds=0.0, solve_seconds=0.0, method=cls.name,
            options=recorded, message="zero right-hand side: u = 0", problem=problem,
        )

    logger.debug("solving %s with %s", problem.name, cls.name)
    start = time.perf_counter()
    instance.setup(problem)
    setup_seconds = time.perf_counter() - start

    start = time.perf_counter()
    output = instance.solve(
        problem, x0=x0_checked, rtol=rtol, atol=atol, maxiter=maxiter, M=M, callback=callback
    )
    solve_seconds = time.perf_counter() - start

    result = _finish(problem, cls, output, rtol, atol, recorded, x0_checked)
    result.setup_seconds = setup_seconds
    result.solve_seconds = solve_seconds
    if not result.converged:
        text = (
            f"{cls.name} did not converge on {problem.name!r}: {result.message} "
            f"(status {result.status}, {result.iterations} iterations, "
            f"relative residual {result.final_residual:.3g}, rtol {rtol:g})"
        )
        if raise_on_failure:
            raise ConvergenceError(text, result)
        warnings.warn(text, ConvergenceWarning, stacklevel=2)
    return result


def _finish(
    problem: Problem,
    cls: type[Method],
    output: MethodOutput,
    rtol: float,
    atol: float,
    recorded: dict[str, Any],
    x0: Any = None,
) -> SolveResult:
    residuals = np.asarray(output.residuals, dtype=np.float64)
    status = output.status
    message = output.message
    if isinstance(problem, LinearProblem):
        b_norm = float(np.linalg.norm(problem.b))
        final = problem.residual_norm(output.x)
        converged = bool(np.isfinite(final) and final <= stopping_threshold(b_norm, rtol, atol))
        relative = final / b_norm
        if residuals.size == 0:
            initial = 1.0 if x0 is None else problem.residual_norm(x0) / b_norm
            residuals = np.array([initial, relative])
        elif not np.isclose(residuals[-1], relative, rtol=1e-6, atol=0.0):
            residuals = np.append(residuals, relative)
        if status == 0 and not converged:
            status = max(output.iterations, 1)
            message = (message + "; " if message else "") + "true residual above tolerance"
    elif getattr(problem, "distributed", False):
        b_norm = problem.b_norm()  # type: ignore[attr-defined]
        final = problem.residual_norm(output.x)  # type: ignore[attr-defined]
        converged = bool(np.isfinite(final) and final <= stopping_threshold(b_norm, rtol, atol))
        if status == 0 and not converged:
            status = max(output.iterations, 1)
            message = (message + "; " if message else "") + "true residual above tolerance"
    else:
        converged = status == 0
    return SolveResult(
        x=output.x, converged=converged, status=status, iterations=output.iterations,
        residuals=residuals, setup_seconds=0.0, solve_seconds=0.0, method=cls.name,
        options=recorded, message=message, checkpoint=output.checkpoint, info=output.info,
        problem=problem,
    )
