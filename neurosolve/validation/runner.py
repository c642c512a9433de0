"""Run a suite: every catalogue problem against every applicable method, one stopping rule."""

from __future__ import annotations

import logging
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..solvers.api import solve
from ..solvers.problems import ForecastProblem, LinearProblem, OperatorProblem, WaveProblem
from ..solvers.registry import Method, registered_methods
from ..solvers.result import ConvergenceWarning
from . import metrics
from .catalogue import CATALOGUE, SUITES, Entry, MissingComponentError, Scenario

logger = logging.getLogger(__name__)

# Linear method used to finish a learned operator's prediction (the ``refine=`` variant).
REFINE_METHOD = "pcg-amg"


@dataclass
class CaseResult:
    """One method on one problem, with the shared metrics (NaN where not applicable)."""

    problem: str
    kind: str
    family: str
    size: int
    method: str
    outcome: str  # "ok", "not converged", "error", "known failure", "missing"
    converged: bool | None = None
    iterations: float = np.nan
    setup_seconds: float = np.nan
    solve_seconds: float = np.nan
    final_residual: float = np.nan
    relative_l2: float = np.nan
    relative_h1: float = np.nan
    mse: float = np.nan
    mae: float = np.nan
    message: str = ""
    residuals: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rollout_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def total_seconds(self) -> float:
        return self.setup_seconds + self.solve_seconds

    SCALARS = (
        "problem",
        "kind",
        "family",
        "size",
        "method",
        "outcome",
        "converged",
        "iterations",
        "setup_seconds",
        "solve_seconds",
        "final_residual",
        "relative_l2",
        "relative_h1",
        "mse",
        "mae",
        "message",
    )

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.SCALARS}


@dataclass
class SuiteRun:
    """Everything a suite produced: result rows and, per problem, what plots need."""

    suite: str
    rtol: float
    results: list[CaseResult] = field(default_factory=list)
    fields: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    seconds: float = 0.0


def applicable_methods(entry_kind: str, scenario: Scenario | None = None) -> list[type[Method]]:
    """Return the registered methods that accept a problem kind (and its grid, if needed)."""
    chosen = []
    for cls in registered_methods().values():
        if entry_kind not in cls.problem_kinds:
            continue
        problem = scenario.problem if scenario is not None else None
        if cls.requires_grid and problem is not None and getattr(problem, "geometry", None) is None:
            continue
        chosen.append(cls)
    return sorted(chosen, key=lambda cls: (cls.learned, cls.name))


def _variants(entry: Entry, scenario: Scenario) -> list[tuple[str, str, dict[str, Any]]]:
    """Return (label, method name, options) for every run of a problem."""
    methods = registered_methods()
    variants: list[tuple[str, str, dict[str, Any]]] = []
    for cls in applicable_methods(entry.kind, scenario):
        variants.append((cls.name, cls.name, {}))
        if entry.kind == "operator" and cls.learned and REFINE_METHOD in methods:
            variants.append((f"{cls.name}+{REFINE_METHOD}", cls.name, {"refine": REFINE_METHOD}))
    return variants


