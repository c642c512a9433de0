"""The Poisson problem ``-div(k grad u) = f`` assembled with P1 finite elements in dolfinx.

Dirichlet points are eliminated: ``A`` couples the free unknowns only, and the known
values move to the right-hand side, so ``A`` stays symmetric positive definite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ..meshes.obstacles import check_cell_mask, random_box_obstacles
from ..solvers.problems import GridGeometry, LinearProblem
from .poisson_assembly import FloatingRegionError, GridFields, assemble_poisson

if TYPE_CHECKING:
    from ..solvers.distributed import DistributedLinearProblem

logger = logging.getLogger(__name__)

SIDES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

# A value given for a field: a number, a grid array or a function of coordinates.
FieldValue = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


@overload
def poisson(
    shape: tuple[int, ...] | None = ..., *, mesh: Any = ...,
    coefficient: FieldValue | None = ..., source: FieldValue = ..., dirichlet: Any = ...,
    neumann: Mapping[str, Any] | None = ..., obstacles: Any = ..., seed: int | None = ...,
    resolution: float | None = ..., name: str | None = ..., comm: None = ...,
) -> LinearProblem: ...


@overload
def poisson(
    shape: tuple[int, ...] | None = ..., *, mesh: Any = ...,
    coefficient: FieldValue | None = ..., source: FieldValue = ..., dirichlet: Any = ...,
    neumann: Mapping[str, Any] | None = ..., obstacles: Any = ..., seed: int | None = ...,
    resolution: float | None = ..., name: str | None = ..., comm: Any,
) -> LinearProblem | DistributedLinearProblem: ...


def poisson(
    shape: tuple[int, ...] | None = None,
    *,
    mesh: Any = None,
    coefficient: FieldValue | None = None,
    source: FieldValue = 1.0,
    dirichlet: Any = None,
    neumann: Mapping[str, Any] | None = None,
    obstacles: Any = None,
    seed: int | None = None,
    resolution: float | None = None,
    name: str | None = None,
    comm: Any = None,
) -> LinearProblem | DistributedLinearProblem:
    """Assemble ``-div(k grad u) = f`` with P1 finite elements as a linear problem.

    Give exactly one of ``shape`` (a structured grid on the unit square or cube) and
    ``mesh`` (an unstructured mesh).

    Parameters
    ----------
    shape : tuple of int, optional
        Grid points per axis in array order, ``(ny, nx)`` or ``(nz, ny, nx)``, each at
        least 3. The mesh has ``n - 1`` cells per side and its vertices are the grid.
    mesh : dolfinx.mesh.Mesh or str, optional
        An unstructured mesh, or the name of one from :func:`neurosolve.meshes.named_mesh`
        (for example ``"plate-with-holes"``, meshed by gmsh at ``resolution``).
    coefficient : float, ndarray or callable, optional
        Diffusion coefficient ``k > 0``, default 1. An array of shape ``shape`` gives
        values at grid points (interpolated as P1); an array of shape
        ``tuple(n - 1 for n in shape)`` gives one value per grid cell (DG0). A callable
        takes coordinates of shape ``(3, m)`` and returns ``m`` values.
    source : float, ndarray or callable
        Source ``f``, in the same forms as ``coefficient`` (default 1).
    dirichlet : str, sequence of str or dict, optional
        Boundary parts with a prescribed value ``u = g``. Parts of the unit square are
        ``"xmin"``, ``"xmax"``, ``"ymin"``, ``"ymax"`` (and ``"zmin"``, ``"zmax"`` in 3D);
        ``"all"`` names every part that ``neumann`` does not. A dict maps parts to
        values ``g`` (a number, a callable of coordinates or a grid array). Default:
        ``u = 0`` on every part that ``neumann`` does not name.
        Where two parts with different values meet, the later one in the dict wins.
    neumann : dict, optional
        Boundary parts with a prescribed flux ``k du/dn = g``, mapped to ``g`` (a number
        or a callable of coordinates). Parts in neither dict, obstacle walls included,
        get ``k du/dn = 0``.
    obstacles : ndarray of bool or int, optional
        Cells excluded from the domain: a mask of shape ``tuple(n - 1 for n in shape)``
        (True marks an obstacle cell), or a count of random boxes placed from ``seed``.
        Grid points that touch no domain cell are not unknowns.
    seed : int, optional
        Seed of the random obstacle placement.
    resolution : float, optional
        Target cell size of a named gmsh mesh.
    name : str, optional
        Label for tables and files; defaults to a description of the settings.
    comm : mpi4py communicator, optional
        With more than one rank, the mesh and system are distributed over its ranks and a
        :class:`~neurosolve.solvers.distributed.DistributedLinearProblem` is returned
        (structured grids with ``u = 0`` on the whole boundary only). By default, and
        for a one-rank communicator, every process assembles the whole system alone.

    Returns
    -------
    LinearProblem or DistributedLinearProblem
        ``A`` (CSR, SPD) over the free unknowns, ``b``, ``spd=True``, ``function_space``,
        and for structured grids ``geometry`` with ``dof_to_grid``, ``free`` and
        ``cell_mask``. ``to_grid(x)`` and ``to_space(x)`` map a solution back.

    Raises
    ------
    ValueError
        If the shape, masks or fields are invalid, a boundary part is unknown, no part is
        Dirichlet (the problem would be singular), or a region of the domain is cut off
        from every Dirichlet part by an explicit obstacle mask.

    Notes
    -----
    Unless ``comm`` has more than one rank, meshes are built on ``MPI.COMM_SELF``, so
    each process assembles the whole system.
    Random obstacles that cut a pocket off from every Dirichlet part have the pocket
    filled with obstacle cells, so the returned ``geometry.cell_mask`` may cover more
    cells than the boxes.
    """
    if (shape is None) == (mesh is None):
        raise ValueError("give exactly one of shape=(n, n) / (n, n, n) and mesh=...")
    if comm is not None and comm.size > 1:
        return _distributed(shape, comm, coefficient, source, dirichlet, neumann, obstacles, name)
    if mesh is not None:
        if obstacles is not None:
            raise ValueError("obstacles= applies to structured grids (shape=...) only")
        return poisson_on_mesh(
            mesh, coefficient=coefficient, source=source, dirichlet=dirichlet,
            neumann=neumann, resolution=resolution, name=name,
        )
    shape = _check_shape(shape)
    obstacle_mask = _obstacle_mask(obstacles, shape, seed)
    provenance = {
        "constructor": "poisson",
        "shape": list(shape),
        "coefficient": describe(coefficient if coefficient is not None else 1.0),
        "source": describe(source),
        "dirichlet": _describe_parts(dirichlet),
        "neumann": _describe_parts(neumann or {}),
        "obstacles": describe(obstacles),
        "seed": seed,
    }
    label = name or _default_name(shape, coefficient, obstacles, neumann)
    for _ in range(3):
        try:
            return _assemble_structured(
                shape, obstacle_mask, coefficient, source, dirichlet, neumann, label, provenance
            )
        except FloatingRegionError as err:
            if not isinstance(obstacles, int | np.integer) or isinstance(obstacles, bool):
                raise ValueError(str(err)) from None
            logger.info("filling %d pocket cells cut off by random obstacles", err.cells.size)
            obstacle_mask.reshape(-1)[err.cells] = True
    raise ValueError("random obstacles kept cutting regions off; try another seed")


def _distributed(
    shape, comm, coefficient, source, dirichlet, neumann, obstacles, name
) -> DistributedLinearProblem:
    from .distributed import distributed_poisson

    unsupported = {
        "mesh": shape is None, "obstacles": obstacles is not None, "neumann": bool(neumann),
        "dirichlet": dirichlet not in (None, "all"),
    }
    given = [argument for argument, used in unsupported.items() if used]
    if given:
        raise ValueError(
            f"a communicator with {comm.size} ranks supports structured grids with u = 0 on "
            f"the whole boundary only, but {', '.join(given)} was given; leave comm unset to "
            f"assemble on each process"
        )
    return distributed_poisson(
        _check_shape(shape), comm, coefficient=coefficient, source=source, name=name
    )


def poisson_on_mesh(
    mesh: Any,
    *,
    coefficient: FieldValue | None,
    source: FieldValue,
    dirichlet: Any,
    neumann: Mapping[str, Any] | None,
    resolution: float | None,
    name: str | None,
) -> LinearProblem:
    """Assemble the Poisson problem on an unstructured mesh (see :func:`poisson`)."""
    from ..meshes.unstructured import named_mesh, whole_boundary

    if isinstance(mesh, str):
        named = named_mesh(mesh, resolution)
    elif hasattr(mesh, "boundary") and hasattr(mesh, "mesh"):
        named = mesh
    else:
        named = whole_boundary(mesh)
    for argument, value in (("coefficient", coefficient), ("source", source)):
        if value is not None and not callable(value) and np.ndim(value) > 0:
            raise ValueError(
                f"{argument} arrays need a structured grid (shape=...); on a mesh give a "
                f"number or a function of coordinates"
            )
    system = assemble_poisson(
        named.mesh, domain_cells=None, boundary_markers=named.boundary,
        coefficient=coefficient, source=source, dirichlet=dirichlet, neumann=neumann,
        facet_tags=named.facet_tags,
    )
    provenance = {
        "constructor": "poisson",
        **named.settings,
        "coefficient": describe(coefficient if coefficient is not None else 1.0),
        "source": describe(source),
        "dirichlet": _describe_parts(dirichlet),
        "neumann": _describe_parts(neumann or {}),
    }
    label = name or f"poisson-{named.settings.get('mesh', 'mesh')}"
    return LinearProblem(
        system.A, system.b, function_space=system.space, spd=True, name=label,
        provenance=provenance, space_dofs=system.free_dofs, space_values=system.space_values,
    )


def _check_shape(shape: Any) -> tuple[int, ...]:
    try:
        entries = tuple(shape)
        checked = tuple(int(n) for n in entries)
    except (TypeError, ValueError):
        checked = None
    # int() truncates, so a fractional entry such as 64.5 differs from its integer.
    if checked is None or checked != entries:
        raise ValueError(
            f"shape must be a tuple of integers (n, n) or (n, n, n), got {shape!r}"
        )
    if len(checked) not in (2, 3) or min(checked) < 3:
        raise ValueError(
            f"shape must have 2 or 3 axes of at least 3 grid points each, got {checked}"
        )
    return checked


def _obstacle_mask(obstacles: Any, shape: tuple[int, ...], seed: int | None) -> np.ndarray:
    cells = tuple(n - 1 for n in shape)
    if obstacles is None:
        return np.zeros(cells, dtype=bool)
    if isinstance(obstacles, int | np.integer) and not isinstance(obstacles, bool):
        return random_box_obstacles(shape, int(obstacles), seed)
    return check_cell_mask(obstacles, shape)


def _default_name(shape, coefficient, obstacles, neumann) -> str:
    parts = ["poisson", "x".join(str(n) for n in shape)]
    if coefficient is not None:
        parts.append("coefficient")
    if obstacles is not None:
        parts.append("obstacles")
    if neumann:
        parts.append("neumann")
    return "-".join(parts)


def describe(value: Any) -> Any:
    """Return a JSON-friendly summary of a constructor setting for provenance records."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if callable(value):
        return f"function {getattr(value, '__qualname__', type(value).__name__)}"
    if isinstance(value, Mapping):
        return {str(k): describe(v) for k, v in value.items()}
    array = np.asarray(value)
    if array.ndim == 0:
        return array.item()
    if array.dtype == bool:
        return f"bool array {list(array.shape)}, {int(array.sum())} True"
    return (
        f"array {list(array.shape)}, min {float(array.min()):.6g}, max {float(array.max()):.6g}"
    )


