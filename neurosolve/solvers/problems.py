"""Problem types accepted by :func:`neurosolve.solve`.

Four kinds exist, each with its own dataclass:

- :class:`LinearProblem` (``kind = "linear"``): a sparse or dense system ``A x = b``,
  optionally with the structured grid and finite-element space it came from.
- :class:`OperatorProblem` (``kind = "operator"``): a PDE given by coefficient and source
  fields on a grid, whose solution is a field on the same grid.
- :class:`WaveProblem` (``kind = "wave"``): an initial state of the 2D wave equation, a
  wave speed, a time step and a number of steps.
- :class:`ForecastProblem` (``kind = "forecast"``): a multivariate history and a horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator


@dataclass(frozen=True)
class GridGeometry:
    """A structured grid and the map between its points and the unknowns of a system.

    Attributes
    ----------
    shape : tuple of int
        Number of grid points along each axis, in array order (``(ny, nx)`` or
        ``(nz, ny, nx)``).
    lengths : tuple of float
        Physical extent of the domain along each axis, same order as ``shape``.
    dof_to_grid : ndarray of int, optional
        For each unknown of the system, the flat (C-order) index of its grid point. None
        when unknowns and grid points coincide in C order.
    free : ndarray of bool, optional
        Grid-shaped mask, True at points that are free unknowns (inside the domain and not
        on a Dirichlet boundary). Learned methods read it as their mask channel.
    cell_mask : ndarray of bool, optional
        Cell-shaped mask (one fewer than ``shape`` along each axis), True for cells that
        belong to the domain and False for obstacle cells.
    """

    shape: tuple[int, ...]
    lengths: tuple[float, ...] = ()
    dof_to_grid: np.ndarray | None = None
    free: np.ndarray | None = None
    cell_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.shape) not in (1, 2, 3):
            raise ValueError(f"grid shape must have 1, 2 or 3 axes, got {self.shape}")
        if min(self.shape) < 2:
            raise ValueError(
                f"grid shape {self.shape} has an axis with fewer than 2 points; a grid needs "
                f"at least 2 points per axis"
            )
        if not self.lengths:
            object.__setattr__(self, "lengths", tuple(1.0 for _ in self.shape))
        if len(self.lengths) != len(self.shape):
            raise ValueError(f"lengths {self.lengths} do not match grid shape {self.shape}")
        if self.free is not None and self.free.shape != self.shape:
            raise ValueError(f"free mask has shape {self.free.shape}, expected {self.shape}")
        if self.cell_mask is not None:
            expected = tuple(n - 1 for n in self.shape)
            if self.cell_mask.shape != expected:
                raise ValueError(
                    f"cell_mask has shape {self.cell_mask.shape}, expected {expected} "
                    f"(one cell fewer than grid points along each axis)"
                )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        """Distance between neighbouring grid points along each axis."""
        return tuple(L / (n - 1) for L, n in zip(self.lengths, self.shape, strict=True))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def coordinates(self) -> list[np.ndarray]:
        """Return the 1D coordinate arrays of the grid points, one per axis."""
        return [np.linspace(0.0, L, n) for L, n in zip(self.lengths, self.shape, strict=True)]

    def to_grid(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Scatter a vector of unknowns onto the grid; points without an unknown get ``fill``."""
        x = np.asarray(x)
        if self.dof_to_grid is None:
            if x.size != self.size:
                raise ValueError(f"vector of length {x.size} does not fit grid {self.shape}")
            return x.reshape(self.shape)
        if x.shape[0] != self.dof_to_grid.shape[0]:
            raise ValueError(
                f"vector of length {x.shape[0]} does not match the {self.dof_to_grid.shape[0]} "
                f"unknowns of this grid"
            )
        grid = np.full(self.size, fill, dtype=x.dtype)
        grid[self.dof_to_grid] = x
        return grid.reshape(self.shape)

    def from_grid(self, u: np.ndarray) -> np.ndarray:
        """Gather the unknowns from a grid-shaped array (the inverse of :meth:`to_grid`)."""
        u = np.asarray(u)
        if u.shape != self.shape:
            raise ValueError(f"grid array has shape {u.shape}, expected {self.shape}")
        flat = u.reshape(-1)
        return flat.copy() if self.dof_to_grid is None else flat[self.dof_to_grid]


class Problem:
    """Base class of the problem kinds; ``kind`` names the kind."""

    kind: ClassVar[str] = ""
    name: str
    provenance: dict[str, Any]


