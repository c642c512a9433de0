"""The Darcy generator: ``-div(a grad u) = f`` on the unit square with random coefficients.

Two coefficient families:

- ``"threshold"`` (default): ``a = 12`` where a Gaussian random field with covariance
  ``(-Laplacian + 9 I)^(-2)`` is positive and ``a = 3`` elsewhere, the family of the
  Fourier-neural-operator Darcy benchmark (Li et al., 2021);
- ``"lognormal"``: the smooth coefficient ``a = exp(scale * g)`` of the same field ``g``.

Each sample is assembled by :func:`neurosolve.problems.poisson.poisson` (P1 elements on the
structured grid, the coefficient given at grid points and interpolated as P1, ``u = 0`` on
the boundary) and solved with a sparse LU factorisation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..layout import DatasetSpec, Variable
from ..random_fields import gaussian_random_field, lognormal_coefficient, threshold_coefficient
from .base import run_generator

COEFFICIENT_KINDS = ("threshold", "lognormal")

DEFAULTS: dict[str, Any] = {
    "coefficient": "threshold",
    "alpha": 2.0,
    "tau": 3.0,
    "high": 12.0,
    "low": 3.0,
    "lognormal_scale": 1.0,
    "source": 1.0,
}


def solve_poisson_grid(coefficient: np.ndarray | float, source: np.ndarray | float, shape):
    """Solve ``-div(a grad u) = f`` with ``u = 0`` on the boundary of the unit square or cube.

    Parameters
    ----------
    coefficient : ndarray of shape ``shape``, or float
        Positive coefficient at the grid points (P1) or a constant.
    source : ndarray of shape ``shape``, or float
        Source at the grid points or a constant.
    shape : tuple of int
        Grid points per axis, C order.

    Returns
    -------
    ndarray of float64, shape ``shape``
        The P1 solution at the grid points, zero on the boundary.
    """
    from scipy.sparse.linalg import splu

    from ...problems.poisson import poisson

    problem = poisson(tuple(shape), coefficient=coefficient, source=source)
    x = splu(problem.A.tocsc()).solve(problem.b)
    return problem.to_grid(x)


def draw_coefficient(
    shape: tuple[int, ...], rng: np.random.Generator, settings: dict[str, Any]
) -> np.ndarray:
    """Draw one Darcy coefficient on the grid from ``rng`` with the generator's ``settings``."""
    field = gaussian_random_field(shape, rng, alpha=settings["alpha"], tau=settings["tau"])
    if settings["coefficient"] == "threshold":
        return threshold_coefficient(field, high=settings["high"], low=settings["low"])
    return lognormal_coefficient(field, scale=settings["lognormal_scale"])


def darcy_settings(resolution: int, **settings: Any) -> dict[str, Any]:
    """Return the full settings of a Darcy dataset: the defaults updated with ``settings``.

    Raises
    ------
    ValueError
        If ``resolution`` is outside 3..4096, a setting is unknown, or ``coefficient`` is
        not one of :data:`COEFFICIENT_KINDS`.
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown darcy settings {unknown}; valid ones are {sorted(DEFAULTS)}")
    if not 3 <= int(resolution) <= 4096:
        raise ValueError(f"resolution must be between 3 and 4096 grid points, got {resolution}")
    full = {**DEFAULTS, **settings, "resolution": int(resolution)}
    if full["coefficient"] not in COEFFICIENT_KINDS:
        raise ValueError(
            f"coefficient must be one of {COEFFICIENT_KINDS}, got {full['coefficient']!r}"
        )
    for key in ("alpha", "tau", "high", "low", "lognormal_scale", "source"):
        full[key] = float(full[key])
    return full


def darcy_spec(samples: int, resolution: int, seed: int, **settings: Any) -> DatasetSpec:
    """Return the dataset layout of a Darcy dataset."""
    full = darcy_settings(resolution, **settings)
    grid = np.linspace(0.0, 1.0, full["resolution"])
    return DatasetSpec(
        generator="darcy",
        samples=int(samples),
        coords={"y": grid, "x": grid},
        variables={
            "coefficient": Variable(("y", "x"), role="x", long_name="permeability a"),
            "solution": Variable(("y", "x"), role="y", long_name="pressure u"),
        },
        settings={
            **full,
            "equation": "-div(a grad u) = f on the unit square, u = 0 on the boundary",
            "discretisation": "P1 finite elements, coefficient interpolated from grid points",
        },
        seed=int(seed),
    )


def generate_darcy(
    samples: int,
    resolution: int,
    seed: int,
    out: str | os.PathLike[str],
    *,
    comm: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    **settings: Any,
) -> Path:
    """Generate a Darcy dataset and write it to ``out``.

    Parameters
    ----------
    samples : int
        Number of samples.
    resolution : int
        Grid points per side (the grid includes the boundary).
    seed : int
        Seed of the dataset; sample ``i`` depends only on ``seed`` and ``i``.
    out : str or PathLike
        Output HDF5 file; a matching unfinished file is resumed.
    comm : mpi4py communicator, optional
        Ranks that share the samples, ``MPI.COMM_WORLD`` by default.
    progress : bool
        Show a progress bar on rank 0.
    overwrite : bool
        Start again even if ``out`` contains a matching unfinished dataset.
    **settings
        Overrides of :data:`DEFAULTS`: ``coefficient`` ("threshold" or "lognormal"),
        ``alpha`` and ``tau`` of the random field, ``high`` and ``low`` values of the
        threshold coefficient, ``lognormal_scale``, the constant ``source``.

    Returns
    -------
    Path
        ``out``. Its variables are ``coefficient`` (model input) and ``solution``
        (target), both ``(sample, y, x)``.

    References
    ----------
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart and
    A. Anandkumar (2021). Fourier neural operator for parametric partial differential
    equations. ICLR 2021.
    """
    spec = darcy_spec(samples, resolution, seed, **settings)
    full = spec.settings
    shape = (full["resolution"], full["resolution"])

    def solve_sample(index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        a = draw_coefficient(shape, rng, full)
        return {"coefficient": a, "solution": solve_poisson_grid(a, full["source"], shape)}

    return run_generator(out, spec, solve_sample, comm=comm, progress=progress, overwrite=overwrite)
