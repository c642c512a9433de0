"""Network inputs, the unsupervised DCDM loss, and the network as a direction function.

Every input field is scaled to unit norm and then multiplied by ``sqrt(m)`` for ``m``
unknowns, so its root-mean-square value is 1 on any grid. Kaneda et al. (2023) scale to
unit norm only, which makes the per-point amplitude shrink as the grid grows. A network
with biases and ReLUs is not scale-invariant, so the extra factor is what lets one set of
weights serve several grid sizes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...solvers.problems import GridGeometry


def scale_to_unit_rms(fields: torch.Tensor, unknowns: int) -> torch.Tensor:
    """Scale each field of a batch ``(batch, 1, *grid)`` to root-mean-square 1 over ``unknowns``."""
    norms = fields.flatten(1).norm(dim=1).clamp_min(torch.finfo(fields.dtype).tiny)
    shape = (-1,) + (1,) * (fields.ndim - 1)
    return fields * (unknowns**0.5 / norms).reshape(shape)


def network_input(
    residual: torch.Tensor, mask: torch.Tensor, vcycle: torch.Tensor | None = None
) -> torch.Tensor:
    """Stack the channels the network reads.

    Parameters
    ----------
    residual : Tensor, shape (batch, 1, *grid)
        Residual fields, zero outside the unknowns.
    mask : Tensor, shape (1, 1, *grid)
        1 at the unknowns, 0 elsewhere (boundaries, obstacles).
    vcycle : Tensor, shape (batch, 1, *grid), optional
        A V-cycle applied to the residual, for ``dcdm-mg``.

    Returns
    -------
    Tensor, shape (batch, 2 or 3, *grid)
    """
    unknowns = int(mask.sum().item())
    channels = [scale_to_unit_rms(residual, unknowns), mask.expand_as(residual)]
    if vcycle is not None:
        channels.append(scale_to_unit_rms(vcycle, unknowns))
    return torch.cat(channels, dim=1)


def conjugate_direction_loss(
    direction: torch.Tensor, b: torch.Tensor, A: torch.Tensor
) -> torch.Tensor:
    """Return the mean of ``min_alpha ||b - alpha A d||^2 / ||b||^2`` over a batch.

    Parameters
    ----------
    direction : Tensor, shape (batch, n)
        Network outputs ``d = f(b)`` on the flat grid, zero outside the unknowns.
    b : Tensor, shape (batch, n)
        Right-hand sides on the flat grid.
    A : sparse Tensor, shape (n, n)
        The operator on the flat grid, zero rows and columns outside the unknowns.

    Notes
    -----
    With the optimal ``alpha = (b . A d) / (A d . A d)`` the loss is
    ``1 - (b . A d)^2 / (||b||^2 ||A d||^2)``: zero exactly when ``A d`` is parallel to
    ``b``, that is when ``d`` is a multiple of ``inv(A) b``.
    """
    Ad = torch.sparse.mm(A, direction.T).T
    b_Ad = (b * Ad).sum(dim=1)
    Ad_Ad = (Ad * Ad).sum(dim=1).clamp_min(torch.finfo(Ad.dtype).tiny)
    b_b = (b * b).sum(dim=1)
    return (1.0 - b_Ad**2 / (Ad_Ad * b_b)).mean()


class NetworkDirection:
    """Wrap a DCDM network as a function from a residual vector to a direction vector.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`~neurosolve.sciml.dcdm.model.DCDMNet` with matching ``dim``.
    geometry : GridGeometry
        The problem's grid; its unknowns are scattered to the grid and gathered back.
    device : str
        Torch device of the network, for example ``"cpu"`` or ``"cuda"``.
    vcycle : callable, optional
        ``vcycle(r)`` on unknown vectors, given to a three-channel network.

    Attributes
    ----------
    calls, seconds : int, float
        Network evaluations so far and their wall-clock time, the V-cycle excluded.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        geometry: GridGeometry,
        *,
        device: str = "cpu",
        vcycle: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.geometry = geometry
        self.vcycle = vcycle
        free = np.zeros(geometry.size, dtype=np.float32)
        if geometry.dof_to_grid is None:
            free[:] = 1.0
            self.index = torch.arange(geometry.size, device=self.device)
        else:
            free[geometry.dof_to_grid] = 1.0
            self.index = torch.as_tensor(geometry.dof_to_grid, device=self.device)
        self.mask = torch.as_tensor(free.reshape(1, 1, *geometry.shape), device=self.device)
        self.calls = 0
        self.seconds = 0.0

    def _to_grid(self, vector: np.ndarray) -> torch.Tensor:
        flat = torch.zeros(self.geometry.size, dtype=torch.float32, device=self.device)
        flat[self.index] = torch.as_tensor(vector, dtype=torch.float32, device=self.device)
        return flat.reshape(1, 1, *self.geometry.shape)

    @torch.no_grad()
    def __call__(self, r: np.ndarray) -> np.ndarray:
        extra = None if self.vcycle is None else self._to_grid(self.vcycle(r))
        start = time.perf_counter()
        inputs = network_input(self._to_grid(r), self.mask, extra)
        output = self.model(inputs).reshape(-1)[self.index]
        direction = output.to(dtype=torch.float64, device="cpu").numpy()
        self.calls += 1
        self.seconds += time.perf_counter() - start
        return direction
