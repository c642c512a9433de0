"""Fourier neural operators: FNO with dense spectral weights and TFNO with Tucker weights."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .checkpoints import register_model
from .spectral import SpectralConv, check_grid, normalize_modes


def pointwise(in_channels: int, out_channels: int, spatial: int, bias: bool = True):
    """Return a 1x1 convolution over a grid with ``spatial`` axes (a per-point linear map)."""
    conv = torch.nn.Conv2d if spatial == 2 else torch.nn.Conv3d
    return conv(in_channels, out_channels, kernel_size=1, bias=bias)


def grid_coordinates(x: torch.Tensor, spatial: int) -> torch.Tensor:
    """Return channels holding each point's coordinates in ``[0, 1]``, batched like ``x``."""
    axes = [torch.linspace(0.0, 1.0, n, dtype=x.dtype, device=x.device) for n in x.shape[2:]]
    mesh = torch.meshgrid(*axes, indexing="ij")
    coords = torch.stack(mesh, dim=0).unsqueeze(0)
    return coords.expand(x.shape[0], spatial, *x.shape[2:])


def check_input(x: torch.Tensor, in_channels: int, spatial: int, model: str) -> None:
    """Raise ``ValueError`` unless ``x`` has shape ``(batch, in_channels, *grid)``."""
    if not torch.is_tensor(x):
        raise TypeError(f"{model} takes a torch tensor, got {type(x).__name__}")
    if x.ndim != spatial + 2 or x.shape[1] != in_channels:
        raise ValueError(
            f"{model} input has shape {tuple(x.shape)}; expected (batch, {in_channels}, "
            f"{', '.join(['n'] * spatial)}) with {in_channels} input channels"
        )


def nearest_multiples(shape: Sequence[int], multiple: int) -> tuple[int, ...]:
    """Return ``shape`` with each side rounded to the nearest positive multiple."""
    return tuple(multiple * max(1, round(n / multiple)) for n in shape)


def resample_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Resample a 2D batch ``(batch, channels, h, w)`` to the nearest multiples of ``multiple``.

    The sides become :func:`nearest_multiples` of the grid. The values are treated as
    samples at evenly spaced points that include both ends of the domain (bilinear,
    ``align_corners=True``), so the domain and its boundary values are kept. A grid that
    already fits is returned unchanged.
    """
    shape = nearest_multiples(x.shape[2:], multiple)
    if shape == tuple(x.shape[2:]):
        return x
    return F.interpolate(x, size=shape, mode="bilinear", align_corners=True)


def resample_back(y: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Undo :func:`resample_to_multiple` on an output, returning it on a ``shape`` grid."""
    if tuple(y.shape[2:]) == tuple(shape):
        return y
    return F.interpolate(y, size=tuple(shape), mode="bilinear", align_corners=True)


class FourierBlock(torch.nn.Module):
    """One Fourier layer: spectral convolution plus a 1x1 skip, then a channel MLP.

    With input ``x``, the layer computes ``y = act(K x + W x)`` and returns
    ``act(mlp(y) + g * x)``, where ``K`` is the spectral convolution, ``W`` a 1x1
    convolution and ``g`` a learned per-channel gate that starts at one. The last layer of a
    network (``activate=False``) applies neither activation.
    """

    def __init__(
        self,
        channels: int,
        n_modes: tuple[int, ...],
        *,
        factorization: str | None,
        rank: float,
        mlp_expansion: float,
        activate: bool,
    ) -> None:
        super().__init__()
        spatial = len(n_modes)
        hidden = max(1, round(channels * mlp_expansion))
        self.spectral = SpectralConv(
            channels, channels, n_modes, factorization=factorization, rank=rank
        )
        self.skip = pointwise(channels, channels, spatial, bias=False)
        self.mlp = torch.nn.Sequential(
            pointwise(channels, hidden, spatial), torch.nn.GELU(),
            pointwise(hidden, channels, spatial),
        )
        self.gate = torch.nn.Parameter(torch.ones(1, channels, *(1,) * spatial))
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.spectral(x) + self.skip(x)
        if self.activate:
            y = F.gelu(y)
        y = self.mlp(y) + self.gate * x
        return F.gelu(y) if self.activate else y


