"""Multi-grid tensorised FNO: a TFNO applied to padded patches with coarse context.

The field is cut into ``2^L x 2^L`` patches. Each patch is padded with its neighbours'
values and stacked with ``L`` coarser windows around it, subsampled to the patch's size, so
the model receives the whole domain at decreasing resolution. The patches are batched through
one TFNO and stitched back (Kossaifi et al. 2023).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checkpoints import register_model
from .fno import TFNO, check_input, grid_coordinates, resample_back, resample_to_multiple

STITCHING = ("crop", "average")


@dataclass(frozen=True)
class PatchLayout:
    """Sizes of the patching of one ``(height, width)`` grid into ``side x side`` patches."""

    height: int
    width: int
    side: int
    patch: tuple[int, int]
    pad: tuple[int, int]

    @property
    def window(self) -> tuple[int, int]:
        """Shape of a padded patch, which is also the shape of each context window."""
        return (self.patch[0] + 2 * self.pad[0], self.patch[1] + 2 * self.pad[1])


def patch_layout(height: int, width: int, levels: int, padding_fraction: float) -> PatchLayout:
    """Return the patch sizes for a grid whose sides are multiples of ``2^(levels + 1)``."""
    side = 2**levels
    patch = (height // side, width // side)
    pad = (math.ceil(padding_fraction * patch[0]), math.ceil(padding_fraction * patch[1]))
    return PatchLayout(height, width, side, patch, pad)


def make_patches(x: torch.Tensor, levels: int, layout: PatchLayout) -> torch.Tensor:
    """Cut ``x`` of shape ``(batch, channels, h, w)`` into padded patches with context.

    Returns a tensor of shape ``(batch * side^2, (levels + 1) * channels, *layout.window)``.
    Context window ``j`` covers ``2^j`` times the padded patch's extent, centred on the
    patch, sampled every ``2^j`` points. Points outside the domain are zero.
    """
    batch, channels = x.shape[:2]
    (ph, pw), (py, px), side = layout.patch, layout.pad, layout.side
    windows = []
    for level in range(levels + 1):
        stride = 2**level
        # Margins that put the window of patch (a, b) at [a * ph, b * pw] in the padded field.
        my = stride * (ph // 2 + py) - ph // 2
        mx = stride * (pw // 2 + px) - pw // 2
        padded = F.pad(x, (mx, mx, my, my))
        tiles = [
            padded[
                :, :,
                a * ph : a * ph + stride * (ph + 2 * py) : stride,
                b * pw : b * pw + stride * (pw + 2 * px) : stride,
            ]
            for a in range(side)
            for b in range(side)
        ]
        windows.append(torch.stack(tiles, dim=1))
    stacked = torch.cat(windows, dim=2)
    return stacked.reshape(batch * side * side, (levels + 1) * channels, *layout.window)


def stitch_patches(y: torch.Tensor, layout: PatchLayout, stitching: str) -> torch.Tensor:
    """Reassemble patch outputs of shape ``(batch * side^2, channels, *window)``.

    ``"crop"`` keeps each patch's interior. ``"average"`` adds the padded outputs into the
    domain and divides by the number of patches covering each point.
    """
    side = layout.side
    (ph, pw), (py, px) = layout.patch, layout.pad
    batch = y.shape[0] // (side * side)
    channels = y.shape[1]
    tiles = y.reshape(batch, side, side, channels, *layout.window)
    if stitching == "crop":
        inner = tiles[..., py : py + ph, px : px + pw]
        return inner.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, side * ph, side * pw)

    canvas = y.new_zeros(batch, channels, side * ph + 2 * py, side * pw + 2 * px)
    count = y.new_zeros(1, 1, *canvas.shape[2:])
    for a in range(side):
        for b in range(side):
            rows = slice(a * ph, a * ph + ph + 2 * py)
            cols = slice(b * pw, b * pw + pw + 2 * px)
            canvas[:, :, rows, cols] += tiles[:, a, b]
            count[:, :, rows, cols] += 1.0
    return (canvas / count)[..., py : py + side * ph, px : px + side * pw]


@register_model("mg-tfno")
class MGTFNO(torch.nn.Module):
    """Multi-grid tensorised Fourier neural operator on 2D grids.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and predicted fields.
    levels : int
        ``L``: the field is cut into ``2^L x 2^L`` patches and each gets ``L`` coarser
        context windows. ``levels=0`` is a plain TFNO on the (padded) whole field.
    padding_fraction : float
        Padding added on every side of a patch, as a fraction of the patch's size.
    stitching : {"crop", "average"}
        How patch outputs are put back together (see :func:`stitch_patches`).
    hidden_channels, n_layers, n_modes, rank, lifting_channels, projection_channels,
    mlp_expansion, domain_padding :
        Settings of the TFNO applied to every patch (see
        :class:`~neurosolve.sciml.fno.FNOBackbone`). ``n_modes`` must fit in a padded patch.
        ``domain_padding`` pads each padded patch once more with zeros inside the Fourier
        layers, so that its two sides are not coupled through the periodic transform.
    domain_mask : bool
        Add a channel that is one inside the domain and zero in the padding and context
        beyond its edges, so that patches and windows at the boundary see where it lies.
        ``neurosolve train mg-tfno`` turns it on. It is off here so that checkpoints
        without this setting load with the input channels they were trained with.

    Raises
    ------
    ValueError
        On invalid settings. In ``forward``, on a wrong channel count, a grid with an axis
        shorter than ``2^(L + 1)`` points, or a grid whose patches are too small for
        ``n_modes``.

    Notes
    -----
    The global grid coordinates are appended to the input before patching, so the model
    receives each patch's position in the domain. A grid of at least ``2^(L + 1)`` points
    per axis whose sides are not multiples of ``2^(L + 1)`` is resampled bilinearly to the
    nearest multiples, and the output back to the input's grid.

    References
    ----------
    J. Kossaifi, N. Kovachki, K. Azizzadenesheli, A. Anandkumar, "Multi-Grid Tensorized
    Fourier Neural Operator for High-Resolution PDEs", TMLR 2023.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 1,
        levels: int = 1,
        padding_fraction: float = 0.25,
        stitching: str = "average",
        hidden_channels: int = 32,
        n_layers: int = 4,
        n_modes: Sequence[int] = (12, 12),
        rank: float = 0.1,
        lifting_channels: int = 64,
        projection_channels: int = 64,
        mlp_expansion: float = 0.5,
        domain_padding: float = 0.0,
        domain_mask: bool = False,
    ) -> None:
        super().__init__()
        if int(levels) != levels or levels < 0:
            raise ValueError(f"levels must be a non-negative integer, got {levels}")
        if not 0.0 <= padding_fraction <= 1.0:
            raise ValueError(f"padding_fraction must be in [0, 1], got {padding_fraction}")
        if stitching not in STITCHING:
            raise ValueError(f"stitching must be one of {STITCHING}, got {stitching!r}")
        if isinstance(n_modes, int) or len(tuple(n_modes)) != 2:
            raise ValueError(f"MG-TFNO works on 2D grids; n_modes {n_modes} needs 2 entries")
        self.in_channels = in_channels
        self.levels = int(levels)
        self.padding_fraction = padding_fraction
        self.stitching = stitching
        self.domain_mask = bool(domain_mask)
        extra = 3 if self.domain_mask else 2
        self.backbone = TFNO(
            in_channels=(self.levels + 1) * (in_channels + extra), out_channels=out_channels,
            hidden_channels=hidden_channels, n_layers=n_layers, n_modes=tuple(n_modes),
            rank=rank, lifting_channels=lifting_channels,
            projection_channels=projection_channels, domain_padding=domain_padding,
            positional_embedding=False, mlp_expansion=mlp_expansion,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, 2, "MGTFNO")
        height, width = x.shape[2:]
        smallest = 2 ** (self.levels + 1)
        if min(height, width) < smallest:
            raise ValueError(
                f"grid ({height}, {width}) is too small for levels={self.levels}: each axis "
                f"needs at least {smallest} points; use a finer grid or fewer levels"
            )
        x = resample_to_multiple(x, smallest)
        channels = [x, grid_coordinates(x, 2)]
        if self.domain_mask:
            channels.append(torch.ones_like(x[:, :1]))
        x = torch.cat(channels, dim=1)
        layout = patch_layout(x.shape[2], x.shape[3], self.levels, self.padding_fraction)
        patches = make_patches(x, self.levels, layout)
        try:
            out = self.backbone(patches)
        except ValueError as err:
            raise ValueError(
                f"grid ({height}, {width}) gives patches of {layout.window} points with "
                f"levels={self.levels}, too small for the model: {err}"
            ) from err
        return resample_back(stitch_patches(out, layout, self.stitching), (height, width))
