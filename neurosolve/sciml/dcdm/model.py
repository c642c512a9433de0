"""The DCDM network: a small fully convolutional model of ``inv(A)`` on 2D and 3D grids."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoints import register_model


def _conv(dim: int, inputs: int, outputs: int, kernel: int) -> nn.Conv2d | nn.Conv3d:
    if dim == 2:
        return nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2)
    return nn.Conv3d(inputs, outputs, kernel, padding=kernel // 2)


class ResidualBlock(nn.Module):
    """Two 3x3(x3) convolutions with ReLU, added to the block's input."""

    def __init__(self, dim: int, channels: int) -> None:
        super().__init__()
        self.first = _conv(dim, channels, channels, 3)
        self.second = _conv(dim, channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.second(F.relu(self.first(x))))


@register_model("dcdm")
class DCDMNet(nn.Module):
    """Fully convolutional network that maps a residual field to a search direction.

    A 3x3(x3) convolution lifts the input to ``channels`` features and ``blocks``
    residual blocks run on the grid. An average pool halves the grid, ``blocks`` more
    run there, and linear interpolation to the exact fine size brings the result back,
    so odd sizes work. The fine features are added as a skip connection, ``blocks`` more
    run, and a 1x1(x1) convolution gives one channel. All convolutions keep the grid
    size, so one set of weights applies to any grid.

    Parameters
    ----------
    dim : {2, 3}
        Spatial dimension.
    in_channels : int
        Input channels: 2 for ``dcdm`` (scaled residual, mask of unknowns), 3 for
        ``dcdm-mg`` (plus the scaled V-cycle output).
    channels : int
        Feature channels of every hidden layer (16 in the DCDM paper).
    blocks : int
        Residual blocks per stage.
    correct_channel : int or None
        When set, the output is that input channel plus the network's correction, so an
        untrained network returns the given direction (the V-cycle's, in ``dcdm-mg``).

    Notes
    -----
    Input shape ``(batch, in_channels, *grid)``, output ``(batch, 1, *grid)``. Callers
    zero the output outside the unknowns.

    References
    ----------
    Kaneda, A., Akar, O., Chen, J., et al. (2023). "A Deep Conjugate Direction Method for
    Iteratively Solving Linear Systems." ICML 2023, PMLR 202.
    """

    def __init__(
        self,
        dim: int = 2,
        in_channels: int = 2,
        channels: int = 16,
        blocks: int = 2,
        correct_channel: int | None = None,
    ) -> None:
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if correct_channel is not None and not 0 <= correct_channel < in_channels:
            raise ValueError(
                f"correct_channel must index one of the {in_channels} inputs, "
                f"got {correct_channel}"
            )
        self.dim = dim
        self.correct_channel = correct_channel
        self.lift = _conv(dim, in_channels, channels, 3)
        self.fine = nn.Sequential(*[ResidualBlock(dim, channels) for _ in range(blocks)])
        self.coarse = nn.Sequential(*[ResidualBlock(dim, channels) for _ in range(blocks)])
        self.merge = nn.Sequential(*[ResidualBlock(dim, channels) for _ in range(blocks)])
        self.project = _conv(dim, channels, 1, 1)
        if correct_channel is not None:
            nn.init.zeros_(self.project.weight)
            if self.project.bias is not None:
                nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = x.shape[2:]
        pool = F.avg_pool2d if self.dim == 2 else F.avg_pool3d
        mode = "bilinear" if self.dim == 2 else "trilinear"

        fine = self.fine(F.relu(self.lift(x)))
        coarse = self.coarse(pool(fine, 2, ceil_mode=True))
        up = F.interpolate(coarse, size=grid, mode=mode, align_corners=True)
        out = self.project(self.merge(fine + up))
        if self.correct_channel is not None:
            out = out + x[:, self.correct_channel : self.correct_channel + 1]
        return out
