"""Forecasting methods: ``naive``, ``linear`` (DLinear) and ``olinear``.

The learned methods use the shipped ETTh1 weights (7 channels, lookback 96, horizons
96, 192, 336 and 720) when the history has 7 channels and the horizon is at most 720.
They take the first ``horizon`` steps of the shortest shipped horizon that covers it.
Otherwise, or when the weights are missing, they train a model on the history itself
with the same trainer. A user's own checkpoint from ``neurosolve train`` is passed as
``checkpoint=``. torch is imported only when a learned method runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .problems import ForecastProblem, Problem
from .registry import Method, MethodOutput, register

logger = logging.getLogger(__name__)

SHIPPED_HORIZONS = (96, 192, 336, 720)
SHIPPED_CHANNELS = 7


def _forecast_problem(problem: Problem) -> ForecastProblem:
    if not isinstance(problem, ForecastProblem):
        raise TypeError(f"expected a ForecastProblem, got {type(problem).__name__}")
    return problem


def _check_finite_history(problem: ForecastProblem) -> None:
    # ForecastProblem itself accepts NaN; problems.forecast is where gaps are handled.
    bad = int(np.size(problem.history) - np.count_nonzero(np.isfinite(problem.history)))
    if bad:
        raise ValueError(
            f"history contains {bad} NaN or infinite entries; build the problem with "
            f"problems.forecast(history, horizon, nan='interpolate') to fill NaN gaps"
        )


@register
class Naive(Method):
    """Repeat the last value, or with ``period`` the last full period.

    Parameters
    ----------
    period : int, optional
        Season length in steps. Step ``h`` (from 0) of the forecast is then
        ``history[T - period + h % period]``.
    """

    name = "naive"
    description = "last value (or last season with period=) repeated over the horizon"
    problem_kinds = frozenset({"forecast"})
    iterative = False

    def __init__(self, *, period: int | None = None) -> None:
        if period is not None and (isinstance(period, bool) or int(period) != period or period < 1):
            raise ValueError(f"period must be a positive integer or None, got {period!r}")
        self.period = None if period is None else int(period)

    def check(self, problem: Problem) -> None:
        problem = _forecast_problem(problem)
        _check_finite_history(problem)
        if self.period is not None and problem.history.shape[0] < self.period:
            raise ValueError(
                f"naive with period={self.period} needs at least {self.period} steps of "
                f"history, got {problem.history.shape[0]}"
            )

    def solve(self, problem: Problem, **_: Any) -> MethodOutput:
        problem = _forecast_problem(problem)
        history = problem.history
        if self.period is None:
            x = np.repeat(history[-1:], problem.horizon, axis=0)
        else:
            steps = history.shape[0] - self.period + np.arange(problem.horizon) % self.period
            x = history[steps]
        return MethodOutput(x=x, status=0, iterations=0, message="naive forecast")


class LearnedForecaster(Method):
    """Common part of ``olinear`` and ``linear``; see the module docstring.

    Parameters
    ----------
    checkpoint : str or path, optional
        A checkpoint written by ``neurosolve train olinear|linear``.
    seq_len : int
        Lookback of a model trained on the history (when no weights apply).
    epochs : int
        Epochs of that training.
    seed : int
        Seed of that training.
    """

    problem_kinds = frozenset({"forecast"})
    learned = True
    iterative = False
    method_key = ""

    def __init__(
        self,
        *,
        checkpoint: str | Path | None = None,
        seq_len: int = 96,
        epochs: int = 5,
        seed: int = 0,
    ) -> None:
        if int(seq_len) != seq_len or seq_len < 1:
            raise ValueError(f"seq_len must be a positive integer, got {seq_len!r}")
        if int(epochs) != epochs or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        self.checkpoint = checkpoint
        self.seq_len = int(seq_len)
        self.epochs = int(epochs)
        self.seed = seed
        self.model: Any = None
        self.scaler: Any = None
        self.info: dict[str, Any] = {}

    def check(self, problem: Problem) -> None:
        _check_finite_history(_forecast_problem(problem))

    def _shipped_checkpoint(self, problem: ForecastProblem) -> Path | None:
        from ..sciml.checkpoints import WEIGHTS_DIR

        if problem.history.shape[1] != SHIPPED_CHANNELS:
            return None
        for horizon in SHIPPED_HORIZONS:
            path = WEIGHTS_DIR / f"{self.method_key}-etth1-{horizon}.pt"
            if horizon >= problem.horizon and path.is_file():
                return path
        return None

    def setup(self, problem: Problem) -> None:
        from ..data.timeseries import Standardizer
        from ..sciml.checkpoints import load_model

        problem = _forecast_problem(problem)
        path = Path(self.checkpoint) if self.checkpoint is not None else None
        if path is None:
            path = self._shipped_checkpoint(problem)
        if path is None:
            self._fit(problem)
            return
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {str(path)!r} not found")
        from ..sciml import dlinear, olinear  # noqa: F401  (registers the model classes)

        self.model, payload = load_model(path)
        args = payload["model_args"]
        history = problem.history
        if args["channels"] != history.shape[1]:
            raise ValueError(
                f"checkpoint {path} was trained on {args['channels']} channels, the history "
                f"has {history.shape[1]}; train a model on this data with "
                f"`neurosolve train {self.method_key} --csv FILE`"
            )
        if history.shape[0] < args["seq_len"]:
            raise ValueError(
                f"history has {history.shape[0]} steps, fewer than the model's lookback "
                f"seq_len={args['seq_len']}"
            )
        if problem.horizon > args["pred_len"]:
            raise ValueError(
                f"horizon {problem.horizon} exceeds the checkpoint's pred_len "
                f"{args['pred_len']}; train one with --pred-len {problem.horizon}"
            )
        scaler = payload.get("normalizers", {}).get("scaler")
        self.scaler = Standardizer.from_state(scaler) if scaler else None
        self.info = {"checkpoint": str(path), "fitted_on_history": False}

    def _fit(self, problem: ForecastProblem) -> None:
        from ..data.timeseries import Standardizer, WindowDataset, check_length
        from ..sciml.train_forecast import SMALL_OLINEAR, train_forecaster

        history = problem.history
        check_length(
            history.shape[0], self.seq_len, problem.horizon,
            name=f"history for training {self.name} (no shipped weights apply)",
        )
        self.scaler = Standardizer.fit(history, name="history")
        windows = WindowDataset(self.scaler.transform(history), self.seq_len, problem.horizon)
        logger.info(
            "%s: training on the history (%d windows, %d epochs)",
            self.name, len(windows), self.epochs,
        )
        run = train_forecaster(
            self.method_key, windows, epochs=self.epochs, seed=self.seed,
            train_series=history,
            model_args=SMALL_OLINEAR if self.method_key == "olinear" else {},
        )
        self.model = run.model
        self.info = {
            "checkpoint": None, "fitted_on_history": True, "epochs": self.epochs,
            "train_seconds": run.train_seconds, "train_loss": run.history[-1]["train_loss"],
        }

    def solve(self, problem: Problem, **_: Any) -> MethodOutput:
        import torch

        problem = _forecast_problem(problem)
        seq_len = self.model.seq_len
        window = problem.history[-seq_len:]
        if self.scaler is not None:
            window = self.scaler.transform(window)
        with torch.no_grad():
            inputs = torch.as_tensor(window, dtype=torch.float32)[None]
            out = self.model(inputs)[0, : problem.horizon].double().numpy()
        if self.scaler is not None:
            out = self.scaler.inverse(out)
        source = self.info.get("checkpoint") or "a model trained on the history"
        return MethodOutput(
            x=out, status=0, iterations=0, message=f"forecast from {source}",
            info=dict(self.info), checkpoint=self.info.get("checkpoint"),
        )


@register
class OLinearMethod(LearnedForecaster):
    __doc__ = "OLinear forecaster (Yue et al., 2025).\n" + (LearnedForecaster.__doc__ or "")
    name = "olinear"
    description = "OLinear: OrthoTrans bases and NormLin channel mixing (Yue et al., 2025)"
    method_key = "olinear"


@register
class LinearMethod(LearnedForecaster):
    __doc__ = "DLinear-style baseline (Zeng et al., 2023).\n" + (LearnedForecaster.__doc__ or "")
    name = "linear"
    description = "DLinear: moving-average decomposition and linear maps (Zeng et al., 2023)"
    method_key = "linear"