class FNOBackbone(torch.nn.Module):
    """Lifting, Fourier layers with domain padding, and projection (Li et al. 2021).

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input fields and of the predicted fields.
    hidden_channels : int
        Width of the Fourier layers.
    n_layers : int
        Number of Fourier layers.
    n_modes : sequence of int
        Fourier modes kept per spatial axis (2 or 3 entries).
    factorization : {None, "dense", "tucker"}
        Storage of the spectral weights (see :class:`~neurosolve.sciml.spectral.SpectralConv`).
    rank : float
        Tucker parameter count as a fraction of the dense weight's.
    lifting_channels, projection_channels : int
        Hidden width of the two-layer pointwise lifting and projection networks.
    domain_padding : float
        Fraction of each axis appended as zeros at the high end before the Fourier layers
        and cut off after them, so that non-periodic solutions are not wrapped around.
    positional_embedding : bool
        Append the grid coordinates in ``[0, 1]`` as extra input channels.
    mlp_expansion : float
        Hidden width of each layer's channel MLP as a fraction of ``hidden_channels``.

    Raises
    ------
    ValueError
        In ``forward``, when the input has the wrong channel count or its grid is too small
        for ``n_modes``.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        hidden_channels: int = 32,
        n_layers: int = 4,
        n_modes: Sequence[int] = (12, 12),
        factorization: str | None = None,
        rank: float = 1.0,
        lifting_channels: int = 64,
        projection_channels: int = 64,
        domain_padding: float = 0.125,
        positional_embedding: bool = True,
        mlp_expansion: float = 0.5,
    ) -> None:
        super().__init__()
        self.n_modes = normalize_modes(n_modes)
        spatial = len(self.n_modes)
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        if not 0.0 <= domain_padding < 1.0:
            raise ValueError(f"domain_padding must be in [0, 1), got {domain_padding}")
        self.in_channels = in_channels
        self.spatial = spatial
        self.domain_padding = domain_padding
        self.positional_embedding = positional_embedding
        lifted = in_channels + (spatial if positional_embedding else 0)
        self.lifting = torch.nn.Sequential(
            pointwise(lifted, lifting_channels, spatial), torch.nn.GELU(),
            pointwise(lifting_channels, hidden_channels, spatial),
        )
        self.blocks = torch.nn.ModuleList(
            FourierBlock(
                hidden_channels, self.n_modes, factorization=factorization, rank=rank,
                mlp_expansion=mlp_expansion, activate=i < n_layers - 1,
            )
            for i in range(n_layers)
        )
        self.projection = torch.nn.Sequential(
            pointwise(hidden_channels, projection_channels, spatial), torch.nn.GELU(),
            pointwise(projection_channels, out_channels, spatial),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.spatial, type(self).__name__)
        grid = tuple(x.shape[2:])
        check_grid(grid, self.n_modes)
        if self.positional_embedding:
            x = torch.cat([x, grid_coordinates(x, self.spatial)], dim=1)
        x = self.lifting(x)

        # F.pad lists the last axis first; pad only the high end of each axis.
        extra = [round(self.domain_padding * n) for n in grid]
        x = F.pad(x, [p for n in reversed(extra) for p in (0, n)])
        for block in self.blocks:
            x = block(x)
        x = x[(slice(None), slice(None), *(slice(0, n) for n in grid))]
        return self.projection(x)


@register_model("fno")
class FNO(FNOBackbone):
    """Fourier neural operator with dense complex spectral weights (Li et al. 2021).

    Takes the keyword arguments of :class:`FNOBackbone`; ``factorization`` defaults to dense.

    References
    ----------
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
    A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential Equations",
    ICLR 2021.
    """


@register_model("tfno")
class TFNO(FNOBackbone):
    """Tensorised FNO: spectral weights stored as Tucker factors (Kossaifi et al. 2023).

    Takes the keyword arguments of :class:`FNOBackbone`, with ``factorization="tucker"``
    and ``rank=0.1`` (10 % of the dense spectral parameters) as defaults.

    References
    ----------
    J. Kossaifi, N. Kovachki, K. Azizzadenesheli, A. Anandkumar, "Multi-Grid Tensorized
    Fourier Neural Operator for High-Resolution PDEs", TMLR 2023.
    """

    def __init__(self, *, factorization: str | None = "tucker", rank: float = 0.1, **kwargs):
        super().__init__(factorization=factorization, rank=rank, **kwargs)
