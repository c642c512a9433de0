"""Geometric multigrid on structured vertex grids with masks: ``gmg`` and ``pcg-gmg``.

The hierarchy is built from the grid alone. Each coarsening keeps every second grid point
along each axis with more than three points, plus the last point, so any size works
(``2^k + 1`` sizes halve exactly). The prolongation is the tensor product of 1D linear
interpolation on that coarse grid (bilinear in 2D, trilinear in 3D), restricted to the
unknowns; the coarse operator is the Galerkin product ``P^T A P``. A coarse point is an
unknown when its fine point is one. Points that lie inside an obstacle (touching no domain
cell) carry no unknown, and the interpolation weight they would give to a neighbouring wall
point is handed to the remaining coarse points of that row, so constants are still
interpolated exactly next to zero-flux walls.

The V-cycle smooths with forward Gauss-Seidel before the coarse correction and backward
Gauss-Seidel after it (pyamg's compiled sweeps), or with damped Jacobi on both sides, so
the cycle is a symmetric positive definite operator and may precondition CG.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, splu

from .krylov import conjugate_gradient
from .problems import GridGeometry, LinearProblem
from .registry import Method, MethodOutput, register

logger = logging.getLogger(__name__)

FREE, DIRICHLET, DEAD = 0, 1, 2
SMOOTHERS = ("gauss-seidel", "jacobi")


def coarse_points_1d(n: int) -> np.ndarray:
    """Return the fine indices kept on the coarse grid: every second one and the last."""
    if n <= 3:
        return np.arange(n)
    kept = np.arange(0, n, 2)
    return kept if kept[-1] == n - 1 else np.append(kept, n - 1)


def interpolation_1d(n: int) -> sp.csr_matrix:
    """Return the linear interpolation matrix from :func:`coarse_points_1d` to ``n`` points."""
    coarse = coarse_points_1d(n)
    fine = np.arange(n)
    right = np.clip(np.searchsorted(coarse, fine, side="left"), 1, len(coarse) - 1)
    left = right - 1
    weight = (fine - coarse[left]) / (coarse[right] - coarse[left])
    rows = np.concatenate([fine, fine])
    cols = np.concatenate([left, right])
    vals = np.concatenate([1.0 - weight, weight])
    matrix = sp.coo_matrix((vals, (rows, cols)), shape=(n, len(coarse))).tocsr()
    matrix.eliminate_zeros()
    return matrix


def point_status(geometry: GridGeometry) -> np.ndarray:
    """Classify grid points as FREE (an unknown), DIRICHLET or DEAD (inside an obstacle)."""
    shape = geometry.shape
    if geometry.free is not None:
        free = np.asarray(geometry.free, dtype=bool)
    elif geometry.dof_to_grid is not None:
        free = np.zeros(geometry.size, dtype=bool)
        free[geometry.dof_to_grid] = True
        free = free.reshape(shape)
    else:
        free = np.ones(shape, dtype=bool)
    status = np.full(shape, DIRICHLET, dtype=np.int8)
    if geometry.cell_mask is not None:
        touched = np.zeros(shape, dtype=bool)
        cells = np.asarray(geometry.cell_mask, dtype=bool)
        for corner in itertools.product((0, 1), repeat=cells.ndim):
            window = tuple(slice(c, c + n) for c, n in zip(corner, cells.shape, strict=True))
            touched[window] |= cells
        status[~touched] = DEAD
    status[free] = FREE
    return status


def unknown_order(geometry: GridGeometry, status: np.ndarray) -> np.ndarray:
    """Return the flat grid index of each unknown, in the problem's numbering."""
    if geometry.dof_to_grid is not None:
        return np.asarray(geometry.dof_to_grid, dtype=np.int64)
    return np.flatnonzero(status.ravel() == FREE)


def check_grid_problem(problem: Any, method: str) -> GridGeometry:
    """Raise ``ValueError`` unless ``problem`` is a linear system on a 2D or 3D grid."""
    geometry = getattr(problem, "geometry", None)
    if not isinstance(problem, LinearProblem) or geometry is None:
        raise ValueError(
            f"method {method!r} needs a linear problem on a structured grid (a LinearProblem "
            f"with geometry, as built by problems.poisson(shape=...)); "
            f"{getattr(problem, 'name', problem)!r} has none. For unstructured meshes use "
            f"'pcg-amg' or 'petsc'"
        )
    if geometry.ndim not in (2, 3):
        raise ValueError(f"method {method!r} needs a 2D or 3D grid, got shape {geometry.shape}")
    if isinstance(problem.A, LinearOperator):
        raise ValueError(f"method {method!r} needs the entries of A, not a LinearOperator")
    unknowns = (
        geometry.size if geometry.dof_to_grid is None else geometry.dof_to_grid.shape[0]
    )
    if unknowns != problem.n:
        raise ValueError(
            f"the grid {geometry.shape} has {unknowns} unknowns but A has {problem.n} rows"
        )
    if geometry.free is not None and int(np.count_nonzero(geometry.free)) != problem.n:
        raise ValueError(
            f"geometry.free marks {int(np.count_nonzero(geometry.free))} points but A has "
            f"{problem.n} rows; the mask must mark exactly the unknowns"
        )
    return geometry


