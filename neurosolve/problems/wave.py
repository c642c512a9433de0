"""Constructor of :class:`~neurosolve.solvers.problems.WaveProblem`."""

from __future__ import annotations

import numpy as np

from ..solvers.problems import GridGeometry, WaveProblem


def wave(
    *,
    initial: np.ndarray,
    speed: float | np.ndarray,
    dt: float,
    steps: int,
    boundary: str = "absorbing",
    lengths: tuple[float, float] = (1.0, 1.0),
    name: str = "wave",
) -> WaveProblem:
    """Build a 2D wave problem ``u_tt = div(c^2 grad u)`` on a structured grid.

    Parameters
    ----------
    initial : ndarray, shape (ny, nx) or (k, ny, nx)
        Initial displacement with zero initial velocity, or the fields at times
        ``0, dt, ..., (k - 1) dt``. The grid's vertices are the array's points, so the
        domain has ``ny - 1`` by ``nx - 1`` cells.
    speed : float or ndarray, shape (ny, nx)
        Wave speed ``c`` at the grid points; a number means a uniform medium.
    dt : float
        Time step, in the time unit of ``speed`` and ``lengths``.
    steps : int
        Number of time steps from time 0.
    boundary : {"absorbing", "reflecting"}
        First-order absorbing condition ``du/dn = -(1/c) du/dt`` or a zero-Neumann wall.
    lengths : (float, float)
        Domain extent along y and x.
    name : str
        Label used in tables and files.

    Returns
    -------
    WaveProblem
        Solved by ``solve(p, method="fem")``, ``"wave-cnn"`` or ``"wave-cnn-compressed"``.
        Each result's ``x`` has shape ``(steps + 1, ny, nx)`` with the initial field first.

    Raises
    ------
    ValueError
        If ``initial`` is not a 2D or 3D array, ``speed`` does not match its grid or is
        not positive, ``dt`` is not positive, ``steps`` is not a positive integer, or
        there are more given fields than ``steps + 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosolve import problems
    >>> y, x = np.mgrid[0:1:64j, 0:1:64j]
    >>> u0 = np.exp(-((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.005)
    >>> p = problems.wave(initial=u0, speed=1.0, dt=0.004, steps=20)
    >>> p.geometry.shape
    (64, 64)
    """
    initial = np.asarray(initial, dtype=np.float64)
    if initial.ndim not in (2, 3):
        raise ValueError(
            f"initial has shape {initial.shape}; pass one field (ny, nx) or k fields (k, ny, nx)"
        )
    grid = initial.shape[-2:]
    if np.ndim(speed) == 0:
        speed = np.full(grid, float(speed))
    geometry = GridGeometry(shape=tuple(grid), lengths=tuple(float(v) for v in lengths))
    if initial.ndim == 3 and int(steps) == steps and initial.shape[0] > steps + 1:
        raise ValueError(
            f"initial contains {initial.shape[0]} fields but steps={steps} asks for only "
            f"{int(steps) + 1}; raise steps or pass fewer fields"
        )
    return WaveProblem(
        initial=initial, speed=np.asarray(speed, dtype=np.float64), dt=float(dt),
        steps=int(steps) if int(steps) == steps else steps, geometry=geometry,
        boundary=boundary, name=name,
        provenance={"constructor": "wave", "dt": float(dt), "steps": steps,
                    "boundary": boundary, "lengths": list(lengths)},
    )
