"""The Poisson generator: ``-div grad u = f`` with random sources, obstacles and boundaries.

Each sample draws a source ``f`` from a Gaussian random field, optionally places random box
obstacles (zero-flux walls), and solves on the unit square or cube with
:func:`neurosolve.problems.poisson.poisson`. These are the right-hand sides and systems the
DCDM solver learns from and is tested on.

Boundaries (``boundary`` setting):

- ``"dirichlet"``: ``u = 0`` on every side;
- ``"mixed"``: ``u = 0`` on the sides ``xmin`` and ``ymin`` (and ``zmin``), zero flux
  ``du/dn = 0`` on the others.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..layout import DatasetSpec, Variable
from ..random_fields import gaussian_random_field
from .base import run_generator

BOUNDARIES = ("dirichlet", "mixed")

DEFAULTS: dict[str, Any] = {
    "dimension": 2,
    "alpha": 2.0,
    "tau": 3.0,
    "obstacles": 0,
    "boundary": "dirichlet",
}


def poisson_settings(resolution: int, **settings: Any) -> dict[str, Any]:
    """Return the full settings of a Poisson dataset: the defaults updated with ``settings``.

    Raises
    ------
    ValueError
        If a setting is unknown or out of range.
    """
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown poisson settings {unknown}; valid ones are {sorted(DEFAULTS)}")
    full = {**DEFAULTS, **settings, "resolution": int(resolution)}
    if full["dimension"] not in (2, 3):
        raise ValueError(f"dimension must be 2 or 3, got {full['dimension']!r}")
    if full["boundary"] not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {full['boundary']!r}")
    if not 3 <= full["resolution"] <= 4096:
        raise ValueError(f"resolution must be between 3 and 4096 grid points, got {resolution}")
    if int(full["obstacles"]) != full["obstacles"] or full["obstacles"] < 0:
        raise ValueError(f"obstacles must be a non-negative count, got {full['obstacles']!r}")
    full["dimension"] = int(full["dimension"])
    full["obstacles"] = int(full["obstacles"])
    full["alpha"] = float(full["alpha"])
    full["tau"] = float(full["tau"])
    return full


def boundary_arguments(boundary: str, dimension: int) -> dict[str, Any]:
    """Return the ``dirichlet`` and ``neumann`` arguments of ``problems.poisson`` for a boundary."""
    if boundary == "dirichlet":
        return {"dirichlet": "all", "neumann": None}
    axes = "xyz"[:dimension]
    return {
        "dirichlet": [f"{a}min" for a in axes],
        "neumann": {f"{a}max": 0.0 for a in axes},
    }


def poisson_spec(samples: int, resolution: int, seed: int, **settings: Any) -> DatasetSpec:
    """Return the dataset layout of a Poisson dataset."""
    full = poisson_settings(resolution, **settings)
    n, d = full["resolution"], full["dimension"]
    grid = np.linspace(0.0, 1.0, n)
    centres = (grid[:-1] + grid[1:]) / 2
    axes = ("z", "y", "x")[-d:]
    cell_axes = tuple(f"cell_{a}" for a in axes)
    coords = {a: grid for a in axes} | {c: centres for c in cell_axes}
    return DatasetSpec(
        generator="poisson",
        samples=int(samples),
        coords=coords,
        variables={
            "source": Variable(axes, role="x", long_name="source f"),
            "free": Variable(
                axes, role="x", long_name="1 at free unknowns, 0 at Dirichlet and obstacle points"
            ),
            "solution": Variable(axes, role="y", long_name="solution u"),
            "domain": Variable(
                cell_axes, long_name="1 for domain cells, 0 for obstacle cells", dtype="uint8"
            ),
        },
        settings={
            **full,
            "equation": "-div grad u = f; u = 0 on Dirichlet sides, du/dn = 0 elsewhere",
            "discretisation": "P1 finite elements on the structured grid",
        },
        seed=int(seed),
    )


def solve_poisson_source(
    source: np.ndarray,
    *,
    boundary: str = "dirichlet",
    obstacles: int | np.ndarray | None = None,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Solve ``-Laplacian u = source`` on the grid of ``source`` with one of :data:`BOUNDARIES`.

    Parameters
    ----------
    source : ndarray, shape ``(n, n)`` or ``(n, n, n)``
        Source at the grid points.
    boundary : {"dirichlet", "mixed"}
        Boundary conditions, see the module docstring.
    obstacles : int, ndarray of bool or None
        As in :func:`neurosolve.problems.poisson.poisson`: a number of random boxes placed
        from ``seed``, or a cell mask (True marks an obstacle).
    seed : int, optional
        Seed of the random obstacles.

    Returns
    -------
    dict
        ``source``, ``free`` and ``solution`` on the point grid, ``domain`` on the cell grid.
    """
    from scipy.sparse.linalg import splu

    from ...problems.poisson import poisson

    problem = poisson(
        source.shape,
        source=source,
        obstacles=obstacles,
        seed=seed,
        **boundary_arguments(boundary, source.ndim),
    )
    geometry: Any = problem.geometry  # always set, with free and cell_mask, on structured grids
    x = splu(problem.A.tocsc()).solve(problem.b)
    return {
        "source": source,
        "free": geometry.free.astype(np.float32),
        "solution": problem.to_grid(x),
        "domain": geometry.cell_mask.astype(np.uint8),
    }


def solve_poisson_sample(
    shape: tuple[int, ...], rng: np.random.Generator, settings: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Draw one Poisson sample's source and obstacles from ``rng`` and solve it."""
    source = gaussian_random_field(shape, rng, alpha=settings["alpha"], tau=settings["tau"])
    obstacle_seed = int(rng.integers(2**31))
    return solve_poisson_source(
        source,
        boundary=settings["boundary"],
        obstacles=settings["obstacles"] or None,
        seed=obstacle_seed,
    )


def generate_poisson(
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
    """Generate a Poisson dataset and write it to ``out``.

    Parameters
    ----------
    samples, resolution, seed, out, comm, progress, overwrite
        As in :func:`neurosolve.data.generators.darcy.generate_darcy`.
    **settings
        Overrides of :data:`DEFAULTS`: ``dimension`` (2 or 3), ``alpha`` and ``tau`` of the
        source field, ``obstacles`` (number of random boxes per sample, 0 for none),
        ``boundary`` ("dirichlet" or "mixed").

    Returns
    -------
    Path
        ``out``, with ``source`` and ``free`` (model inputs), ``solution`` (target) on the
        point grid and ``domain`` on the cell grid.
    """
    spec = poisson_spec(samples, resolution, seed, **settings)
    full = spec.settings
    shape = (full["resolution"],) * full["dimension"]

    def solve_sample(index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return solve_poisson_sample(shape, rng, full)

    return run_generator(out, spec, solve_sample, comm=comm, progress=progress, overwrite=overwrite)
