"""The Poisson problem ``-div(k grad u) = f`` assembled with P1 finite elements in dolfinx.

Dirichlet points are eliminated: ``A`` couples the free unknowns only, and the known
values move to the right-hand side, so ``A`` stays symmetric positive definite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..meshes.obstacles import check_cell_mask, random_box_obstacles
from ..solvers.problems import GridGeometry, LinearProblem

logger = logging.getLogger(__name__)

SIDES = ("xmin", "xmax", "ymin", "ymax", "zmin", "zmax")

# A value given for a field: a number, a grid array or a function of coordinates.
FieldValue = float | np.ndarray | Callable[[np.ndarray], np.ndarray]


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
) -> Any:
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
    Meshes are built on ``MPI.COMM_SELF``: each process assembles the whole system.
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
        except _FloatingRegionError as err:
            if not isinstance(obstacles, int | np.integer) or isinstance(obstacles, bool):
                raise ValueError(str(err)) from None
            logger.info("filling %d pocket cells cut off by random obstacles", err.cells.size)
            obstacle_mask.reshape(-1)[err.cells] = True
    raise ValueError("random obstacles kept cutting regions off; try another seed")


def _distributed(shape, comm, coefficient, source, dirichlet, neumann, obstacles, name) -> Any:
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


class _FloatingRegionError(ValueError):
    """Unknowns cut off from every Dirichlet part; ``cells`` are the domain cells they own."""

    def __init__(self, message: str, cells: np.ndarray) -> None:
        super().__init__(message)
        self.cells = cells


def _check_shape(shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(n) for n in shape)
    except TypeError:
        raise ValueError(f"shape must be a tuple (n, n) or (n, n, n), got {shape!r}") from None
    if len(shape) not in (2, 3) or min(shape) < 3:
        raise ValueError(
            f"shape must have 2 or 3 axes of at least 3 grid points each, got {shape}"
        )
    return shape


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


def dirichlet_parts(
    dirichlet: Any, available: tuple[str, ...], neumann: Mapping[str, Any]
) -> dict[str, Any]:
    """Normalise ``dirichlet`` to a dict from boundary part to value.

    ``None`` and ``"all"`` mean every part that ``neumann`` does not name.
    """
    if dirichlet is None:
        dirichlet = "all"
    if isinstance(dirichlet, str):
        dirichlet = [dirichlet]
    if not isinstance(dirichlet, Mapping):
        dirichlet = {part: 0.0 for part in dirichlet}
    parts: dict[str, Any] = {}
    for part, value in dirichlet.items():
        if part == "all":
            parts.update({p: value for p in available if p not in neumann})
        else:
            check_part(part, available, "dirichlet")
            parts[part] = value
    return parts


def check_part(part: str, available: tuple[str, ...], argument: str) -> None:
    if part not in available:
        raise ValueError(
            f"{argument} names unknown boundary part {part!r}; valid parts are: "
            f"{', '.join(available)} (or 'all' for dirichlet)"
        )


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
    except _FloatingRegionError as err:
        raise _FloatingRegionError(str(err), np.unique(cell_grid[err.cells])) from None
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


class GridFields:
    """Converter of grid-point and grid-cell arrays to dolfinx functions on a structured mesh."""

    def __init__(self, shape: tuple[int, ...], cell_grid: np.ndarray) -> None:
        self.shape = shape
        self.cell_grid = cell_grid

    def to_function(self, array: np.ndarray, V: Any, argument: str) -> Any:
        from dolfinx import fem

        from ..meshes.structured import point_grid_indices

        cells = tuple(n - 1 for n in self.shape)
        if array.shape == self.shape:
            function = fem.Function(V)
            dof_grid = point_grid_indices(V.tabulate_dof_coordinates(), self.shape)
            function.x.array[:] = array.reshape(-1)[dof_grid]
            return function
        if array.shape == cells:
            W = fem.functionspace(V.mesh, ("DG", 0))
            function = fem.Function(W)
            cell_dofs = W.dofmap.list[:, 0]
            function.x.array[cell_dofs] = array.reshape(-1)[self.cell_grid]
            return function
        raise ValueError(
            f"{argument} array has shape {array.shape}; expected the grid shape {self.shape} "
            f"(values at points) or {cells} (one value per cell)"
        )


class AssembledSystem:
    """The eliminated system and the maps between its unknowns and the finite-element DOFs."""

    def __init__(self, A, b, space, free_dofs, dirichlet_dofs, space_values) -> None:
        self.A = A
        self.b = b
        self.space = space
        self.free_dofs = free_dofs
        self.dirichlet_dofs = dirichlet_dofs
        self.space_values = space_values

    def reordered(self, order: np.ndarray) -> AssembledSystem:
        A = self.A[order][:, order].tocsr()
        return AssembledSystem(
            A, self.b[order], self.space, self.free_dofs[order], self.dirichlet_dofs,
            self.space_values,
        )


def assemble_poisson(
    msh: Any,
    *,
    domain_cells: np.ndarray | None,
    boundary_markers: Mapping[str, Any],
    coefficient: Any,
    source: Any,
    dirichlet: Any,
    neumann: Mapping[str, Any] | None,
    fields: GridFields | None = None,
    facet_tags: Any = None,
) -> AssembledSystem:
    """Assemble the P1 Poisson system on ``msh`` and eliminate the Dirichlet DOFs.

    Parameters
    ----------
    msh : dolfinx.mesh.Mesh
    domain_cells : ndarray of bool or None
        Per local cell, True when the cell belongs to the domain; None for all cells.
    boundary_markers : dict of str to callable or int
        Boundary parts: a function of coordinates ``(3, m)`` marking the part's facets,
        or a tag in ``facet_tags``.
    coefficient, source, dirichlet, neumann
        As in :func:`poisson`.
    fields : GridFields, optional
        Converter for grid arrays; None when the mesh has no grid.
    facet_tags : dolfinx.mesh.MeshTags, optional
        Facet tags that integer markers refer to.
    """
    import dolfinx_solver  # noqa: F401
    import ufl
    from dolfinx import fem
    from dolfinx import mesh as dmesh

    tdim = msh.topology.dim
    fdim = tdim - 1
    V = fem.functionspace(msh, ("Lagrange", 1))
    parts = tuple(boundary_markers)
    neumann = dict(neumann or {})
    dirichlet = dirichlet_parts(dirichlet, parts, neumann)
    for part in neumann:
        check_part(part, parts, "neumann")
    overlap = sorted(set(neumann) & set(dirichlet))
    if overlap:
        raise ValueError(f"boundary parts {overlap} are given both dirichlet and neumann values")
    if not dirichlet:
        raise ValueError(
            "no boundary part is Dirichlet, so A would be singular; give dirichlet=..."
        )

    cell_count = msh.topology.index_map(tdim).size_local
    if domain_cells is None:
        domain_cells = np.ones(cell_count, dtype=bool)
    msh.topology.create_connectivity(fdim, tdim)
    facet_to_cell = msh.topology.connectivity(fdim, tdim)
    part_facets = {}
    for part, marker in boundary_markers.items():
        if callable(marker):
            facets = dmesh.locate_entities_boundary(msh, fdim, marker)
        else:
            facets = facet_tags.find(marker)
        # A boundary facet belongs to the domain's boundary only when its cell does.
        first_cell = facet_to_cell.array[facet_to_cell.offsets[facets]]
        part_facets[part] = facets[domain_cells[first_cell]]

    dx = ufl.Measure("dx", domain=msh)
    if not domain_cells.all():
        cell_tags = dmesh.meshtags(
            msh, tdim, np.arange(cell_count, dtype=np.int32), domain_cells.astype(np.int32)
        )
        dx = ufl.Measure("dx", domain=msh, subdomain_data=cell_tags)(1)
    k = _field(coefficient if coefficient is not None else 1.0, V, fields, "coefficient", True)
    f = _field(source, V, fields, "source", False)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = ufl.inner(k * ufl.grad(u), ufl.grad(v)) * dx
    L = f * v * dx
    if neumann:
        tags = {part: i + 1 for i, part in enumerate(neumann)}
        facets = np.concatenate([part_facets[p] for p in neumann]).astype(np.int32)
        values = np.concatenate([np.full(part_facets[p].size, tags[p]) for p in neumann])
        order = np.argsort(facets)
        facet_tags_n = dmesh.meshtags(msh, fdim, facets[order], values[order].astype(np.int32))
        ds = ufl.Measure("ds", domain=msh, subdomain_data=facet_tags_n)
        for part, g in neumann.items():
            L = L + _field(g, V, None, f"neumann[{part!r}]", False) * v * ds(tags[part])

    A_full = fem.assemble_matrix(fem.form(a)).to_scipy().tocsr()
    b_full = fem.assemble_vector(fem.form(L)).array.copy()
    A_full = ((A_full + A_full.T) * 0.5).tocsr()  # remove rounding asymmetry

    ndofs = V.dofmap.index_map.size_local
    active = np.zeros(ndofs, dtype=bool)
    active[V.dofmap.list[domain_cells].reshape(-1)] = True
    space_values = np.zeros(ndofs)
    is_dirichlet = np.zeros(ndofs, dtype=bool)
    for part, g in dirichlet.items():
        dofs = fem.locate_dofs_topological(V, fdim, part_facets[part])
        is_dirichlet[dofs] = True
        space_values[dofs] = _dirichlet_values(g, V, dofs, fields, part)
    dirichlet_dofs = np.flatnonzero(is_dirichlet & active)
    free_dofs = np.flatnonzero(active & ~is_dirichlet)
    if free_dofs.size == 0:
        raise ValueError("the problem has no free unknowns: every domain point is Dirichlet")

    rows = A_full[free_dofs]
    A = rows[:, free_dofs].tocsr()
    coupling = rows[:, dirichlet_dofs]
    b = b_full[free_dofs] - coupling @ space_values[dirichlet_dofs]
    _check_anchored(A, coupling, free_dofs, V, domain_cells)
    return AssembledSystem(A, b, V, free_dofs, dirichlet_dofs, space_values)


def _check_anchored(A, coupling, free_dofs, V, domain_cells) -> None:
    """Raise when a connected group of unknowns touches no Dirichlet DOF (A is singular)."""
    count, labels = connected_components(A, directed=False)
    anchored_labels = np.unique(labels[np.diff(coupling.tocsr().indptr) > 0])
    floating = ~np.isin(labels, anchored_labels)
    if not floating.any():
        return
    floating_dofs = np.zeros(V.dofmap.index_map.size_local, dtype=bool)
    floating_dofs[free_dofs[floating]] = True
    cell_dofs = V.dofmap.list
    cells = np.flatnonzero(domain_cells & floating_dofs[cell_dofs].any(axis=1))
    groups = np.unique(labels[floating]).size
    raise _FloatingRegionError(
        f"{int(floating.sum())} unknowns in {groups} region(s) touch no Dirichlet boundary, so "
        f"A is singular; remove the obstacles that enclose them or add a Dirichlet part",
        cells,
    )


def _field(value: Any, V: Any, fields: GridFields | None, argument: str, positive: bool) -> Any:
    """Return a UFL expression for a number, grid array or function of coordinates."""
    from dolfinx import fem

    if callable(value):
        function = fem.Function(V)
        function.interpolate(lambda x: np.broadcast_to(value(x), x.shape[1:]))
        values = function.x.array
    elif np.ndim(value) == 0:
        number = float(value)
        _check_values(np.array([number]), argument, positive)
        return fem.Constant(V.mesh, number)
    else:
        if fields is None:
            raise ValueError(
                f"{argument} is an array, but arrays need a structured grid (shape=...); "
                f"give a number or a function of coordinates"
            )
        array = np.asarray(value, dtype=np.float64)
        function = fields.to_function(array, V, argument)
        values = array
    _check_values(np.asarray(values), argument, positive)
    return function


def _check_values(values: np.ndarray, argument: str, positive: bool) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{argument} contains NaN or infinite values")
    if positive and np.any(values <= 0):
        raise ValueError(
            f"{argument} must be positive everywhere, but its minimum is {values.min():.6g}"
        )


def _dirichlet_values(
    g: Any, V: Any, dofs: np.ndarray, fields: GridFields | None, part: str
) -> np.ndarray:
    points = V.tabulate_dof_coordinates()[dofs]
    if callable(g):
        values = np.broadcast_to(np.asarray(g(points.T), dtype=np.float64), (dofs.size,))
    elif np.ndim(g) == 0:
        values = np.full(dofs.size, float(g))
    else:
        if fields is None or np.shape(g) != fields.shape:
            expected = fields.shape if fields is not None else "a structured grid"
            raise ValueError(
                f"dirichlet[{part!r}] array has shape {np.shape(g)}; expected {expected}"
            )
        from ..meshes.structured import point_grid_indices

        grid = point_grid_indices(points, fields.shape)
        values = np.asarray(g, dtype=np.float64).reshape(-1)[grid]
    if not np.all(np.isfinite(values)):
        raise ValueError(f"dirichlet[{part!r}] contains NaN or infinite values")
    return np.array(values)
