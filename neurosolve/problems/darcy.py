"""Darcy flow ``-div(a grad u) = f`` on the unit square as an operator problem."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..solvers.problems import OperatorProblem
from .poisson import poisson


def darcy(
    coefficient: Any,
    *,
    source: float | np.ndarray = 1.0,
    name: str | None = None,
) -> OperatorProblem:
    """Build the Darcy problem ``-div(a grad u) = f``, ``u = 0`` on the boundary.

    The system is assembled by :func:`neurosolve.problems.poisson` with P1 elements on the
    grid of ``coefficient``, so the ``fem`` reference and the residual that learned
    operators report use the same discretisation.

    Parameters
    ----------
    coefficient : array_like, shape (ny, nx)
        Permeability ``a > 0`` at the grid points of the unit square, each side at least 3
        points. Values are interpolated as P1 functions. Darcy data sets use piecewise
        constant fields with the values 12 and 3.
    source : float or array_like of shape (ny, nx)
        Source ``f``, constant or at the grid points (default 1).
    name : str, optional
        Label for tables and files.

    Returns
    -------
    OperatorProblem
        ``pde="darcy"``, ``inputs`` holding the grid-shaped ``"coefficient"`` and
        ``"source"``, the grid ``geometry``, and ``linear_problem``, the assembled system
        over the interior points.

    Raises
    ------
    ValueError
        If ``coefficient`` is not a 2D array with at least 3 points per side, is not
        positive and finite, or ``source`` has another shape.
    """
    a = np.asarray(coefficient, dtype=np.float64)
    if a.ndim != 2 or min(a.shape) < 3:
        raise ValueError(
            f"coefficient must be a 2D grid array with at least 3 points per side, got shape "
            f"{a.shape}; pass the permeability at the grid points, shape (ny, nx)"
        )
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("coefficient must be positive and finite at every grid point")
    f = np.asarray(source, dtype=np.float64)
    if f.ndim == 0:
        source_grid = np.full(a.shape, float(f))
        source_value: float | np.ndarray = float(f)
    elif f.shape == a.shape:
        source_grid = f.copy()
        source_value = source_grid
    else:
        raise ValueError(
            f"source has shape {f.shape}; give a number or an array of the coefficient's "
            f"shape {a.shape}"
        )

    label = name or f"darcy-{a.shape[0]}x{a.shape[1]}"
    system = poisson(shape=a.shape, coefficient=a, source=source_value, name=label)
    if system.geometry is None:
        raise RuntimeError("problems.poisson returned a system without grid geometry")
    provenance = {
        "constructor": "darcy",
        "shape": list(a.shape),
        "coefficient_range": [float(a.min()), float(a.max())],
        "source": float(f) if f.ndim == 0 else "grid array",
    }
    return OperatorProblem(
        pde="darcy",
        inputs={"coefficient": a, "source": source_grid},
        geometry=system.geometry,
        linear_problem=system,
        name=label,
        provenance=provenance,
    )
