"""PNG plots of a suite run, drawn on ``matplotlib.figure.Figure`` so no backend is switched."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .runner import CaseResult, SuiteRun


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    figure.savefig(tmp, dpi=110, bbox_inches="tight")
    tmp.replace(path)
    return path


def convergence_plot(problem: str, cases: list[CaseResult], path: Path) -> Path | None:
    """Relative residual against iteration, one line per method."""
    cases = [c for c in cases if c.residuals.size > 1]
    if not cases:
        return None
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.subplots()
    for case in cases:
        axes.semilogy(np.arange(case.residuals.size), case.residuals, marker=".", label=case.method)
    axes.set_xlabel("iteration")
    axes.set_ylabel("relative residual ||b - Ax|| / ||b||")
    axes.set_title(problem)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return _save(figure, path)


def scaling_plot(family: str, cases: list[CaseResult], path: Path) -> Path | None:
    """Time and iterations (linear) or error (fields) against grid size, on log-log axes."""
    by_method: dict[str, list[CaseResult]] = defaultdict(list)
    for case in cases:
        if case.outcome in ("ok", "not converged"):
            by_method[case.method].append(case)
    sizes = {case.size for case in cases}
    if len(sizes) < 2:
        return None
    linear = cases[0].kind == "linear"
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    for method, items in sorted(by_method.items()):
        items = sorted(items, key=lambda c: c.size)
        size = [c.size for c in items]
        if linear:
            left.loglog(size, [c.total_seconds for c in items], marker="o", label=method)
            right.loglog(size, [max(c.iterations, 1) for c in items], marker="o", label=method)
        else:
            left.loglog(size, [c.relative_l2 for c in items], marker="o", label=method)
            right.loglog(size, [c.total_seconds for c in items], marker="o", label=method)
    left.set_ylabel("setup + solve seconds" if linear else "relative L2 error")
    right.set_ylabel("iterations" if linear else "setup + solve seconds")
    for axes in (left, right):
        axes.set_xlabel("grid points per axis")
        axes.grid(True, which="both", alpha=0.3)
    left.set_title(family)
    right.legend(fontsize="small")
    return _save(figure, path)


def field_plot(problem: str, kept: dict[str, np.ndarray], path: Path) -> Path | None:
    """Predicted and reference fields with their difference, one row per method."""
    reference = kept.get("reference")
    predictions = {k: v for k, v in kept.items() if k not in ("reference", "history")}
    if reference is None or reference.ndim != 2 or not predictions:
        return None
    figure = Figure(figsize=(9, 2.8 * len(predictions)))
    grid = figure.subplots(len(predictions), 3, squeeze=False)
    low, high = float(reference.min()), float(reference.max())
    for row, (label, prediction) in zip(grid, sorted(predictions.items()), strict=True):
        for axes, data, title in (
            (row[0], prediction, f"{label}"),
            (row[1], reference, "reference"),
            (row[2], prediction - reference, "difference"),
        ):
            limits = {} if title == "difference" else {"vmin": low, "vmax": high}
            image = axes.imshow(data, origin="lower", cmap="viridis", **limits)
            axes.set_title(title, fontsize="small")
            axes.set_xticks([])
            axes.set_yticks([])
            figure.colorbar(image, ax=axes, fraction=0.046)
    figure.suptitle(problem)
    return _save(figure, path)


def rollout_plot(problem: str, cases: list[CaseResult], path: Path) -> Path | None:
    """Relative L2 error of each rollout step against the finite-element reference."""
    cases = [c for c in cases if c.rollout_errors.size > 1]
    if not cases:
        return None
    figure = Figure(figsize=(6.4, 4.2))
    axes = figure.subplots()
    for case in cases:
        axes.semilogy(
            np.arange(case.rollout_errors.size), case.rollout_errors + 1e-16, label=case.method
        )
    axes.set_xlabel("time step")
    axes.set_ylabel("relative L2 error")
    axes.set_title(problem)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    return _save(figure, path)


def forecast_plot(problem: str, kept: dict[str, np.ndarray], path: Path) -> Path | None:
    """History, truth and each method's forecast of the last channel, first test window."""
    truth, history = kept.get("reference"), kept.get("history")
    forecasts = {k: v for k, v in kept.items() if k not in ("reference", "history")}
    if truth is None or history is None or not forecasts:
        return None
    figure = Figure(figsize=(8, 3.6))
    axes = figure.subplots()
    past = np.arange(-history.shape[0], 0)
    future = np.arange(truth.shape[0])
    axes.plot(past, history[:, -1], color="black", label="history")
    axes.plot(future, truth[:, -1], color="black", linestyle="--", label="truth")
    for label, forecast in sorted(forecasts.items()):
        axes.plot(future, forecast[:, -1], label=label)
    axes.set_xlabel("step (0 = first forecast step)")
    axes.set_ylabel("last channel, standardised")
    axes.set_title(problem)
    axes.legend(fontsize="small")
    return _save(figure, path)


def write_plots(run: SuiteRun, folder: Path) -> dict[str, Path]:
    """Draw every plot the run's results support; return them keyed by a short name."""
    by_problem: dict[str, list[CaseResult]] = defaultdict(list)
    by_family: dict[str, list[CaseResult]] = defaultdict(list)
    for case in run.results:
        by_problem[case.problem].append(case)
        if case.family:
            by_family[case.family].append(case)

    written: dict[str, Path | None] = {}
    for problem, cases in by_problem.items():
        kind = cases[0].kind
        if kind == "linear":
            written[f"convergence-{problem}"] = convergence_plot(
                problem, cases, folder / f"convergence-{problem}.png"
            )
        elif kind == "operator":
            written[f"fields-{problem}"] = field_plot(
                problem, run.fields.get(problem, {}), folder / f"fields-{problem}.png"
            )
        elif kind == "wave":
            written[f"rollout-{problem}"] = rollout_plot(
                problem, cases, folder / f"rollout-{problem}.png"
            )
            written[f"fields-{problem}"] = field_plot(
                problem, run.fields.get(problem, {}), folder / f"fields-{problem}.png"
            )
        elif kind == "forecast":
            written[f"forecast-{problem}"] = forecast_plot(
                problem, run.fields.get(problem, {}), folder / f"forecast-{problem}.png"
            )
    for family, cases in by_family.items():
        written[f"scaling-{family}"] = scaling_plot(family, cases, folder / f"scaling-{family}.png")
    return {key: path for key, path in written.items() if path is not None}
