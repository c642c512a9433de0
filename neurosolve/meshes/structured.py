"""Structured simplex meshes of the unit square and cube, and their maps to grid arrays.

A grid of ``shape = (ny, nx)`` or ``(nz, ny, nx)`` points is meshed with ``n - 1`` cells
per side. Each grid cell (a square or cube between neighbouring grid points) is split
into 2 triangles or 6 tetrahedra, so P1 degrees of freedom coincide with grid points and
every simplex lies inside exactly one grid cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def unit_grid_mesh(shape: tuple[int, ...], comm: Any = None) -> Any:
    """Create a dolfinx simplex mesh of the unit square or cube with ``shape`` vertices.

    Parameters
    ----------
    shape : tuple of int
        Grid points per axis in array order, ``(ny, nx)`` or ``(nz, ny, nx)``; each at
        least 2.
    comm : mpi4py communicator, optional
        Defaults to ``MPI.COMM_SELF``, so every process builds the whole mesh.

    Returns
    -------
    dolfinx.mesh.Mesh
    """
    import dolfinx_solver  # noqa: F401  (loads the bundled PETSc and MPI before dolfinx)
    from dolfinx import mesh
    from mpi4py import MPI

    comm = MPI.COMM_SELF if comm is None else comm
    cells = [n - 1 for n in reversed(shape)]  # dolfinx counts cells in (x, y[, z]) order
    if len(shape) == 2:
        nx, ny = cells
        return mesh.create_unit_square(comm, nx, ny, cell_type=mesh.CellType.triangle)
    if len(shape) == 3:
        nx, ny, nz = cells
        return mesh.create_unit_cube(comm, nx, ny, nz, cell_type=mesh.CellType.tetrahedron)
    raise ValueError(f"shape must have 2 or 3 axes, got {shape}")


def point_grid_indices(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return the flat C-order grid index of each point of the unit square or cube.

    Parameters
    ----------
    points : ndarray, shape (m, 3)
        Point coordinates ``(x, y, z)``, as dolfinx tabulates them; each must lie on a grid
        point up to rounding.
    shape : tuple of int
        Grid points per axis in array order.

    Returns
    -------
    ndarray of int64, shape (m,)

    Raises
    ------
    ValueError
        If a point is further than 1e-6 grid spacings from the nearest grid point.
    """
    axes = len(shape)
    # Column k of ``points`` is coordinate x, y, z; array axis j is (z, y, x)[-axes:][j].
    scaled = np.stack(
        [points[:, axes - 1 - j] * (shape[j] - 1) for j in range(axes)], axis=1
    )
    index = np.rint(scaled)
    if np.max(np.abs(scaled - index), initial=0.0) > 1e-6:
        raise ValueError(f"points do not lie on the grid of shape {shape}")
    return np.ravel_multi_index(tuple(index.astype(np.int64).T), shape)


def cell_grid_indices(msh: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return, for each local cell of ``msh``, the flat C-order index of its grid cell.

    Grid cells form an array of shape ``tuple(n - 1 for n in shape)``; a simplex belongs
    to the grid cell that contains its midpoint.
    """
    from dolfinx import mesh

    tdim = msh.topology.dim
    count = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
    midpoints = mesh.compute_midpoints(msh, tdim, np.arange(count, dtype=np.int32))
    cells_shape = tuple(n - 1 for n in shape)
    axes = len(shape)
    index = [
        np.clip(np.floor(midpoints[:, axes - 1 - j] * cells_shape[j]), 0, cells_shape[j] - 1)
        for j in range(axes)
    ]
    return np.ravel_multi_index(tuple(i.astype(np.int64) for i in index), cells_shape)
