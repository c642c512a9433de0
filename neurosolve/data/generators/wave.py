"""FEniCSx data for the 2D scalar wave equation ``u_tt = div(c^2 grad u)``.

The equation is discretised with P1 finite elements on the structured triangle mesh of the
unit square (``n - 1`` cells per side, so the vertices form the ``(ny, nx)`` grid), and
stepped in time with one of two schemes:

- ``"explicit"``: central differences with a lumped (row-sum) mass matrix. Each step is
  one sparse product. It is stable only for ``dt <= 2 / sqrt(lambda_max(M_L^-1 K))``, and
  :func:`simulate_wave` rejects a larger ``dt`` with that limit in the message.
- ``"newmark"``: the average-acceleration Newmark scheme (``beta = 1/4``, ``gamma = 1/2``)
  with the consistent mass matrix. It is unconditionally stable and solves one
  factorised system per step.

The outer boundary is either reflecting (natural, zero Neumann) or absorbing with the
first-order condition ``du/dn = -(1/c) du/dt``. The absorbing condition adds the damping
term ``int_boundary c u_t v ds`` to the weak form.

:func:`generate_wave` writes a data set of random pulses in random smooth media to HDF5,
with the probe-point time series beside the fields, and :func:`export_probe_csv` turns
those series into the CSV table that the forecasting methods read.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

SCHEMES = ("explicit", "newmark")
BOUNDARIES = ("absorbing", "reflecting")

# Default probe positions as fractions of the domain, (y, x).
DEFAULT_PROBES = ((0.25, 0.25), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (0.75, 0.75))


@dataclass(frozen=True)
class WaveOperators:
    """Finite-element matrices of the wave equation, in grid (C) order.

    Attributes
    ----------
    shape : tuple of int
        Grid shape ``(ny, nx)``.
    stiffness : scipy.sparse.csr_matrix, shape (ny * nx, ny * nx)
        ``K_ij = int c^2 grad(phi_j) . grad(phi_i) dx``.
    mass : scipy.sparse.csr_matrix, shape (ny * nx, ny * nx)
        Consistent mass matrix ``M_ij = int phi_j phi_i dx``.
    lumped_mass : ndarray, shape (ny * nx,)
        Row sums of ``mass``.
    damping : ndarray, shape (ny * nx,)
        Lumped boundary damping ``int_boundary c phi_i ds``; zeros for reflecting walls.
    spacing : float
        Smallest grid spacing ``h``.
    """

    shape: tuple[int, int]
    stiffness: sp.csr_matrix
    mass: sp.csr_matrix
    lumped_mass: np.ndarray
    damping: np.ndarray
    spacing: float


def assemble_wave_operators(
    speed: np.ndarray,
    *,
    boundary: str = "absorbing",
    lengths: tuple[float, float] = (1.0, 1.0),
) -> WaveOperators:
    """Assemble the stiffness, mass and damping of the wave equation with dolfinx.

    Parameters
    ----------
    speed : ndarray, shape (ny, nx)
        Wave speed ``c`` at the grid points, interpolated as a P1 function.
    boundary : {"absorbing", "reflecting"}
        Condition on the outer edge.
    lengths : (float, float)
        Domain extent along y and x.

    Returns
    -------
    WaveOperators
        Matrices and vectors permuted from dolfinx's degree-of-freedom order to the
        C order of the grid.

    Raises
    ------
    ValueError
        If ``speed`` is not a 2D array of positive finite values with at least 2 points
        per axis, or ``boundary`` is unknown.
    """
    import dolfinx_solver  # noqa: F401  (must be imported before dolfinx)
    import ufl
    from dolfinx import fem, mesh
    from mpi4py import MPI

    speed = np.asarray(speed, dtype=np.float64)
    _check_speed(speed)
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    ny, nx = speed.shape
    Ly, Lx = lengths
    domain = mesh.create_rectangle(
        MPI.COMM_SELF, [np.zeros(2), np.array([Lx, Ly])], [nx - 1, ny - 1]
    )
    V = fem.functionspace(domain, ("Lagrange", 1))

    # Map each degree of freedom to its grid point from the vertex coordinates.
    coordinates = V.tabulate_dof_coordinates()
    ix = np.rint(coordinates[:, 0] / Lx * (nx - 1)).astype(np.int64)
    iy = np.rint(coordinates[:, 1] / Ly * (ny - 1)).astype(np.int64)
    dof_to_grid = iy * nx + ix
    if np.unique(dof_to_grid).size != ny * nx:
        raise RuntimeError("dolfinx degrees of freedom do not match the grid points one to one")

    c = fem.Function(V)
    c.x.array[:] = speed.reshape(-1)[dof_to_grid]
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    stiffness = fem.assemble_matrix(fem.form(c**2 * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx))
    mass = fem.assemble_matrix(fem.form(u * v * ufl.dx))
    lumped = fem.assemble_vector(fem.form(v * ufl.dx)).array.copy()
    if boundary == "absorbing":
        damping = fem.assemble_vector(fem.form(c * v * ufl.ds)).array.copy()
    else:
        damping = np.zeros_like(lumped)

    # Permutation matrix P with P[grid, dof] = 1 moves dof-ordered objects to grid order.
    n = ny * nx
    P = sp.csr_matrix((np.ones(n), (dof_to_grid, np.arange(n))), shape=(n, n))
    grid_lumped = np.empty(n)
    grid_lumped[dof_to_grid] = lumped
    grid_damping = np.empty(n)
    grid_damping[dof_to_grid] = damping
    return WaveOperators(
        shape=(ny, nx),
        stiffness=(P @ stiffness.to_scipy() @ P.T).tocsr(),
        mass=(P @ mass.to_scipy() @ P.T).tocsr(),
        lumped_mass=grid_lumped,
        damping=grid_damping,
        spacing=min(Ly / (ny - 1), Lx / (nx - 1)),
    )


def stability_limit(operators: WaveOperators) -> float:
    """Return the largest stable time step of the explicit scheme.

    The central-difference scheme with lumped mass ``M_L`` is stable for
    ``dt <= 2 / sqrt(lambda_max)``, where ``lambda_max`` is the largest eigenvalue of
    ``M_L^-1 K``. It is computed with Lanczos iterations on the symmetric matrix
    ``M_L^-1/2 K M_L^-1/2``. The boundary damping of absorbing walls is left out, so the
    limit is the one of the undamped scheme.
    """
    from scipy.sparse.linalg import eigsh

    scale = sp.diags(1.0 / np.sqrt(operators.lumped_mass))
    symmetric = (scale @ operators.stiffness @ scale).tocsr()
    # A fixed start vector makes the limit, and so the generated time steps, reproducible.
    start = np.random.default_rng(0).standard_normal(symmetric.shape[0])
    lam = eigsh(symmetric, k=1, which="LA", v0=start, return_eigenvectors=False, tol=1e-6)[0]
    return float(2.0 / np.sqrt(lam))


def simulate_wave(
    initial: np.ndarray,
    speed: np.ndarray,
    dt: float,
    steps: int,
    *,
    scheme: str = "explicit",
    boundary: str = "absorbing",
    operators: WaveOperators | None = None,
) -> np.ndarray:
    """Time-step the wave equation from rest or from given states.

    Parameters
    ----------
    initial : ndarray, shape (ny, nx) or (k, ny, nx)
        Initial displacement with zero initial velocity, or the states at times
        ``0, dt, ..., (k - 1) dt``.
    speed : ndarray, shape (ny, nx)
        Wave speed at the grid points.
    dt : float
        Time step.
    steps : int
        Number of steps from time 0. It must be at least ``k - 1``.
    scheme : {"explicit", "newmark"}
        Time-stepping scheme; see the module notes.
    boundary : {"absorbing", "reflecting"}
        Condition on the outer edge.
    operators : WaveOperators, optional
        Matrices from :func:`assemble_wave_operators` for this ``speed`` and ``boundary``,
        to skip assembling them again.

    Returns
    -------
    ndarray, shape (steps + 1, ny, nx)
        The states at times ``0, dt, ..., steps * dt``. The given states are copied in
        front.

    Raises
    ------
    ValueError
        If ``dt`` exceeds the stability limit of the explicit scheme (the message gives
        the limit), or an argument has an invalid value or shape.

    Notes
    -----
    When ``k >= 2`` states are given, the explicit scheme continues from the last two
    states exactly. The Newmark scheme needs a velocity, which it estimates from the last
    two or three states by backward differences, so its continuation is approximate.
    """
    states = np.asarray(initial, dtype=np.float64)
    if states.ndim == 2:
        states = states[None]
    speed = np.asarray(speed, dtype=np.float64)
    if states.ndim != 3 or states.shape[1:] != speed.shape:
        raise ValueError(
            f"initial has shape {np.shape(initial)}; expected {speed.shape} or "
            f"(k, *{speed.shape}) to match speed"
        )
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite number, got {dt}")
    k = states.shape[0]
    if int(steps) != steps or steps < k - 1:
        raise ValueError(f"steps must be an integer >= {k - 1} (the given states), got {steps}")
    steps = int(steps)
    if operators is None:
        operators = assemble_wave_operators(speed, boundary=boundary)
    if scheme == "explicit":
        limit = stability_limit(operators)
        if dt > limit:
            raise ValueError(
                f"dt = {dt:.6g} exceeds the stability limit {limit:.6g} of the explicit "
                f"scheme (lumped mass, grid spacing {operators.spacing:.4g}, max speed "
                f"{speed.max():.4g}); use dt <= {limit:.6g} or scheme='newmark'"
            )
        flat = _step_explicit(operators, states.reshape(k, -1), dt, steps)
    else:
        flat = _step_newmark(operators, states.reshape(k, -1), dt, steps)
    return flat.reshape(steps + 1, *speed.shape)


def _step_explicit(ops: WaveOperators, states: np.ndarray, dt: float, steps: int) -> np.ndarray:
    k = states.shape[0]
    out = np.empty((steps + 1, states.shape[1]))
    out[:k] = states
    m, d, K = ops.lumped_mass, ops.damping, ops.stiffness
    if k == 1:
        # From rest: the Taylor step u1 = u0 + dt^2 / 2 * u_tt(0), where damping vanishes.
        if steps >= 1:
            out[1] = states[0] - 0.5 * dt**2 * (K @ states[0]) / m
        k = 2
    # (m + dt/2 d) u_{n+1} = m (2 u_n - u_{n-1}) + dt/2 d u_{n-1} - dt^2 K u_n
    left = m + 0.5 * dt * d
    for n in range(k - 1, steps):
        u, u_prev = out[n], out[n - 1]
        out[n + 1] = (m * (2.0 * u - u_prev) + 0.5 * dt * d * u_prev - dt**2 * (K @ u)) / left
    return out


def _step_newmark(ops: WaveOperators, states: np.ndarray, dt: float, steps: int) -> np.ndarray:
    from scipy.sparse.linalg import splu

    beta, gamma = 0.25, 0.5
    k = states.shape[0]
    out = np.empty((steps + 1, states.shape[1]))
    out[:k] = states
    M, K = ops.mass, ops.stiffness
    D = sp.diags(ops.damping)
    u = states[-1].copy()
    if k == 1:
        v = np.zeros_like(u)
    elif k == 2:
        v = (states[-1] - states[-2]) / dt
    else:
        v = (3.0 * states[-1] - 4.0 * states[-2] + states[-3]) / (2.0 * dt)
    # The initial acceleration solves M a = -K u - D v.
    a = splu(M.tocsc()).solve(-(K @ u) - D @ v)
    effective = splu((M + gamma * dt * D + beta * dt**2 * K).tocsc())
    for n in range(k - 1, steps):
        predicted_u = u + dt * v + (0.5 - beta) * dt**2 * a
        predicted_v = v + (1.0 - gamma) * dt * a
        a = effective.solve(-(K @ predicted_u) - D @ predicted_v)
        u = predicted_u + beta * dt**2 * a
        v = predicted_v + gamma * dt * a
        out[n + 1] = u
    return out


def _check_speed(speed: np.ndarray) -> None:
    if speed.ndim != 2 or min(speed.shape) < 2:
        raise ValueError(
            f"speed must be a 2D grid with at least 2 points per axis, got shape {speed.shape}"
        )
    if not np.all(np.isfinite(speed)) or np.any(speed <= 0):
        raise ValueError("speed must be finite and positive at every grid point")


def random_pulses(rng: np.random.Generator, shape: tuple[int, int], count: int = 2) -> np.ndarray:
    """Return a sum of ``count`` Gaussian pulses with random centre, width and sign.

    Centres lie in ``[0.2, 0.8]^2`` of the unit square, widths in ``[0.03, 0.08]`` and
    amplitudes in ``[0.5, 1]`` with a random sign.
    """
    y, x = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    field = np.zeros(shape)
    for _ in range(count):
        cy, cx = rng.uniform(0.2, 0.8, size=2)
        width = rng.uniform(0.03, 0.08)
        amplitude = rng.uniform(0.5, 1.0) * rng.choice([-1.0, 1.0])
        field += amplitude * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * width**2))
    return field


def random_speed(
    rng: np.random.Generator, shape: tuple[int, int], bounds: tuple[float, float] = (0.5, 1.5)
) -> np.ndarray:
    """Return a smooth random wave speed: a background plus two broad Gaussian bumps.

    The background is drawn from ``bounds`` shrunk by 0.2 at each end. Each bump has an
    amplitude up to 0.4 of either sign and a width in ``[0.1, 0.3]``, and the result is
    clipped to ``bounds``.
    """
    low, high = bounds
    y, x = np.meshgrid(np.linspace(0, 1, shape[0]), np.linspace(0, 1, shape[1]), indexing="ij")
    field = np.full(shape, rng.uniform(low + 0.2, high - 0.2))
    for _ in range(2):
        cy, cx = rng.uniform(0.0, 1.0, size=2)
        width = rng.uniform(0.1, 0.3)
        field += rng.uniform(-0.4, 0.4) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * width**2))
    return np.clip(field, low, high)


def probe_indices(shape: tuple[int, int], probes: Any = DEFAULT_PROBES) -> np.ndarray:
    """Return the grid indices ``(iy, ix)`` nearest to probe positions given as fractions.

    Raises
    ------
    ValueError
        If a position is outside ``[0, 1]^2``.
    """
    positions = np.asarray(probes, dtype=np.float64).reshape(-1, 2)
    if np.any(positions < 0) or np.any(positions > 1):
        raise ValueError(f"probe positions must be fractions in [0, 1], got {positions.tolist()}")
    scale = np.array([shape[0] - 1, shape[1] - 1])
    return np.rint(positions * scale).astype(np.int64)


def generate_wave(
    samples: int,
    resolution: int,
    seed: int,
    out: str | os.PathLike,
    *,
    steps: int = 60,
    dt: float | None = None,
    boundary: str = "absorbing",
    comm: Any = None,
    progress: bool = True,
    overwrite: bool = False,
    **settings: Any,
) -> Path:
    """Generate wave simulations of random pulses in random media and write them to HDF5.

    Parameters
    ----------
    samples : int
        Number of simulations.
    resolution : int
        Grid points per side; the grid is ``(resolution, resolution)`` on the unit square.
    seed : int
        Seed of the data set. Sample ``i`` draws its initial state, speed and time step
        from :func:`neurosolve.data.layout.sample_rng`, so it does not depend on the
        number of MPI ranks.
    out : path
        HDF5 file in the shared layout of :mod:`neurosolve.data.layout`. An unfinished
        file with the same settings is resumed.
    steps : int
        Time steps per simulation; each stores ``steps + 1`` states.
    dt : float, optional
        Time step shared by all samples. By default each sample draws ``dt`` as a
        fraction in ``courant_range`` of its own explicit stability limit.
    boundary : {"absorbing", "reflecting"}
        Condition on the outer edge.
    comm : mpi4py communicator, optional
        Samples are dealt to its ranks and rank 0 writes; ``MPI.COMM_WORLD`` by default.
    progress : bool
        Show a progress bar.
    overwrite : bool
        Start a new file even if a matching unfinished one exists.
    **settings
        ``scheme`` (``"explicit"`` or ``"newmark"``), ``pulses`` (Gaussian pulses per
        initial state, default 2), ``speed_bounds`` (default ``(0.5, 1.5)``),
        ``courant_range`` (default ``(0.2, 0.6)``) and ``probes`` (positions as
        fractions ``(y, x)``, default five fixed points).

    Returns
    -------
    Path
        ``out``. Variables: ``u (sample, time, y, x)`` (target), ``speed (sample, y, x)``
        (input), ``dt (sample)`` and ``probes (sample, time, probe)``. The ``time``
        coordinate counts steps; multiply by ``dt`` for the physical time. The settings,
        including the probe positions, are stored as JSON in the ``settings`` attribute.

    Raises
    ------
    ValueError
        If an argument is invalid, or a sample's ``dt`` exceeds the explicit scheme's
        stability limit.
    """
    from ..layout import DatasetSpec, Variable
    from .base import run_generator

    full = _wave_settings(settings)
    if int(samples) != samples or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples}")
    if int(resolution) != resolution or resolution < 3:
        raise ValueError(f"resolution must be an integer >= 3, got {resolution}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary must be one of {BOUNDARIES}, got {boundary!r}")
    shape = (int(resolution), int(resolution))
    probes = probe_indices(shape, full["probes"])
    grid = np.linspace(0.0, 1.0, shape[0])
    spec = DatasetSpec(
        generator="wave",
        samples=int(samples),
        coords={"time": np.arange(int(steps) + 1), "y": grid, "x": grid,
                "probe": np.arange(len(probes))},
        variables={
            "u": Variable(("time", "y", "x"), role="y", long_name="displacement at each step"),
            "speed": Variable(("y", "x"), role="x", long_name="wave speed c"),
            "dt": Variable((), long_name="time step", dtype="float64"),
            "probes": Variable(("time", "probe"), long_name="displacement at the probe points"),
        },
        settings={
            **{key: _json_value(value) for key, value in full.items()},
            "resolution": int(resolution), "steps": int(steps), "boundary": boundary,
            "dt": None if dt is None else float(dt),
            "probe_points": [[float(grid[iy]), float(grid[ix])] for iy, ix in probes],
            "equation": "u_tt = div(c^2 grad u) on the unit square, zero initial velocity",
            "discretisation": f"P1 finite elements, {full['scheme']} time stepping",
        },
        seed=int(seed),
    )

    def solve_sample(index: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        fields, speed, sample_dt = _simulate_sample(rng, shape, int(steps), dt, boundary, full)
        return {"u": fields, "speed": speed, "dt": np.asarray(sample_dt),
                "probes": fields[:, probes[:, 0], probes[:, 1]]}

    return run_generator(out, spec, solve_sample, comm=comm, progress=progress,
                         overwrite=overwrite)


def _wave_settings(settings: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        "scheme": "explicit",
        "pulses": 2,
        "speed_bounds": (0.5, 1.5),
        "courant_range": (0.2, 0.6),
        "probes": DEFAULT_PROBES,
    }
    unknown = set(settings) - set(defaults)
    if unknown:
        raise TypeError(
            f"unknown wave generator settings {sorted(unknown)}; valid settings are "
            f"{sorted(defaults)}"
        )
    merged = {**defaults, **settings}
    if merged["scheme"] not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {merged['scheme']!r}")
    low, high = merged["courant_range"]
    if not 0 < low <= high <= 1:
        raise ValueError(f"courant_range must satisfy 0 < low <= high <= 1, got {(low, high)}")
    return merged


def _simulate_sample(
    rng: np.random.Generator,
    shape: tuple[int, int],
    steps: int,
    dt: float | None,
    boundary: str,
    settings: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray, float]:
    speed = random_speed(rng, shape, tuple(settings["speed_bounds"]))
    initial = random_pulses(rng, shape, int(settings["pulses"]))
    operators = assemble_wave_operators(speed, boundary=boundary)
    if dt is None:
        sample_dt = rng.uniform(*settings["courant_range"]) * stability_limit(operators)
    else:
        sample_dt = float(dt)
    fields = simulate_wave(
        initial, speed, sample_dt, steps, scheme=settings["scheme"], boundary=boundary,
        operators=operators,
    )
    return fields, speed, sample_dt


def _json_value(value: Any) -> Any:
    if isinstance(value, str | int | float):
        return value
    return np.asarray(value, dtype=np.float64).tolist()


def export_probe_csv(
    dataset: str | os.PathLike, out: str | os.PathLike, *, sample: int = 0
) -> Path:
    """Write the probe-point time series of one sample as a CSV table.

    Parameters
    ----------
    dataset : path
        HDF5 file written by :func:`generate_wave`.
    out : path
        CSV file to write. Its columns are ``time`` (physical time ``step * dt``) and one
        column ``probe_<i>`` per probe; there is no date column.
    sample : int
        Which simulation of the file to export.

    Returns
    -------
    Path
        The CSV file.

    Raises
    ------
    ValueError
        If ``sample`` is out of range.
    """
    import pandas as pd
    import xarray as xr

    with xr.open_dataset(dataset, engine="h5netcdf") as data:
        count = data.sizes["sample"]
        if not 0 <= sample < count:
            raise ValueError(f"sample {sample} is out of range; the file has {count} samples")
        series = data["probes"].isel(sample=sample).values
        dt = float(data["dt"].isel(sample=sample))
    table = pd.DataFrame(series, columns=[f"probe_{i}" for i in range(series.shape[1])])
    table.insert(0, "time", np.arange(series.shape[0]) * dt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return out