def _check_finite(name: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise ValueError(f"{name} contains {bad} NaN or infinite entries; all must be finite")


@dataclass
class LinearProblem(Problem):
    """A linear system ``A x = b``.

    Parameters
    ----------
    A : sparse matrix, ndarray or LinearOperator, shape (n, n)
        Real square matrix. Sparse input is converted to CSR. A LinearOperator can only be
        used by methods that need nothing but products with ``A``.
    b : ndarray, shape (n,)
        Right-hand side.
    geometry : GridGeometry, optional
        Structured grid behind the unknowns, required by grid-based methods (``gmg``,
        ``dcdm``).
    function_space : dolfinx.fem.FunctionSpace, optional
        Finite-element space that produced ``A``, kept for writers and refinement.
    spd : bool or None
        True when ``A`` is known to be symmetric positive definite (set by the Poisson
        constructors), None when unknown.
    x_exact : ndarray, optional
        Known exact solution, for manufactured problems.
    name : str
        Short label used in tables and files.
    provenance : dict
        The constructor's settings, stored with every result written to disk.
    dirichlet_values : ndarray, optional
        Grid-shaped array holding the Dirichlet value at each Dirichlet point and zero
        elsewhere; :meth:`to_grid` fills the points that are not unknowns from it.
    space_dofs : ndarray of int, optional
        For each unknown, its degree-of-freedom index in ``function_space``.
    space_values : ndarray, optional
        Values at every degree of freedom of ``function_space``: Dirichlet values at
        Dirichlet DOFs, zero elsewhere; :meth:`to_space` fills in the unknowns.

    Raises
    ------
    ValueError
        If ``A`` is not square, ``b`` does not match it, or either contains NaN or inf.
    TypeError
        If ``A`` or ``b`` is complex or not numeric.
    """

    kind: ClassVar[str] = "linear"

    A: Any
    b: np.ndarray
    geometry: GridGeometry | None = None
    function_space: Any = None
    spd: bool | None = None
    x_exact: np.ndarray | None = None
    name: str = "linear"
    provenance: dict[str, Any] = field(default_factory=dict)
    dirichlet_values: np.ndarray | None = None
    space_dofs: np.ndarray | None = None
    space_values: np.ndarray | None = None

    def __post_init__(self) -> None:
        A = self.A
        if isinstance(A, LinearOperator):
            pass
        elif sp.issparse(A):
            A = sp.csr_matrix(A)
        else:
            A = np.asarray(A)
            if A.ndim != 2:
                raise ValueError(f"A must be a 2D matrix, got an array with shape {A.shape}")
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        if A.shape[0] == 0:
            raise ValueError("A is empty (shape (0, 0)); a linear problem needs an unknown")
        dtype = np.dtype(A.dtype)
        if dtype.kind == "c":
            raise TypeError("A is complex; neurosolve solves real systems only")
        if dtype.kind not in "fiub":
            raise TypeError(f"A has non-numeric dtype {dtype}")
        if not isinstance(A, LinearOperator):
            A = A.astype(np.float64, copy=False)
            _check_finite("A", A.data if sp.issparse(A) else A)

        b = np.asarray(self.b)
        if b.dtype.kind == "c":
            raise TypeError("b is complex; neurosolve solves real systems only")
        if b.dtype.kind not in "fiub":
            raise TypeError(f"b has non-numeric dtype {b.dtype}")
        b = b.astype(np.float64).reshape(-1) if b.ndim == 2 and 1 in b.shape else b
        if b.ndim != 1 or b.shape[0] != A.shape[0]:
            raise ValueError(
                f"b has shape {np.shape(self.b)} but A has shape {A.shape}; "
                f"b must be a vector of length {A.shape[0]}"
            )
        b = b.astype(np.float64, copy=False)
        _check_finite("b", b)
        if self.geometry is not None and self.geometry.dof_to_grid is not None:
            if self.geometry.dof_to_grid.shape[0] != A.shape[0]:
                raise ValueError(
                    f"geometry maps {self.geometry.dof_to_grid.shape[0]} unknowns but A has "
                    f"{A.shape[0]} rows"
                )
        self.A = A
        self.b = b

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    @property
    def operator(self) -> LinearOperator:
        return aslinearoperator(self.A)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.A @ x).reshape(-1)

    def residual_norm(self, x: np.ndarray) -> float:
        """Return the true residual norm ``||b - A x||``."""
        return float(np.linalg.norm(self.b - self.matvec(x)))

    def to_grid(self, x: np.ndarray) -> np.ndarray:
        """Scatter a solution vector onto the grid, with Dirichlet values at their points.

        Points that are neither unknowns nor Dirichlet points (inside obstacles) get 0.

        Raises
        ------
        ValueError
            If the problem has no grid geometry or ``x`` has the wrong length.
        """
        if self.geometry is None:
            raise ValueError(
                f"problem {self.name!r} has no grid geometry; use to_space(x) for problems "
                f"on unstructured meshes"
            )
        grid = self.geometry.to_grid(np.asarray(x, dtype=np.float64))
        if self.dirichlet_values is None or self.geometry.free is None:
            return grid
        return np.where(self.geometry.free, grid, self.dirichlet_values)

    def to_space(self, x: np.ndarray) -> np.ndarray:
        """Return the values at every DOF of ``function_space`` for a solution vector ``x``.

        Raises
        ------
        ValueError
            If the problem has no finite-element space or ``x`` has the wrong length.
        """
        if self.space_dofs is None or self.space_values is None:
            raise ValueError(f"problem {self.name!r} was not built from a finite-element space")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n:
            raise ValueError(f"x has length {x.shape[0]}, expected {self.n}")
        values = self.space_values.copy()
        values[self.space_dofs] = x
        return values


