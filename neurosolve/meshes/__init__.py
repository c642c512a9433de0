"""Meshes for the finite-element problems: structured unit grids, gmsh geometries, grid maps.

Every function here imports dolfinx (and gmsh) inside its body, so importing this package
stays cheap.
"""

from .obstacles import check_cell_mask, random_box_obstacles
from .structured import cell_grid_indices, point_grid_indices, unit_grid_mesh
from .unstructured import MESH_NAMES, NamedMesh, named_mesh

__all__ = [
    "MESH_NAMES",
    "NamedMesh",
    "cell_grid_indices",
    "check_cell_mask",
    "named_mesh",
    "point_grid_indices",
    "random_box_obstacles",
    "unit_grid_mesh",
]
