"""MgNO: a neural operator whose linear maps are multigrid V-cycles with learned parts.

Each layer computes ``u <- gelu(V(u) + W u + b)`` with a 1x1 convolution ``W`` (He, Liu and
Xu 2024). ``V`` is one V-cycle with learned 3x3 operators ``A`` and smoothers ``S`` on
every level. Stride-2 convolutions restrict and stride-2 transposed convolutions prolong.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .checkpoints import register_model
from .fno import check_input, nearest_multiples, resample_back, resample_to_multiple


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> torch.nn.Conv2d:
    return torch.nn.Conv2d(
        in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False
    )


class VCycle(torch.nn.Module):
    """One multigrid V-cycle for ``A u = f`` from ``u = 0``, with every operator learned.

    Parameters
    ----------
    in_channels : int
        Channels of the right-hand side ``f`` (the layer's input).
    out_channels : int
        Channels of the solution ``u`` (the layer's output).
    levels : int
        Number of grids, the finest included; each coarser grid has half the points per axis
        (rounded up).
    pre_smooth, post_smooth : int
        Smoothing steps on the way down and on the way up. The first pre-smoothing step from
        ``u = 0`` is ``u = S f``; later steps are ``u <- u + S (f - A u)``. The way up uses
        the same smoother ``S`` as the way down.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        levels: int,
        *,
        pre_smooth: int = 1,
        post_smooth: int = 0,
    ) -> None:
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        if pre_smooth < 1 or post_smooth < 0:
            raise ValueError(
                f"pre_smooth must be >= 1 and post_smooth >= 0, got {pre_smooth}, {post_smooth}"
            )
        self.levels = levels
        self.pre_smooth = pre_smooth
        self.post_smooth = post_smooth
        self.A = torch.nn.ModuleList(_conv3x3(out_channels, in_channels) for _ in range(levels))
        self.S = torch.nn.ModuleList(_conv3x3(in_channels, out_channels) for _ in range(levels))
        self.restrict = torch.nn.ModuleList(
            _conv3x3(in_channels, in_channels, stride=2) for _ in range(levels - 1)
        )
        self.prolong = torch.nn.ModuleList(
            torch.nn.ConvTranspose2d(
                out_channels, out_channels, kernel_size=3, stride=2, padding=1, bias=False
            )
            for _ in range(levels - 1)
        )

    def _smooth(self, level: int, u: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return u + self.S[level](f - self.A[level](u))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        # Step 1: smooth on each level, then restrict the residual to the next coarser grid.
        solutions, rhs = [], []
        for level in range(self.levels):
            u = self.S[level](f)
            for _ in range(self.pre_smooth - 1):
                u = self._smooth(level, u, f)
            solutions.append(u)
            rhs.append(f)
            if level < self.levels - 1:
                f = self.restrict[level](f - self.A[level](u))

        # Step 2: prolong each coarse correction, add it, and post-smooth on the way up.
        u = solutions[-1]
        for level in reversed(range(self.levels - 1)):
            fine = solutions[level]
            u = fine + self.prolong[level](u, output_size=fine.shape[-2:])
            for _ in range(self.post_smooth):
                u = self._smooth(level, u, rhs[level])
        return u


@register_model("mgno")
class MgNO(torch.nn.Module):
    """Multigrid neural operator on 2D grids (He, Liu and Xu 2024).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and predicted fields.
    hidden_channels : int
        Channels of the hidden layers.
    n_layers : int
        Number of layers ``u <- gelu(V(u) + W u + b)``; the first maps the input channels
        to ``hidden_channels``.
    levels : int
        Grids per V-cycle. Five levels take a 64 x 64 grid down to 4 x 4.
    pre_smooth, post_smooth : int
        Smoothing steps per level of each V-cycle.

    Raises
    ------
    ValueError
        On invalid settings; in ``forward``, on a wrong channel count or a grid too small
        for ``levels`` (the coarsest grid must keep at least one point per axis).

    Notes
    -----
    The defaults (24 channels, five layers, five levels, one pre-smoothing step and no
    post-smoothing) follow the command released with the paper for its smooth Darcy data:
    24 channels, five layers and ``--num_iteration 10 10 10 10 10 20``, read as one
    smoothing step before and none after on each of six levels, two on the coarsest. Here
    five levels take a 64 x 64 grid to 4 x 4 and the coarsest grid gets one step. That
    release also adds group normalisation inside the V-cycles, which this model leaves
    out.

    The output is a 1x1 projection of the last hidden layer, with no activation. A grid
    whose sides are not multiples of ``2^(levels - 1)`` is resampled bilinearly to the
    nearest multiples (:meth:`working_grid`), so that the coarse grids line up as in
    training, and the output back to the input's grid.

    References
    ----------
    J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators via
    Multigrid", ICLR 2024.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 24,
        n_layers: int = 5,
        levels: int = 5,
        pre_smooth: int = 1,
        post_smooth: int = 0,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        self.in_channels = in_channels
        self.levels = levels
        widths = [in_channels] + [hidden_channels] * n_layers
        self.cycles = torch.nn.ModuleList(
            VCycle(c_in, c_out, levels, pre_smooth=pre_smooth, post_smooth=post_smooth)
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.linear = torch.nn.ModuleList(
            torch.nn.Conv2d(c_in, c_out, kernel_size=1)
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.projection = torch.nn.Conv2d(hidden_channels, out_channels, kernel_size=1)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self, gain: float = 0.7) -> None:
        """Draw weights that keep the hidden activations near unit scale through the layers.

        PyTorch's default convolution initialisation halves the activations' standard
        deviation at every layer of a V-cycle network, and training then stalls at the mean
        field. Here each V-cycle convolution gets normal weights of standard deviation
        ``gain / sqrt(fan_in)`` (a stride-2 transposed convolution counts a quarter of its
        kernel as fan-in), and each 1x1 term ``1 / sqrt(fan_in)``. With ``gain=0.7`` the
        scale of random inputs stays within a factor of two over five layers.
        """
        for cycle in self.cycles:
            for module in cycle.modules():
                if isinstance(module, torch.nn.ConvTranspose2d):
                    fan_in = module.weight.shape[0] * module.weight[0, 0].numel() / 4
                    torch.nn.init.normal_(module.weight, std=gain / fan_in**0.5)
                elif isinstance(module, torch.nn.Conv2d):
                    torch.nn.init.normal_(module.weight, std=gain / module.weight[0].numel() ** 0.5)
        for module in self.linear.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.normal_(module.weight, std=1.0 / module.weight[0].numel() ** 0.5)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)

    def working_grid(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Return the grid that an input on ``shape`` is resampled to before the V-cycles.

        The 3x3 kernels learn stencils at the training grid's spacing, so predictions are
        accurate only where this grid is the training grid.
        """
        return nearest_multiples(shape, 2 ** (self.levels - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, 2, "MgNO")
        smallest = 2 ** (self.levels - 1)
        if min(x.shape[2:]) < smallest:
            raise ValueError(
                f"grid {tuple(x.shape[2:])} is too small for levels={self.levels}: each axis "
                f"needs at least {smallest} points; use a finer grid or fewer levels"
            )
        shape = x.shape[2:]
        x = resample_to_multiple(x, smallest)
        for cycle, linear in zip(self.cycles, self.linear, strict=True):
            x = F.gelu(cycle(x) + linear(x))
        return resample_back(self.projection(x), shape)
