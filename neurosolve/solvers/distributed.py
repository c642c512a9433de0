"""Linear problems distributed over MPI ranks as PETSc objects.

Under ``mpiexec -n N`` with ``N > 1``, :func:`neurosolve.problems.poisson` returns a
:class:`DistributedLinearProblem`: each rank owns part of the mesh, of the rows of ``A``
and of ``b``, stored as a PETSc ``Mat`` and ``Vec`` on the communicator. Only methods
with ``supports_distributed = True`` (``petsc``) accept it; the front door raises a
``ValueError`` naming the alternatives for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .problems import GridGeometry, Problem


@dataclass
class DistributedLinearProblem(Problem):
    """A system ``A x = b`` whose rows are spread over the ranks of an MPI communicator.

    Parameters
    ----------
    A : petsc4py.PETSc.Mat
        Assembled parallel matrix. Dirichlet rows are identity rows with the boundary
        value in ``b``, so ``A`` stays symmetric.
    b : petsc4py.PETSc.Vec
        Parallel right-hand side with the same row layout as ``A``.
    comm : mpi4py.MPI.Comm
        The communicator of ``A`` and ``b``.
    geometry : GridGeometry
        The global grid; ``dof_to_grid`` is not set because unknowns are distributed.
    owned_to_grid : ndarray of int
        Flat C-order grid index of each unknown owned by this rank, in local order.
    function_space : dolfinx.fem.FunctionSpace
        The distributed P1 space that produced ``A``.

    Notes
    -----
    A solution ``x`` is the array of this rank's owned values (``len(owned_to_grid)``
    entries); :meth:`to_grid` gathers it into the whole grid on every rank.
    """

    kind: ClassVar[str] = "linear"
    distributed: ClassVar[bool] = True

    A: Any
    b: Any
    comm: Any
    geometry: GridGeometry
    owned_to_grid: np.ndarray
    function_space: Any = None
    spd: bool | None = True
    name: str = "distributed"
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Global number of unknowns."""
        return int(self.A.getSize()[0])

    @property
    def n_local(self) -> int:
        return int(self.owned_to_grid.shape[0])

    def b_norm(self) -> float:
        """Return ``||b||`` over all ranks (collective)."""
        return float(self.b.norm())

    def residual_norm(self, x: np.ndarray) -> float:
        """Return the global ``||b - A x||`` for this rank's part ``x`` (collective)."""
        vector = self.A.createVecRight()
        vector.array[:] = np.asarray(x, dtype=np.float64)
        residual = self.b.duplicate()
        self.A.mult(vector, residual)
        residual.aypx(-1.0, self.b)
        norm = float(residual.norm())
        vector.destroy()
        residual.destroy()
        return norm

    def to_grid(self, x: np.ndarray) -> np.ndarray:
        """Gather every rank's part of ``x`` into the whole grid, on every rank (collective)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.n_local:
            raise ValueError(f"x has {x.shape[0]} entries but this rank owns {self.n_local}")
        indices = self.comm.allgather(self.owned_to_grid)
        values = self.comm.allgather(x)
        grid = np.zeros(self.geometry.size)
        for index, value in zip(indices, values, strict=True):
            grid[index] = value
        return grid.reshape(self.geometry.shape)
