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


def grid_gradient(u: torch.Tensor, spatial_dims: int) -> list[torch.Tensor]:
    """Return central-difference derivatives of ``u`` along its last ``spatial_dims`` axes.

    Differences are in grid units; the relative H1 loss is scale-free, so the spacing cancels
    for square cells.
    """
    derivatives = []
    for axis in range(u.ndim - spatial_dims, u.ndim):
        derivatives.append(torch.gradient(u, dim=axis)[0])
    return derivatives


class H1Loss(torch.nn.Module):
    """Relative H1 error: the L2 norms of the field and of its grid gradient, together."""

    def __init__(self, spatial_dims: int = 2, reduction: str = "mean") -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = [pred - target, *grid_gradient(pred - target, self.spatial_dims)]
        ref = [target, *grid_gradient(target, self.spatial_dims)]
        return _relative(
            torch.cat([d.flatten(1) for d in diff], dim=1),
            torch.cat([r.flatten(1) for r in ref], dim=1),
            self.reduction,
        )
