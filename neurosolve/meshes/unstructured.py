"""Unstructured meshes: gmsh geometries and dolfinx built-ins, with named boundary parts.

A :class:`NamedMesh` carries a dolfinx mesh and its boundary parts, each a function of
coordinates that marks the part's facets or a tag in ``facet_tags``. The Poisson
constructor takes the part names as keys of ``dirichlet=`` and ``neumann=``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MESH_NAMES = ("plate-with-holes", "unit-disk", "unit-square")


@dataclass
class NamedMesh:
    """A dolfinx mesh with named boundary parts.

    Attributes
    ----------
    mesh : dolfinx.mesh.Mesh
    boundary : dict of str to callable or int
        Boundary parts: a marker function of coordinates ``(3, m)`` or a facet tag.
    facet_tags : dolfinx.mesh.MeshTags, optional
        The tags that integer parts refer to.
    settings : dict
        How the mesh was made, for provenance records.
    """

    mesh: Any
    boundary: dict[str, Callable[[np.ndarray], np.ndarray] | int]
    facet_tags: Any = None
    settings: dict[str, Any] = field(default_factory=dict)


def named_mesh(name: str, resolution: float | None = None) -> NamedMesh:
    """Build one of the package's unstructured meshes.

    Parameters
    ----------
    name : {"plate-with-holes", "unit-disk", "unit-square"}
        ``"plate-with-holes"``: the unit square minus three discs, meshed by gmsh, with
        boundary parts ``"outer"`` and ``"holes"``. ``"unit-disk"``: the disc of radius 1,
        meshed by gmsh, with the single part ``"boundary"``. ``"unit-square"``: a dolfinx
        unit square with crossed diagonals (4 triangles per square), with the parts
        ``"xmin"``, ``"xmax"``, ``"ymin"``, ``"ymax"``.
    resolution : float, optional
        Target cell size; defaults to 0.05 (0.1 for the disc). For ``"unit-square"``
        the square is split into ``round(1 / resolution)`` squares per side.

    Returns
    -------
    NamedMesh

    Raises
    ------
    ValueError
        If the name is unknown or the resolution is not positive.
    """
    if name not in MESH_NAMES:
        raise ValueError(f"unknown mesh {name!r}; valid names are: {', '.join(MESH_NAMES)}")
    if resolution is not None and not resolution > 0:
        raise ValueError(f"resolution must be a positive cell size, got {resolution}")
    if name == "unit-square":
        return _unit_square(0.05 if resolution is None else resolution)
    if name == "unit-disk":
        return _gmsh_mesh(_disk_geometry, 0.1 if resolution is None else resolution, name)
    return _gmsh_mesh(_plate_geometry, 0.05 if resolution is None else resolution, name)


def whole_boundary(mesh: Any) -> NamedMesh:
    """Wrap a user's dolfinx mesh with one boundary part, ``"boundary"``, covering all of it."""
    return NamedMesh(
        mesh, {"boundary": lambda x: np.ones(x.shape[1], dtype=bool)},
        settings={"mesh": "given", "cells": _cell_count(mesh)},
    )


def _cell_count(mesh: Any) -> int:
    return int(mesh.topology.index_map(mesh.topology.dim).size_local)


def _unit_square(resolution: float) -> NamedMesh:
    import dolfinx_solver  # noqa: F401  (loads the bundled PETSc and MPI before dolfinx)
    from dolfinx import mesh
    from mpi4py import MPI

    cells = max(1, round(1.0 / resolution))
    msh = mesh.create_unit_square(
        MPI.COMM_SELF, cells, cells, mesh.CellType.triangle, diagonal=mesh.DiagonalType.crossed
    )
    parts: dict[str, Callable[[np.ndarray], np.ndarray] | int] = {
        "xmin": lambda x: np.isclose(x[0], 0.0),
        "xmax": lambda x: np.isclose(x[0], 1.0),
        "ymin": lambda x: np.isclose(x[1], 0.0),
        "ymax": lambda x: np.isclose(x[1], 1.0),
    }
    settings = {"mesh": "unit-square", "resolution": resolution, "cells": _cell_count(msh)}
    return NamedMesh(msh, parts, settings=settings)


def _plate_geometry(gmsh: Any) -> dict[str, list[int]]:
    """Add the unit square minus three discs; return the boundary curves by part name."""
    occ = gmsh.model.occ
    plate = occ.addRectangle(0.0, 0.0, 0.0, 1.0, 1.0)
    holes = [(0.3, 0.3, 0.12), (0.7, 0.35, 0.1), (0.45, 0.72, 0.15)]
    discs = [(2, occ.addDisk(x, y, 0.0, r, r)) for x, y, r in holes]
    occ.cut([(2, plate)], discs)
    occ.synchronize()
    outer: list[int] = []
    inner: list[int] = []
    for _, curve in gmsh.model.getEntities(1):
        x_min, y_min, _, x_max, y_max, _ = gmsh.model.getBoundingBox(1, curve)
        on_edge = min(x_min, y_min) < 1e-8 or max(x_max, y_max) > 1.0 - 1e-8
        (outer if on_edge else inner).append(curve)
    return {"outer": outer, "holes": inner}


def _disk_geometry(gmsh: Any) -> dict[str, list[int]]:
    gmsh.model.occ.addDisk(0.0, 0.0, 0.0, 1.0, 1.0)
    gmsh.model.occ.synchronize()
    return {"boundary": [curve for _, curve in gmsh.model.getEntities(1)]}


def _gmsh_mesh(
    geometry: Callable[[Any], dict[str, list[int]]], size: float, name: str
) -> NamedMesh:
    import dolfinx_solver  # noqa: F401  (loads the bundled PETSc and MPI before dolfinx)
    import gmsh
    from dolfinx.io import gmsh as gmshio
    from mpi4py import MPI

    started_here = not gmsh.isInitialized()
    if started_here:
        gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add(name)
        curves = geometry(gmsh)
        surfaces = [tag for _, tag in gmsh.model.getEntities(2)]
        gmsh.model.addPhysicalGroup(2, surfaces, 1, name="domain")
        tags = {}
        for tag, (part, part_curves) in enumerate(curves.items(), start=1):
            gmsh.model.addPhysicalGroup(1, part_curves, tag, name=part)
            tags[part] = tag
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", size)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", size)
        gmsh.model.mesh.generate(2)
        data = gmshio.model_to_mesh(gmsh.model, MPI.COMM_SELF, 0, gdim=2)
        gmsh.model.remove()
    finally:
        if started_here:
            gmsh.finalize()
    msh = data.mesh
    settings = {"mesh": name, "resolution": size, "cells": _cell_count(msh)}
    return NamedMesh(msh, dict(tags), facet_tags=data.facet_tags, settings=settings)