@dataclass
class Level:
    """One level of the hierarchy: its operator and the prolongation from the next one."""

    A: sp.csr_matrix
    P: sp.csr_matrix | None = None


def _coarsen(
    shape: tuple[int, ...], status: np.ndarray, fine_order: np.ndarray
) -> tuple[sp.csr_matrix, tuple[int, ...], np.ndarray, np.ndarray]:
    """Build the prolongation to the fine unknowns from the next coarser grid."""
    factors = [interpolation_1d(n) for n in shape]
    grid_P = factors[0]
    for factor in factors[1:]:
        grid_P = sp.kron(grid_P, factor, format="csr")
    kept = [coarse_points_1d(n) for n in shape]
    coarse_shape = tuple(len(k) for k in kept)
    coarse_status = status[np.ix_(*kept)]
    flat_status = coarse_status.ravel()
    coarse_order = np.flatnonzero(flat_status == FREE)

    rows = grid_P[fine_order]
    P = rows[:, coarse_order].tocsr()
    # Hand the weight of coarse points inside obstacles to the remaining coarse points.
    dead_weight = np.asarray(rows[:, flat_status == DEAD].sum(axis=1)).ravel()
    kept_weight = np.asarray(P.sum(axis=1)).ravel()
    scale = np.ones_like(kept_weight)
    fixable = (dead_weight > 0) & (kept_weight > 0)
    scale[fixable] = (kept_weight[fixable] + dead_weight[fixable]) / kept_weight[fixable]
    P = (sp.diags(scale) @ P).tocsr()
    return P, coarse_shape, coarse_status, coarse_order


class GeometricMultigrid:
    """A Galerkin geometric multigrid hierarchy and its symmetric V-cycle.

    Parameters
    ----------
    A : sparse matrix, shape (n, n)
        Symmetric positive definite matrix over the unknowns of ``geometry``.
    geometry : GridGeometry
        The grid; ``free``/``dof_to_grid`` name the unknowns and ``cell_mask`` the
        obstacles.
    smoother : {"gauss-seidel", "jacobi"}
        Gauss-Seidel sweeps forward before and backward after the coarse correction;
        Jacobi is damped by ``jacobi_weight``.
    sweeps : int
        Smoothing sweeps on each side of the coarse correction.
    max_coarse : int
        Coarsening stops once a level has at most this many unknowns; that level is
        solved by a sparse LU factorisation.
    jacobi_weight : float
        Damping of the Jacobi smoother.

    Raises
    ------
    ValueError
        For an unknown smoother or non-positive ``sweeps`` or ``max_coarse``.
    """

    def __init__(
        self,
        A: sp.spmatrix,
        geometry: GridGeometry,
        *,
        smoother: str = "gauss-seidel",
        sweeps: int = 1,
        max_coarse: int = 500,
        jacobi_weight: float = 0.8,
    ) -> None:
        if smoother not in SMOOTHERS:
            raise ValueError(f"smoother must be one of {SMOOTHERS}, got {smoother!r}")
        if int(sweeps) != sweeps or sweeps < 1:
            raise ValueError(f"sweeps must be a positive integer, got {sweeps}")
        if int(max_coarse) != max_coarse or max_coarse < 1:
            raise ValueError(f"max_coarse must be a positive integer, got {max_coarse}")
        self.smoother = smoother
        self.sweeps = int(sweeps)
        self.jacobi_weight = float(jacobi_weight)

        A = sp.csr_matrix(A, dtype=np.float64)
        shape = tuple(geometry.shape)
        status = point_status(geometry)
        order = unknown_order(geometry, status)
        self.levels: list[Level] = [Level(A)]
        self.shapes: list[tuple[int, ...]] = [shape]
        while A.shape[0] > max_coarse and any(n > 3 for n in shape):
            P, shape, status, order = _coarsen(shape, status, order)
            if P.shape[1] == 0 or P.shape[1] >= A.shape[0]:
                break
            A = (P.T @ A @ P).tocsr()
            A.sum_duplicates()
            self.levels[-1].P = P
            self.levels.append(Level(A))
            self.shapes.append(shape)
        self._inverse_diagonals = [1.0 / level.A.diagonal() for level in self.levels]
        self._coarse_lu = splu(self.levels[-1].A.tocsc())
        sizes = [f"{s} ({lv.A.shape[0]})" for s, lv in zip(self.shapes, self.levels, strict=True)]
        logger.debug("gmg hierarchy: %s", ", ".join(sizes))

    @property
    def operator_complexity(self) -> float:
        """Total non-zeros of all level operators divided by those of the finest one."""
        return sum(level.A.nnz for level in self.levels) / self.levels[0].A.nnz

    def _smooth(self, index: int, x: np.ndarray, b: np.ndarray, sweep: str) -> None:
        A = self.levels[index].A
        if self.smoother == "gauss-seidel":
            from pyamg.relaxation.relaxation import gauss_seidel

            gauss_seidel(A, x, b, iterations=self.sweeps, sweep=sweep)
            return
        for _ in range(self.sweeps):
            x += self.jacobi_weight * self._inverse_diagonals[index] * (b - A @ x)

    def _cycle(self, index: int, b: np.ndarray) -> np.ndarray:
        level = self.levels[index]
        if level.P is None:
            return self._coarse_lu.solve(b)
        x = np.zeros_like(b)
        self._smooth(index, x, b, "forward")
        coarse = self._cycle(index + 1, level.P.T @ (b - level.A @ x))
        x += level.P @ coarse
        self._smooth(index, x, b, "backward")
        return x

    def vcycle(self, r: np.ndarray) -> np.ndarray:
        """Apply one V-cycle from a zero initial guess: an approximation of ``inv(A) r``."""
        return self._cycle(0, np.asarray(r, dtype=np.float64))

    def aspreconditioner(self) -> LinearOperator:
        """Return the V-cycle as a scipy LinearOperator."""
        n = self.levels[0].A.shape[0]
        return LinearOperator((n, n), matvec=self.vcycle, dtype=np.float64)


