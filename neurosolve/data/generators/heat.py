"""The heat generator: ``u_t = kappa Laplacian u`` from random initial states, stored in time.

Space: P1 finite elements on the structured unit-square grid with ``u = 0`` on the boundary,
the stiffness matrix from :func:`neurosolve.problems.poisson.poisson`. Time: implicit
(backward) Euler, ``(M + dt K) u^{n+1} = M u^n``, unconditionally stable and first-order
accurate in ``dt``. The initial state is a Gaussian random field set to 0 on the boundary.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..layout import DatasetSpec, Variable
from ..random_fields import gaussian_random_field
from .base import run_generator

DEFAULTS: dict[str, Any] = {
    "steps": 20,
    "dt": 0.005,
    "kappa": 1.0,
    "alpha": 2.0,
    "tau": 3.0,
}


class HeatStepper:
    """Implicit Euler steps of the heat equation on a ``shape`` grid with ``u = 0`` on the boundary.

    Parameters
    ----------
    shape : tuple of int
        Grid points per axis, C order, 2 or 3 axes.
    dt : float
        Time step, > 0.
    kappa : float
        Diffusivity, > 0.
    """

    def __init__(self, shape: tuple[int, ...], dt: float, kappa: float) -> None:
        import dolfinx_solver  # noqa: F401  (must be imported before dolfinx)
        import ufl
        from dolfinx import fem
        from scipy.sparse.linalg import splu

        from ...problems.poisson import poisson

        if dt <= 0 or kappa <= 0:
            raise ValueError(f"dt and kappa must be positive, got dt={dt}, kappa={kappa}")
        self.shape = tuple(shape)
        self.problem = poisson(self.shape, coefficient=float(kappa), source=0.0)
        V = self.problem.function_space
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        mass = fem.assemble_matrix(fem.form(u * v * ufl.dx)).to_scipy().tocsr()
        free = self.problem.space_dofs
        self.M = mass[free][:, free].tocsr()
        self._lu = splu((self.M + dt * self.problem.A).tocsc())

    def run(self, initial: np.ndarray, steps: int) -> np.ndarray:
        """Return the states after steps ``1 .. steps``, shape ``(steps, *shape)``.

        ``initial`` has shape ``shape``; its boundary values are ignored (taken as 0).
        """
        initial = np.asarray(initial, dtype=np.float64)
        if initial.shape != self.shape:
            raise ValueError(f"initial state has shape {initial.shape}, expected {self.shape}")
        geometry: Any = self.problem.geometry  # always set for structured grids
        u = geometry.from_grid(initial)
        states = np.empty((steps, *self.shape))
        for n in range(steps):
            u = self._lu.solve(self.M @ u)
            states[n] = self.problem.to_grid(u)
        return states


@lru_cache(maxsize=4)
def _stepper(shape: tuple[int, ...], dt: float, kappa: float) -> HeatStepper:
    return HeatStepper(shape, dt, kappa)


def heat_settings(resolution: int, **settings: Any) -> dict[str, Any]:
    """Return the full settings of a heat dataset: the defaults updated with ``settings``."""
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown heat settings {unknown}; valid ones are {sorted(DEFAULTS)}")
    full = {**DEFAULTS, **settings, "resolution": int(resolution)}
    if not 3 <= full["resolution"] <= 4096:
        raise ValueError(f"resolution must be between 3 and 4096 grid points, got {resolution}")
    if int(full["steps"]) != full["steps"] or full["steps"] < 1:
        raise ValueError(f"steps must be a positive integer, got {full['steps']!r}")
    full["steps"] = int(full["steps"])
    for key in ("dt", "kappa", "alpha", "tau"):
        full[key] = float(full[key])
        if full[key] <= 0:
            raise ValueError(f"{key} must be positive, got {full[key]}")
    return full


def heat_spec(samples: int, resolution: int, seed: int, **settings: Any) -> DatasetSpec:
    """Return the dataset layout of a heat dataset."""
    full = heat_settings(resolution, **settings)
    grid = np.linspace(0.0, 1.0, full["resolution"])
    times = full["dt"] * np.arange(1, full["steps"] + 1)
    return DatasetSpec(
        generator="heat",
        samples=int(samples),
        coords={"time": times, "y": grid, "x": grid},
        variables={
            "initial": Variable(("y", "x"), role="x", long_name="temperature at t = 0"),
            "temperature": Variable(
                ("time", "y", "x"), role="y", long_name="temperature after each step"
            ),
        },
        settings={
            **full,
            "equation": "u_t = kappa Laplacian u on the unit square, u = 0 on the boundary",
            "discretisation": "P1 finite elements, implicit Euler in time",
        },
        seed=int(seed),
    )


def generate_heat(
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
    """Generate a heat-equation dataset and write it to ``out``.

    Parameters
    ----------
    samples, resolution, seed, out, comm, progress, overwrite
        As in :func:`neurosolve.data.generators.darcy.generate_darcy`.
    **settings
        Overrides of :data:`DEFAULTS`: ``steps`` (stored time levels after the initial
        one), ``dt`` (time step), ``kappa`` (diffusivity), ``alpha`` and ``tau`` of the
        initial-state random field.

    Returns
    -------
    Path
        ``out``, with ``initial (sample, y, x)`` (model input) and ``temperature (sample,
        time, y, x)`` at times ``dt, 2 dt, ..., steps dt`` (target).
    """
    spec = heat_spec(samples, resolution, seed, **settings)
    full = spec.settings
    shape = (full["resolution"], full["resolution"])

    def solve_sample(index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        initial = gaussian_random_field(shape, rng, alpha=full["alpha"], tau=full["tau"])
        initial[0, :] = initial[-1, :] = initial[:, 0] = initial[:, -1] = 0.0
        stepper = _stepper(shape, full["dt"], full["kappa"])
        return {"initial": initial, "temperature": stepper.run(initial, full["steps"])}

    return run_generator(out, spec, solve_sample, comm=comm, progress=progress, overwrite=overwrite)
