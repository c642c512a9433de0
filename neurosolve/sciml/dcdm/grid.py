"""Masks and a finite-difference Laplacian on vertex grids with obstacle cells.

The operator is the five-point (2D) or seven-point (3D) Laplacian written cell by cell:
each domain cell adds its share of the coupling across each of its edges, so removing an
obstacle cell leaves a zero-flux (Neumann) wall, and points on the outer boundary are
eliminated as homogeneous Dirichlet values. In 2D this is exactly the P1 stiffness matrix
of the structured triangle mesh. Training uses it when :func:`neurosolve.problems.poisson`
is not available, and tests use it to build problems without dolfinx.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from ...solvers.problems import GridGeometry, LinearProblem


def points_touching_cells(cell_mask: np.ndarray) -> np.ndarray:
    """Return the grid-point mask of points that are a corner of at least one True cell.

    Parameters
    ----------
    cell_mask : ndarray of bool, shape ``shape - 1`` per axis

    Returns
    -------
    ndarray of bool, shape ``cell_mask.shape + 1`` per axis
    """
    cell_mask = np.asarray(cell_mask, dtype=bool)
    touched = np.zeros(tuple(n + 1 for n in cell_mask.shape), dtype=bool)
    for corner in itertools.product((0, 1), repeat=cell_mask.ndim):
        window = tuple(slice(c, c + n) for c, n in zip(corner, cell_mask.shape, strict=True))
        touched[window] |= cell_mask
    return touched


def interior_points(shape: tuple[int, ...]) -> np.ndarray:
    """Return the mask of grid points that are not on the outer boundary."""
    interior = np.zeros(shape, dtype=bool)
    interior[tuple(slice(1, n - 1) for n in shape)] = True
    return interior


def random_box_obstacles(
    shape: tuple[int, ...], count: int, rng: np.random.Generator
) -> np.ndarray:
    """Return a cell mask (True = domain) with ``count`` random boxes removed.

    Each box spans 5-20 % of the domain along each axis and keeps clear of the outer
    boundary, so every obstacle is surrounded by domain cells.
    """
    cells = tuple(n - 1 for n in shape)
    mask = np.ones(cells, dtype=bool)
    for _ in range(count):
        window = []
        for n in cells:
            width = int(rng.integers(max(1, n // 20), max(2, n // 5) + 1))
            start = int(rng.integers(1, max(2, n - width - 1)))
            window.append(slice(start, min(start + width, n - 1)))
        mask[tuple(window)] = False
    return mask


def grid_laplacian(
    shape: tuple[int, ...], cell_mask: np.ndarray | None = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Assemble the cell-wise Laplacian on a vertex grid of the unit square or cube.

    Parameters
    ----------
    shape : tuple of int
        Grid points per axis, ``(ny, nx)`` or ``(nz, ny, nx)``, at least 3 each.
    cell_mask : ndarray of bool, optional
        True for domain cells, shape ``shape - 1`` per axis. All cells when None.

    Returns
    -------
    A : csr_matrix, shape (n, n)
        Symmetric positive definite matrix over the free points, scaled like the P1
        stiffness matrix (``h^(d-2)`` times the stencil).
    free : ndarray of bool, shape ``shape``
        True at the free points (touching a domain cell and not on the outer boundary),
        numbered in C order.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 3:
        raise ValueError(f"shape must have 2 or 3 axes of at least 3 points, got {shape}")
    cells = tuple(n - 1 for n in shape)
    if cell_mask is None:
        cell_mask = np.ones(cells, dtype=bool)
    cell_mask = np.asarray(cell_mask, dtype=bool)
    if cell_mask.shape != cells:
        raise ValueError(f"cell_mask has shape {cell_mask.shape}, expected {cells}")

    spacing = [1.0 / (n - 1) for n in shape]
    index = np.arange(int(np.prod(shape))).reshape(shape)
    rows, cols, weights = [], [], []
    ndim = len(shape)
    share = 0.5 ** (ndim - 1)  # each edge is shared by 2^(d-1) cells
    for axis in range(ndim):
        # Edge weight h^(d-1) / h_axis, as in the P1 stiffness matrix on a regular mesh.
        weight = share * np.prod(spacing) / spacing[axis] ** 2
        for corner in itertools.product((0, 1), repeat=ndim - 1):
            offsets = list(corner)
            offsets.insert(axis, 0)
            start = tuple(slice(o, o + c) for o, c in zip(offsets, cells, strict=True))
            shifted = list(start)
            shifted[axis] = slice(1, 1 + cells[axis])
            rows.append(index[start][cell_mask])
            cols.append(index[tuple(shifted)][cell_mask])
            weights.append(np.full(int(cell_mask.sum()), weight))
    i = np.concatenate(rows)
    j = np.concatenate(cols)
    w = np.concatenate(weights)
    size = index.size
    off = sp.coo_matrix((-w, (i, j)), shape=(size, size))
    off = (off + off.T).tocsr()
    laplacian = (sp.diags(-np.asarray(off.sum(axis=1)).ravel()) + off).tocsr()

    free = points_touching_cells(cell_mask) & interior_points(shape)
    keep = np.flatnonzero(free.ravel())
    A = laplacian[keep][:, keep].tocsr()
    A.eliminate_zeros()
    return A, free


def grid_poisson_problem(
    shape: tuple[int, ...],
    cell_mask: np.ndarray | None = None,
    *,
    b: np.ndarray | None = None,
    seed: int = 0,
) -> LinearProblem:
    """Build a :class:`LinearProblem` with grid geometry from :func:`grid_laplacian`.

    ``b`` defaults to a seeded standard normal vector over the free points.
    """
    A, free = grid_laplacian(shape, cell_mask)
    if cell_mask is None:
        cell_mask = np.ones(tuple(n - 1 for n in shape), dtype=bool)
    geometry = GridGeometry(
        shape=tuple(shape), dof_to_grid=np.flatnonzero(free.ravel()), free=free,
        cell_mask=np.asarray(cell_mask, dtype=bool),
    )
    if b is None:
        b = np.random.default_rng(seed).standard_normal(A.shape[0])
    return LinearProblem(A, b, geometry=geometry, spd=True, name=f"grid-poisson-{shape}")
