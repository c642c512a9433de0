"""Named problems of the validation suites.

A :class:`Scenario` is one problem with what its results are measured against: a
reference method (``direct`` for linear systems, ``fem`` for fields and rollouts) or known
truth (the future of a time series). :data:`CATALOGUE` maps names to entries that build
scenarios on demand, so a suite only pays for what it runs, and an entry whose constructor
is not available reports itself as missing instead of failing the suite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import problems
from ..solvers.problems import Problem


class MissingComponentError(RuntimeError):
    """A constructor, method or data file that a catalogue entry needs is not available."""


@dataclass
class Scenario:
    """A built problem and the reference its results are measured against.

    Attributes
    ----------
    problem : Problem
    reference_method : str or None
        Method whose answer the others are compared with (None when ``truth`` is given).
    truth : ndarray, optional
        Known answer, for forecasts: ``(windows, horizon, channels)``.
    windows : ndarray, optional
        Forecast histories ``(windows, time, channels)``, each solved as its own problem;
        ``problem`` is the first of them.
    standardize : callable, optional
        Maps a forecast to the space of ``truth`` before the metrics are taken.
    size : int
        Grid points per axis (or series length), for plots against size.
    family : str
        Problems of one family differ only in size and are plotted together.
    """

    problem: Problem
    reference_method: str | None = None
    truth: np.ndarray | None = None
    windows: np.ndarray | None = None
    standardize: Callable[[np.ndarray], np.ndarray] | None = None
    size: int = 0
    family: str = ""


@dataclass(frozen=True)
class Entry:
    """A named catalogue problem.

    Attributes
    ----------
    name : str
    kind : str
        The problem kind, so a suite can list applicable methods before building.
    build : callable
        ``build() -> Scenario``; raises :class:`MissingComponentError` when something it needs is
        not available.
    known_failures : dict of str to str
        Methods known to fail on this problem, each with the reason. They are still
        listed in the results, marked as known failures, and not run.
    """

    name: str
    kind: str
    build: Callable[[], Scenario]
    known_failures: dict[str, str] = field(default_factory=dict)


def reference_data_folder() -> Path:
    """Return the folder of third-party reference data (ETTh1, neuraloperator's Darcy set).

    ``NEUROSOLVE_REFERENCE_DATA`` overrides the default, ``../shared/data`` beside the
    current working directory.
    """
    return Path(os.environ.get("NEUROSOLVE_REFERENCE_DATA", Path.cwd().parent / "shared" / "data"))


def _constructor(name: str) -> Callable[..., Any]:
    try:
        return getattr(problems, name)
    except (AttributeError, ImportError) as err:
        raise MissingComponentError(f"problems.{name} is not available: {err}") from err


# SuperLU's fill-in grows fast on 3D grids: at 64^3 the `direct` method took 430-560 s and
# the linear-large suite peaked at 13.9 GB (docs/validation.md). Those grids are measured
# against pcg-amg at rtol 1e-10 instead (the runner tightens the reference tolerance to that).
DIRECT_REFERENCE_MAX_3D = 32


def _poisson(shape: tuple[int, ...], family: str, **kwargs: Any) -> Callable[[], Scenario]:
    reference = "pcg-amg" if len(shape) == 3 and shape[0] > DIRECT_REFERENCE_MAX_3D else "direct"

    def build() -> Scenario:
        problem = _constructor("poisson")(shape=shape, **kwargs)
        return Scenario(problem, reference_method=reference, size=shape[0], family=family)

    return build


def _pyamg_example(name: str) -> Callable[[], Scenario]:
    def build() -> Scenario:
        problem = _constructor("from_pyamg_example")(name)
        return Scenario(problem, reference_method="direct", size=problem.n, family="pyamg")

    return build


def _darcy_coefficient(n: int, seed: int) -> np.ndarray:
    """Return a Darcy coefficient: 12 where a Gaussian random field is positive, else 3."""
    try:
        from ..data.random_fields import gaussian_random_field, threshold_coefficient
    except ImportError as err:
        raise MissingComponentError(
            f"neurosolve.data.random_fields is not available: {err}"
        ) from err
    return threshold_coefficient(gaussian_random_field((n, n), np.random.default_rng(seed)))


def _darcy(n: int, seed: int) -> Callable[[], Scenario]:
    def build() -> Scenario:
        problem = _constructor("darcy")(coefficient=_darcy_coefficient(n, seed))
        return Scenario(problem, reference_method="fem", size=n, family="darcy")

    return build


def _wave(n: int, steps: int, seed: int) -> Callable[[], Scenario]:
    def build() -> Scenario:
        rng = np.random.default_rng(seed)
        y, x = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
        cx, cy = rng.uniform(0.3, 0.7, size=2)
        initial = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 0.05**2))
        speed = np.where(y > rng.uniform(0.4, 0.6), 1.0, 0.7)
        dt = 0.25 / (n - 1)  # a quarter of the grid spacing over the top speed 1.0
        problem = _constructor("wave")(initial=initial, speed=speed, dt=dt, steps=steps)
        return Scenario(problem, reference_method="fem", size=n, family="wave")

    return build


def _etth1(horizon: int, seq_len: int = 96, stride: int = 96) -> Callable[[], Scenario]:
    """Every ``stride``-th window of the ETTh1 test split, as one scenario.

    Histories are in the data's own units, as a user would pass them. Forecasts and truth
    are compared after standardising with the training split's statistics, because that is
    how the field reports MSE and MAE.
    """

    def build() -> Scenario:
        path = reference_data_folder() / "ett" / "ETTh1.csv"
        if not path.is_file():
            raise MissingComponentError(
                f"ETTh1 not found at {path}; set NEUROSOLVE_REFERENCE_DATA to the folder "
                f"holding ett/ETTh1.csv"
            )
        try:
            from ..data.timeseries import load_forecast_csv
        except ImportError as err:
            raise MissingComponentError(
                f"neurosolve.data.timeseries is not available: {err}"
            ) from err
        data = load_forecast_csv(path, seq_len, horizon, split="ett")
        test = data.dataset("test", seq_len, horizon)
        picked = range(0, len(test), stride)
        history = np.stack([data.scaler.inverse(test[i]["x"].astype(np.float64)) for i in picked])
        truth = np.stack([test[i]["y"].astype(np.float64) for i in picked])
        problem = _constructor("forecast")(history[0], horizon=horizon)
        problem.provenance.update(
            {"dataset": "ETTh1", "windows": len(history), "stride": stride, "seq_len": seq_len}
        )
        return Scenario(
            problem,
            truth=truth,
            windows=history,
            size=horizon,
            family="etth1",
            standardize=data.scaler.transform,
        )

    return build


# The receptive field of the plain DCDM network covers a few cells around each point, so the
# outer iteration is left with the low-frequency error and its iteration count grows 2-4x per
# doubling of the grid side. Measured in docs/dcdm.md: no convergence within 200 iterations
# at 512^2 or 40 at 64^3, at about 2 s per network call at 64^3.
DCDM_LARGE_GRID = {
    "dcdm": "iterations grow 2-4x per grid doubling; no convergence in 200 iterations at "
    "512^2 or 40 at 64^3 (docs/dcdm.md); use dcdm-mg"
}


# The dense FNO is the parameter-count yardstick for the factorised operators; its Darcy
# checkpoint (9.5 MB) is not shipped, so it runs only with a user's checkpoint=.
FNO_UNSHIPPED = {
    "fno": "no shipped weights (the dense FNO checkpoint is 9.5 MB); train it with "
    "`neurosolve train fno` and pass checkpoint=",
}


def _entries() -> list[Entry]:
    entries = []
    for n in (16, 32, 64, 128, 256, 512):
        failures = DCDM_LARGE_GRID if n >= 512 else {}
        entries.append(Entry(f"poisson2d-{n}", "linear", _poisson((n, n), "poisson2d"), failures))
        entries.append(
            Entry(
                f"poisson2d-obstacles-{n}",
                "linear",
                _poisson((n, n), "poisson2d-obstacles", obstacles=4, seed=0),
                failures,
            )
        )
    for n in (8, 16, 32, 64):
        failures = DCDM_LARGE_GRID if n >= 64 else {}
        entries.append(
            Entry(f"poisson3d-{n}", "linear", _poisson((n, n, n), "poisson3d"), failures)
        )
        entries.append(
            Entry(
                f"poisson3d-obstacles-{n}",
                "linear",
                _poisson((n, n, n), "poisson3d-obstacles", obstacles=3, seed=0),
                failures,
            )
        )
    for n in (32, 128):
        field_ = np.linspace(1.0, 10.0, n)[None, :] * np.ones((n, 1))
        entries.append(
            Entry(
                f"poisson2d-variable-{n}",
                "linear",
                _poisson((n, n), "poisson2d-variable", coefficient=field_),
            )
        )
    for name in ("airfoil", "bar"):
        entries.append(Entry(f"pyamg-{name}", "linear", _pyamg_example(name)))
    for n in (32, 64, 128):
        for seed in (0, 1):
            entries.append(
                Entry(f"darcy-{n}-s{seed}", "operator", _darcy(n, 1000 + seed), FNO_UNSHIPPED)
            )
    for n, steps in ((32, 10), (64, 20), (64, 50)):
        entries.append(Entry(f"wave-{n}-{steps}", "wave", _wave(n, steps, seed=7)))
    for horizon in (96, 192, 336, 720):
        entries.append(Entry(f"etth1-{horizon}", "forecast", _etth1(horizon)))
    return entries


CATALOGUE: dict[str, Entry] = {entry.name: entry for entry in _entries()}

SUITES: dict[str, list[str]] = {
    "quick": [
        "poisson2d-obstacles-64",
        "poisson3d-16",
        "poisson2d-variable-32",
        "pyamg-airfoil",
        "darcy-64-s0",
        "wave-64-20",
        "etth1-96",
    ],
    "smoke": ["poisson2d-obstacles-16", "poisson3d-8", "darcy-64-s0", "wave-32-10", "etth1-96"],
    "linear": [
        *(f"poisson2d-{n}" for n in (64, 128, 256)),
        *(f"poisson2d-obstacles-{n}" for n in (64, 128, 256)),
        *(f"poisson3d-{n}" for n in (16, 32)),
        *(f"poisson3d-obstacles-{n}" for n in (16, 32)),
        "poisson2d-variable-128",
        "pyamg-airfoil",
        "pyamg-bar",
    ],
    "linear-large": [
        "poisson2d-512",
        "poisson2d-obstacles-512",
        "poisson3d-64",
        "poisson3d-obstacles-64",
    ],
    "operators": [f"darcy-{n}-s{s}" for n in (64, 128) for s in (0, 1)],
    "wave": ["wave-64-20", "wave-64-50"],
    "forecast": [f"etth1-{h}" for h in (96, 192, 336, 720)],
}
SUITES["all"] = [
    name
    for suite in ("linear", "linear-large", "operators", "wave", "forecast")
    for name in SUITES[suite]
]
