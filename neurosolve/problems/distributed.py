"""Assemble the Poisson problem on a mesh distributed over the ranks of a communicator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..solvers.distributed import DistributedLinearProblem
from ..solvers.problems import GridGeometry


def distributed_poisson(
    shape: tuple[int, ...],
    comm: Any,
    *,
    coefficient: Any = None,
    source: Any = 1.0,
    name: str | None = None,
) -> DistributedLinearProblem:
    """Assemble ``-div(k grad u) = f``, ``u = 0`` on the boundary, over ``comm``'s ranks.

    Parameters
    ----------
    shape : tuple of int
        Grid points per axis, ``(ny, nx)`` or ``(nz, ny, nx)``; the mesh has ``n - 1``
        cells per side of the unit square or cube, as in the one-process constructor.
    comm : mpi4py.MPI.Comm
        Communicator over which the mesh, matrix and vector are distributed.
    coefficient, source : float, callable or ndarray
        ``k`` and ``f``: a number, a function of coordinates ``(3, m) -> (m,)``, or an
        array of grid-point values of shape ``shape``.

    Returns
    -------
    DistributedLinearProblem

    Notes
    -----
    Dirichlet points stay in the system as identity rows with zero right-hand side. With
    ``x0 = 0`` they keep the value 0 and add nothing to ``||b||`` or ``||b - A x||``,
    so the stopping rule and the solution on the grid match the one-process problem,
    which eliminates them.
    """
    import dolfinx_solver  # noqa: F401, I001  (loads the bundled PETSc before dolfinx)
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    shape = tuple(int(n) for n in shape)
    cells = [n - 1 for n in reversed(shape)]  # dolfinx counts cells in x, y, z order
    if len(shape) == 2:
        mesh = dolfinx.mesh.create_unit_square(comm, cells[0], cells[1])
    elif len(shape) == 3:
        mesh = dolfinx.mesh.create_unit_cube(comm, cells[0], cells[1], cells[2])
    else:
        raise ValueError(f"shape must be (ny, nx) or (nz, ny, nx), got {shape}")
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))

    k = _as_function(coefficient if coefficient is not None else 1.0, V, shape, "coefficient")
    f = _as_function(source, V, shape, "source")
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dolfinx.fem.form(k * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = dolfinx.fem.form(f * v * ufl.dx)

    dimension = mesh.topology.dim
    mesh.topology.create_connectivity(dimension - 1, dimension)
    boundary_facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    boundary_dofs = dolfinx.fem.locate_dofs_topological(V, dimension - 1, boundary_facets)
    bc = dolfinx.fem.dirichletbc(0.0, boundary_dofs, V)

    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    b = dolfinx.fem.petsc.assemble_vector(L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[[bc]])
    b.ghostUpdate(addv=_petsc().InsertMode.ADD, mode=_petsc().ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, [bc])

    owned = V.dofmap.index_map.size_local
    coordinates = V.tabulate_dof_coordinates()[:owned, : len(shape)]
    indices = np.rint(coordinates[:, ::-1] * (np.array(shape) - 1)).astype(np.int64)
    owned_to_grid = np.ravel_multi_index(tuple(indices.T), shape)

    free = np.ones(shape, dtype=bool)
    for axis in range(len(shape)):
        index: list[slice | int] = [slice(None)] * len(shape)
        for end in (0, -1):
            index[axis] = end
            free[tuple(index)] = False
    label = name or "poisson-" + "x".join(str(n) for n in shape) + f"-mpi{comm.size}"
    return DistributedLinearProblem(
        A=A, b=b, comm=comm, geometry=GridGeometry(shape, free=free),
        owned_to_grid=owned_to_grid, function_space=V, name=label,
        provenance={
            "constructor": "poisson", "shape": list(shape), "ranks": comm.size,
            "coefficient": _describe(coefficient), "source": _describe(source),
            "dirichlet": "u = 0 on every side",
        },
    )


def _petsc() -> Any:
    from petsc4py import PETSc

    return PETSc


def _as_function(value: Any, V: Any, shape: tuple[int, ...], argument: str) -> Any:
    import dolfinx

    function = dolfinx.fem.Function(V)
    if isinstance(value, int | float | np.integer | np.floating):
        function.x.array[:] = float(value)
        return function
    if callable(value):
        function.interpolate(value)
        return function
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(
            f"{argument} array has shape {array.shape}; under MPI it must hold grid-point "
            f"values of shape {shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{argument} contains NaN or infinite values")

    def lookup(x: np.ndarray) -> np.ndarray:
        points = x[: len(shape)][::-1].T * (np.array(shape) - 1)
        index = np.clip(np.rint(points).astype(np.int64), 0, np.array(shape) - 1)
        return array[tuple(index.T)]

    function.interpolate(lookup)
    return function


def _describe(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    if callable(value):
        return f"function {getattr(value, '__qualname__', type(value).__name__)}"
    array = np.asarray(value)
    return f"array {list(array.shape)}, min {array.min():.6g}, max {array.max():.6g}"