def _describe_parts(parts: Any) -> Any:
    if parts is None:
        return {"all": 0.0}
    if isinstance(parts, str):
        return {parts: 0.0}
    if isinstance(parts, Mapping):
        return describe(parts)
    return {str(p): 0.0 for p in parts}


def _assemble_structured(
    shape, obstacle_mask, coefficient, source, dirichlet, neumann, label, provenance
) -> LinearProblem:
    from ..meshes.structured import cell_grid_indices, point_grid_indices, unit_grid_mesh

    msh = unit_grid_mesh(shape)
    axes = len(shape)
    sides = SIDES[: 2 * axes]
    cell_grid = cell_grid_indices(msh, shape)
    domain_cells = ~obstacle_mask.reshape(-1)[cell_grid]
    fields = GridFields(shape, cell_grid)

    def on_side(side: str) -> Callable[[np.ndarray], np.ndarray]:
        coordinate = "xyz".index(side[0])
        target = 0.0 if side.endswith("min") else 1.0
        return lambda x: np.isclose(x[coordinate], target)

    try:
        system = assemble_poisson(
            msh, domain_cells=domain_cells, boundary_markers={s: on_side(s) for s in sides},
            coefficient=coefficient, source=source, dirichlet=dirichlet, neumann=neumann,
            fields=fields,
        )
    except FloatingRegionError as err:
        raise FloatingRegionError(str(err), np.unique(cell_grid[err.cells])) from None
    V = system.space
    dof_grid = point_grid_indices(V.tabulate_dof_coordinates(), shape)
    order = np.argsort(dof_grid[system.free_dofs], kind="stable")
    system = system.reordered(order)

    free = np.zeros(int(np.prod(shape)), dtype=bool)
    free[dof_grid[system.free_dofs]] = True
    dirichlet_values = np.zeros(int(np.prod(shape)))
    dirichlet_values[dof_grid[system.dirichlet_dofs]] = system.space_values[
        system.dirichlet_dofs
    ]
    geometry = GridGeometry(
        shape=shape,
        dof_to_grid=dof_grid[system.free_dofs],
        free=free.reshape(shape),
        cell_mask=~obstacle_mask,
    )
    return LinearProblem(
        system.A, system.b, geometry=geometry, function_space=V, spd=True, name=label,
        provenance=provenance, dirichlet_values=dirichlet_values.reshape(shape),
        space_dofs=system.free_dofs, space_values=system.space_values,
    )

