"""Compare a suite's results with an earlier run and list what got better or worse."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Relative change beyond which a metric counts as changed; timings are noisy, so looser.
THRESHOLDS = {
    "iterations": 0.10,
    "solve_seconds": 0.25,
    "final_residual": 0.50,
    "relative_l2": 0.10,
    "relative_h1": 0.10,
    "mse": 0.05,
    "mae": 0.05,
}


@dataclass
class Change:
    problem: str
    method: str
    metric: str
    before: float | str
    after: float | str
    verdict: str  # "better" or "worse"

    def describe(self) -> str:
        return (
            f"{self.verdict:>6}  {self.problem} / {self.method}: {self.metric} "
            f"{_format(self.before)} -> {_format(self.after)}"
        )


def _format(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def compare_results(before: pd.DataFrame, after: pd.DataFrame) -> list[Change]:
    """Return the changes between two result tables, matched on (problem, method).

    Lower is better for every metric in :data:`THRESHOLDS`; a change counts when it exceeds
    the metric's relative threshold. A method that converged before and does not now, or
    whose outcome turned to ``"error"``, is always worse.
    """
    changes: list[Change] = []
    earlier = {(row.problem, row.method): row for row in before.itertuples(index=False)}
    for row in after.itertuples(index=False):
        old = earlier.get((row.problem, row.method))
        if old is None:
            continue
        if old.outcome != row.outcome:
            verdict = "better" if row.outcome == "ok" else "worse"
            changes.append(
                Change(row.problem, row.method, "outcome", old.outcome, row.outcome, verdict)
            )
        for metric, threshold in THRESHOLDS.items():
            a, b = float(getattr(old, metric)), float(getattr(row, metric))
            if not (np.isfinite(a) and np.isfinite(b)) or a == b:
                continue
            scale = max(abs(a), 1e-300)
            if abs(b - a) / scale <= threshold:
                continue
            changes.append(
                Change(row.problem, row.method, metric, a, b, "worse" if b > a else "better")
            )
    return changes