@dataclass
class OperatorProblem(Problem):
    """A parametric PDE given by input fields on a grid, solved for a field on that grid.

    Parameters
    ----------
    pde : str
        Name of the equation, for example ``"darcy"``.
    inputs : dict of str to ndarray
        Input fields on the grid (coefficient, source, ...), each of shape
        ``geometry.shape``.
    geometry : GridGeometry
        The grid of the input and output fields.
    linear_problem : LinearProblem, optional
        The assembled discrete system whose solution, mapped to the grid, is the answer.
        Learned operators report its residual and ``refine=`` iterates on it.
    """

    kind: ClassVar[str] = "operator"

    pde: str
    inputs: dict[str, np.ndarray]
    geometry: GridGeometry
    linear_problem: LinearProblem | None = None
    name: str = "operator"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.inputs.items():
            value = np.asarray(value, dtype=np.float64)
            if value.shape != self.geometry.shape:
                raise ValueError(
                    f"input field {key!r} has shape {value.shape}, expected the grid shape "
                    f"{self.geometry.shape}"
                )
            _check_finite(f"input field {key!r}", value)
            self.inputs[key] = value


@dataclass
class WaveProblem(Problem):
    """The 2D scalar wave equation ``u_tt = div(c^2 grad u)`` on a grid.

    Parameters
    ----------
    initial : ndarray, shape (ny, nx) or (k, ny, nx)
        Initial displacement, or the first ``k`` states of the time series.
    speed : ndarray, shape (ny, nx)
        Wave speed ``c`` at each grid point.
    dt : float
        Time step.
    steps : int
        Number of time steps to take.
    geometry : GridGeometry
        The grid of the fields.
    boundary : {"absorbing", "reflecting"}
        Boundary condition on the outer edge.
    """

    kind: ClassVar[str] = "wave"

    initial: np.ndarray
    speed: np.ndarray
    dt: float
    steps: int
    geometry: GridGeometry
    boundary: str = "reflecting"
    name: str = "wave"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.initial = np.asarray(self.initial, dtype=np.float64)
        self.speed = np.asarray(self.speed, dtype=np.float64)
        grid = self.geometry.shape
        if self.initial.shape[-2:] != grid or self.initial.ndim not in (2, 3):
            raise ValueError(
                f"initial has shape {self.initial.shape}; expected {grid} or (k, *{grid})"
            )
        if self.speed.shape != grid:
            raise ValueError(f"speed has shape {self.speed.shape}, expected {grid}")
        _check_finite("initial", self.initial)
        _check_finite("speed", self.speed)
        if np.any(self.speed <= 0):
            raise ValueError("speed must be positive everywhere")
        if not (self.dt > 0 and np.isfinite(self.dt)):
            raise ValueError(f"dt must be a positive finite number, got {self.dt}")
        if int(self.steps) != self.steps or self.steps < 1:
            raise ValueError(f"steps must be a positive integer, got {self.steps}")
        if self.boundary not in ("absorbing", "reflecting"):
            raise ValueError(
                f"boundary must be 'absorbing' or 'reflecting', got {self.boundary!r}"
            )


@dataclass
class ForecastProblem(Problem):
    """Forecast the next ``horizon`` values of a multivariate time series.

    Parameters
    ----------
    history : ndarray, shape (time, channels)
        Observed values, oldest first.
    horizon : int
        Number of future steps to forecast.
    channels : list of str, optional
        Channel names, for tables and files.
    """

    kind: ClassVar[str] = "forecast"

    history: np.ndarray
    horizon: int
    channels: list[str] | None = None
    name: str = "forecast"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        history = np.asarray(self.history, dtype=np.float64)
        if history.ndim == 1:
            history = history[:, None]
        if history.ndim != 2:
            raise ValueError(
                f"history must have shape (time, channels), got {np.shape(self.history)}"
            )
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {self.horizon}")
        if self.channels is not None and len(self.channels) != history.shape[1]:
            raise ValueError(
                f"{len(self.channels)} channel names given for {history.shape[1]} channels"
            )
        self.history = history
        self.horizon = int(self.horizon)