class _GridMultigridMethod(Method):
    requires_spd = True
    requires_grid = True

    def __init__(
        self, *, smoother: str = "gauss-seidel", sweeps: int = 1, max_coarse: int = 500
    ) -> None:
        if smoother not in SMOOTHERS:
            raise ValueError(f"smoother must be one of {SMOOTHERS}, got {smoother!r}")
        self.smoother = smoother
        self.sweeps = sweeps
        self.max_coarse = max_coarse

    def check(self, problem) -> None:
        check_grid_problem(problem, self.name)

    def setup(self, problem) -> None:
        self.hierarchy = GeometricMultigrid(
            problem.A, problem.geometry, smoother=self.smoother, sweeps=self.sweeps,
            max_coarse=self.max_coarse,
        )


@register
class GMG(_GridMultigridMethod):
    """Stationary V-cycle iteration ``x <- x + V(b - A x)`` on a structured grid.

    Stops when ``||b - A x|| <= max(rtol * ||b||, atol)`` on the true residual, which the
    iteration computes anyway. ``maxiter`` defaults to 200. Options: ``smoother``
    (``"gauss-seidel"`` or ``"jacobi"``), ``sweeps`` per side, ``max_coarse`` unknowns on
    the coarsest level.
    """

    name = "gmg"
    description = "geometric multigrid V-cycles on structured grids with obstacle masks"

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        maxiter = 200 if maxiter is None else int(maxiter)
        b = problem.b
        b_norm = float(np.linalg.norm(b))
        threshold = max(rtol * b_norm, atol)
        x = np.zeros(problem.n) if x0 is None else x0.copy()
        r = b - problem.matvec(x)
        residuals = [float(np.linalg.norm(r)) / b_norm]
        for k in range(1, maxiter + 1):
            if residuals[-1] * b_norm <= threshold:
                return MethodOutput(x, 0, k - 1, residuals, "converged")
            x += self.hierarchy.vcycle(r)
            r = b - problem.matvec(x)
            r_norm = float(np.linalg.norm(r))
            if not np.isfinite(r_norm):
                return MethodOutput(x, -3, k, residuals, "iterate is no longer finite")
            residuals.append(r_norm / b_norm)
            if callback is not None:
                callback(x)
        if residuals[-1] * b_norm <= threshold:
            return MethodOutput(x, 0, maxiter, residuals, "converged")
        return MethodOutput(x, maxiter, maxiter, residuals, f"reached maxiter={maxiter}")


@register
class PCGGMG(_GridMultigridMethod):
    """Conjugate gradients preconditioned by one geometric multigrid V-cycle.

    Same options as ``gmg``; ``maxiter`` defaults to ``10 n``.
    """

    name = "pcg-gmg"
    description = "conjugate gradients preconditioned by a geometric multigrid V-cycle"

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        return conjugate_gradient(
            problem.matvec, problem.b, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
            precondition=self.hierarchy.vcycle, callback=callback,
        )
