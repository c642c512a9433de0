"""Relative L2 and H1 losses on grid fields of shape ``(batch, channel, *grid)``."""

from __future__ import annotations

import torch


def _relative(diff: torch.Tensor, ref: torch.Tensor, reduction: str) -> torch.Tensor:
    batch = diff.shape[0]
    num = diff.reshape(batch, -1).norm(dim=1)
    den = ref.reshape(batch, -1).norm(dim=1).clamp_min(1e-12)
    ratio = num / den
    if reduction == "mean":
        return ratio.mean()
    if reduction == "sum":
        return ratio.sum()
    if reduction == "none":
        return ratio
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class LpLoss(torch.nn.Module):
    """Relative L2 error ``||pred - target|| / ||target||`` per sample, then reduced."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _relative(pred - target, target, self.reduction)


def grid_gradient(
    u: torch.Tensor, spatial_dims: int, length: float = 1.0
) -> list[torch.Tensor]:
    """Return forward-difference derivatives of ``u`` along its last ``spatial_dims`` axes.

    The grid points span ``length`` along every axis, so the derivatives are in physical
    units. Forward differences, unlike central ones, see the checkerboard mode, whose
    central difference is zero.
    """
    derivatives = []
    for axis in range(u.ndim - spatial_dims, u.ndim):
        spacing = length / max(u.shape[axis] - 1, 1)
        derivatives.append(torch.diff(u, dim=axis) / spacing)
    return derivatives


class H1Loss(torch.nn.Module):
    """Relative H1 error: the L2 norms of the field and of its gradient, together.

    Gradients are forward differences in physical units on a domain of side ``length``,
    so for smooth fields the gradient term carries most of the norm.
    """

    def __init__(self, spatial_dims: int = 2, reduction: str = "mean", length: float = 1.0):
        super().__init__()
        self.spatial_dims = spatial_dims
        self.reduction = reduction
        self.length = length

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = [pred - target, *grid_gradient(pred - target, self.spatial_dims, self.length)]
        ref = [target, *grid_gradient(target, self.spatial_dims, self.length)]
        return _relative(
            torch.cat([d.flatten(1) for d in diff], dim=1),
            torch.cat([r.flatten(1) for r in ref], dim=1),
            self.reduction,
        )