def _reference(scenario: Scenario, rtol: float) -> np.ndarray | None:
    if scenario.truth is not None:
        return scenario.truth
    if scenario.reference_method is None:
        return None
    problem = scenario.problem
    if (
        scenario.reference_method == "direct"
        and "direct" not in registered_methods()
        and isinstance(problem, LinearProblem)
    ):
        import scipy.sparse.linalg as spla

        return spla.spsolve(problem.A.tocsc(), problem.b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return solve(problem, scenario.reference_method, rtol=min(rtol, 1e-10)).x


def _measure(
    case: CaseResult, scenario: Scenario, method: str, options: dict, reference, rtol, maxiter
) -> np.ndarray | None:
    """Solve once and fill ``case``; return the field worth plotting, if any."""
    problem = scenario.problem
    if scenario.windows is not None:
        return _measure_forecast(case, scenario, method, options)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = solve(problem, method, rtol=rtol, maxiter=maxiter, **options)

    case.converged = bool(result.converged)
    case.outcome = "ok" if result.converged else "not converged"
    case.iterations = float(result.iterations)
    case.setup_seconds = result.setup_seconds
    case.solve_seconds = result.solve_seconds
    case.residuals = np.asarray(result.residuals, dtype=np.float64)
    case.final_residual = result.final_residual
    case.message = result.message or "; ".join(str(w.message) for w in caught)

    # The metrics against the reference, by problem kind.
    if reference is None:
        return None
    if isinstance(problem, LinearProblem):
        case.relative_l2 = metrics.relative_l2(result.x, reference)
        return None
    if isinstance(problem, OperatorProblem):
        spacing = problem.geometry.spacing
        case.relative_l2 = metrics.relative_l2(result.x, reference)
        case.relative_h1 = metrics.relative_h1(result.x, reference, spacing)
        return np.asarray(result.x)
    if isinstance(problem, WaveProblem):
        steps = min(len(result.x), len(reference))
        case.rollout_errors = metrics.rollout_errors(result.x[:steps], reference[:steps])
        case.relative_l2 = float(case.rollout_errors[-1])
        return np.asarray(result.x[steps - 1])
    return None


def _measure_forecast(
    case: CaseResult, scenario: Scenario, method: str, options: dict
) -> np.ndarray:
    first = scenario.problem
    if not isinstance(first, ForecastProblem) or scenario.windows is None or scenario.truth is None:
        raise TypeError("a forecast scenario needs a ForecastProblem, windows and truth")
    predictions = []
    case.setup_seconds = case.solve_seconds = 0.0
    for history in scenario.windows:
        problem = type(first)(history, horizon=first.horizon)
        result = solve(problem, method, **options)
        forecast = np.asarray(result.x, dtype=np.float64)
        predictions.append(scenario.standardize(forecast) if scenario.standardize else forecast)
        case.setup_seconds += result.setup_seconds
        case.solve_seconds += result.solve_seconds
    prediction = np.stack(predictions)
    case.mse = metrics.mse(prediction, scenario.truth)
    case.mae = metrics.mae(prediction, scenario.truth)
    case.converged = True
    case.outcome = "ok"
    case.iterations = 0.0
    case.message = f"{len(predictions)} test windows"
    return prediction[0]


def run_suite(
    suite: str | list[str],
    *,
    rtol: float = 1e-6,
    maxiter: int | None = None,
    methods: list[str] | None = None,
    progress: bool = True,
) -> SuiteRun:
    """Run the named suite (or a list of catalogue names) and collect the results.

    Parameters
    ----------
    suite : str or list of str
        A key of :data:`SUITES` or catalogue problem names.
    rtol : float
        Relative tolerance of every iterative method and refine step.
    maxiter : int, optional
        Iteration limit passed to every method.
    methods : list of str, optional
        Only run these methods (the reference is always computed).

    Notes
    -----
    A failing method does not stop the suite: it is recorded with outcome ``"error"``
    and its message. A problem whose constructor or data is missing is recorded once with
    outcome ``"missing"``.
    """
    if isinstance(suite, str):
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; valid suites are: {', '.join(SUITES)}")
        names, label = SUITES[suite], suite
    else:
        names, label = list(suite), "custom"
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        raise ValueError(
            f"unknown catalogue problems {unknown}; see neurosolve.validation.CATALOGUE"
        )

    run = SuiteRun(label, rtol)
    start = time.perf_counter()
    bar = tqdm(names, desc=f"validate {label}", disable=not progress)
    for name in bar:
        entry = CATALOGUE[name]
        bar.set_postfix_str(name)
        _run_entry(run, entry, rtol, maxiter, methods)
    run.seconds = time.perf_counter() - start
    return run


def _run_entry(run: SuiteRun, entry: Entry, rtol, maxiter, methods) -> None:
    try:
        scenario = entry.build()
        reference = _reference(scenario, rtol)
    except MissingComponentError as err:
        run.results.append(
            CaseResult(entry.name, entry.kind, "", 0, "-", "missing", message=str(err))
        )
        logger.warning("%s skipped: %s", entry.name, err)
        return
    plotted = run.fields.setdefault(entry.name, {})
    if reference is not None and entry.kind != "linear":
        # The last state of a rollout and the first forecast window are what the plots show.
        plotted["reference"] = np.asarray(reference[-1] if entry.kind == "wave" else reference)
        if entry.kind == "forecast" and scenario.windows is not None:
            plotted["reference"] = np.asarray(reference[0])
            history = np.asarray(scenario.windows[0])
            plotted["history"] = scenario.standardize(history) if scenario.standardize else history
    for label, method, options in _variants(entry, scenario):
        if methods is not None and method not in methods:
            continue
        case = CaseResult(entry.name, entry.kind, scenario.family, scenario.size, label, "error")
        if method in entry.known_failures:
            case.outcome = "known failure"
            case.message = entry.known_failures[method]
            run.results.append(case)
            continue
        try:
            prediction = _measure(case, scenario, method, options, reference, rtol, maxiter)
            if prediction is not None:
                plotted[label] = prediction
        except Exception as err:  # a failing method is a result, not a crash of the suite
            case.outcome = "error"
            case.message = f"{type(err).__name__}: {err}"
            logger.debug("%s on %s failed:\n%s", label, entry.name, traceback.format_exc())
        logger.info(
            "%s on %s: %s, %.3g s",
            label,
            entry.name,
            case.outcome,
            case.setup_seconds + case.solve_seconds,
        )
        run.results.append(case)
