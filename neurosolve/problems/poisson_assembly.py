"""P1 finite-element assembly of ``-div(k grad u) = f`` with Dirichlet elimination.

:func:`assemble_poisson` builds the system on any dolfinx mesh, with a subset of cells as
the domain and named boundary parts. Dirichlet DOFs are removed and their known values
moved to the right-hand side, so ``A`` stays symmetric positive definite. The
constructors in :mod:`neurosolve.problems.poisson` call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components


class FloatingRegionError(ValueError):
    """Unknowns cut off from every Dirichlet part. ``cells`` are the domain cells they touch."""

    def __init__(self, message: str, cells: np.ndarray) -> None:
        super().__init__(message)
        self.cells = cells


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
    # Assembly can leave rounding-level asymmetry, so average A with its transpose.
    A_full = ((A_full + A_full.T) * 0.5).tocsr()

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
        raise ValueError("the problem has no free unknowns because every point is Dirichlet")

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
    raise FloatingRegionError(
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
