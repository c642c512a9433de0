"""Spectral convolution in 2D and 3D with dense or Tucker-factorised complex weights.

The layer multiplies the lowest Fourier modes of its input by a learned complex tensor and
discards the rest (Li et al. 2021). With ``factorization="tucker"`` that tensor is stored as a
Tucker core and one factor matrix per axis (Kossaifi et al. 2023) and rebuilt with tensorly's
torch backend before each contraction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorly as tl
import torch
from tensorly.decomposition import tucker

FACTORIZATIONS = (None, "dense", "tucker")


def normalize_modes(n_modes: int | Sequence[int], ndim: int | None = None) -> tuple[int, ...]:
    """Return ``n_modes`` as a tuple with one positive entry per spatial axis.

    Raises
    ------
    ValueError
        If an entry is not a positive integer or the tuple has the wrong length.
    """
    if isinstance(n_modes, int | np.integer):
        if ndim is None:
            raise ValueError("an integer n_modes needs the number of spatial axes")
        modes = (int(n_modes),) * ndim
    else:
        modes = tuple(int(m) for m in n_modes)
    if ndim is not None and len(modes) != ndim:
        raise ValueError(f"n_modes {modes} must have {ndim} entries, one per spatial axis")
    if len(modes) not in (2, 3):
        raise ValueError(f"n_modes {modes} must have 2 or 3 entries (2D or 3D grids)")
    if any(m < 1 for m in modes):
        raise ValueError(f"n_modes entries must be positive integers, got {modes}")
    return modes


def min_grid_shape(n_modes: Sequence[int]) -> tuple[int, ...]:
    """Return the smallest grid that contains ``n_modes`` Fourier modes along each axis.

    Every axis but the last keeps ``m`` non-negative and ``m`` negative frequencies, so it
    needs ``2 m`` points. The last axis uses the real FFT, whose ``n // 2 + 1`` frequencies
    must include ``0 .. m - 1``, so it needs ``2 (m - 1)`` points (at least one).
    """
    *leading, last = n_modes
    return (*(2 * m for m in leading), max(1, 2 * (last - 1)))


def check_grid(shape: Sequence[int], n_modes: Sequence[int]) -> None:
    """Raise ``ValueError`` when a grid is too small for ``n_modes``."""
    needed = min_grid_shape(n_modes)
    if len(shape) != len(needed) or any(n < k for n, k in zip(shape, needed, strict=True)):
        raise ValueError(
            f"grid {tuple(shape)} is too small for n_modes={tuple(n_modes)}: it needs at least "
            f"{needed} points; use a finer grid or a model with fewer modes"
        )


def tucker_rank(shape: Sequence[int], fraction: float) -> tuple[int, ...]:
    """Choose Tucker ranks whose parameter count is about ``fraction`` of the dense tensor's.

    All ranks are the same fraction ``s`` of their dimension, with ``s`` found by bisection
    so that ``prod(r) + sum(d * r)`` is closest to ``fraction * prod(d)`` from below. A
    ``fraction`` of 1 or more gives full ranks.
    """
    if not fraction > 0:
        raise ValueError(
            f"rank must be a positive fraction of the dense parameters, got {fraction}"
        )
    dims = np.asarray(shape, dtype=float)
    if fraction >= 1.0:
        return tuple(int(d) for d in dims)
    target = fraction * float(np.prod(dims))

    def count(scale: float) -> float:
        ranks = np.maximum(1, np.round(dims * scale))
        return float(np.prod(ranks) + np.sum(dims * ranks))

    low, high = 0.0, 1.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if count(middle) <= target else (low, middle)
    return tuple(int(r) for r in np.maximum(1, np.round(dims * low)))


def _mode_indices(shape: Sequence[int], n_modes: Sequence[int]) -> tuple:
    """Index the retained modes of an rFFT spectrum of a grid of ``shape``.

    Leading axes keep frequencies ``0 .. m-1`` and ``-m .. -1``; the last axis keeps
    ``0 .. m-1``. The result indexes ``spectrum[(..., *index)]`` and has the weight's layout.
    """
    *leading, last = n_modes
    axes = [np.r_[0:m, n - m : n] for n, m in zip(shape[:-1], leading, strict=True)]
    grids = np.ix_(*axes, np.arange(last))
    return tuple(torch.as_tensor(g) for g in grids)


class SpectralConv(torch.nn.Module):
    """Fourier-space convolution ``x -> irfft(W * rfft(x))`` over the lowest modes.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output fields.
    n_modes : int or sequence of int
        Modes kept per spatial axis: a sequence of 2 (2D) or 3 (3D) entries, or one integer
        for the same count along both axes of a 2D grid. Along every axis
        but the last, ``m`` non-negative and ``m`` negative frequencies are kept.
    factorization : {None, "dense", "tucker"}
        ``None`` or ``"dense"`` stores the full complex weight of shape
        ``(in_channels, out_channels, 2 m_1, ..., m_d)``. ``"tucker"`` stores its Tucker
        core and factors.
    rank : float
        For ``"tucker"``, the parameter count as a fraction of the dense weight's; 1.0 gives
        full Tucker ranks, which represent any dense weight exactly.
    bias : bool
        Add a learned per-channel bias to the output.

    Raises
    ------
    ValueError
        On an unknown factorisation, invalid ``n_modes`` or ``rank``.

    Notes
    -----
    Inputs have shape ``(batch, in_channels, *grid)``, with ``len(grid) == len(n_modes)``.
    Any grid size, odd or even and not necessarily square, is accepted if it contains the
    modes (see :func:`min_grid_shape`); a smaller grid raises ``ValueError``.

    References
    ----------
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
    A. Anandkumar, "Fourier Neural Operator for Parametric Partial Differential Equations",
    ICLR 2021.

    J. Kossaifi, N. Kovachki, K. Azizzadenesheli, A. Anandkumar, "Multi-Grid Tensorized
    Fourier Neural Operator for High-Resolution PDEs", TMLR 2023.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: int | Sequence[int],
        *,
        factorization: str | None = None,
        rank: float = 1.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if factorization not in FACTORIZATIONS:
            raise ValueError(
                f"factorization must be one of {FACTORIZATIONS}, got {factorization!r}"
            )
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.n_modes = normalize_modes(n_modes, 2 if isinstance(n_modes, int) else None)
        self.factorization = "dense" if factorization is None else factorization
        *leading, last = self.n_modes
        self.weight_shape = (self.in_channels, self.out_channels, *(2 * m for m in leading), last)

        # Glorot scale over the channel contraction, so each output mode starts with about
        # the variance of the input modes.
        std = (2.0 / (self.in_channels + self.out_channels)) ** 0.5
        if self.factorization == "dense":
            dense = std * torch.randn(self.weight_shape, dtype=torch.cfloat)
            self.weight = torch.nn.Parameter(dense)
        else:
            self.rank = tucker_rank(self.weight_shape, rank)
            # Orthonormal factors and a core scaled by sqrt(prod(d) / prod(r)) give the
            # rebuilt tensor entries of standard deviation ``std``, like the dense layer.
            self.factors = torch.nn.ParameterList(
                torch.nn.Parameter(torch.linalg.qr(torch.randn(d, r, dtype=torch.cfloat))[0])
                for d, r in zip(self.weight_shape, self.rank, strict=True)
            )
            core_std = std * math.sqrt(math.prod(self.weight_shape) / math.prod(self.rank))
            self.core = torch.nn.Parameter(core_std * torch.randn(self.rank, dtype=torch.cfloat))
        self.bias = (
            torch.nn.Parameter(torch.zeros(self.out_channels, *(1,) * len(self.n_modes)))
            if bias
            else None
        )

    @torch.no_grad()
    def set_dense_weight(self, weight: torch.Tensor) -> None:
        """Set the layer's weight from a dense complex tensor of shape ``weight_shape``.

        A Tucker layer stores the higher-order SVD of ``weight`` truncated to its ranks, so
        at full rank it reproduces ``weight`` to rounding error.
        """
        weight = torch.as_tensor(weight, dtype=torch.cfloat)
        if tuple(weight.shape) != self.weight_shape:
            raise ValueError(
                f"weight has shape {tuple(weight.shape)}, expected {self.weight_shape}"
            )
        if self.factorization == "dense":
            self.weight.copy_(weight)
            return
        with tl.backend_context("pytorch"):
            core, factors = tucker(weight, rank=list(self.rank), init="svd", n_iter_max=1)
        self.core.copy_(core)
        for parameter, factor in zip(self.factors, factors, strict=True):
            parameter.copy_(factor)

    def dense_weight(self) -> torch.Tensor:
        """Return the complex weight tensor, rebuilt from its factors for a Tucker layer."""
        if self.factorization == "dense":
            return self.weight
        with tl.backend_context("pytorch"):
            return tl.tucker_to_tensor((self.core, list(self.factors)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = len(self.n_modes)
        if x.ndim != spatial + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"input has shape {tuple(x.shape)}, expected (batch, {self.in_channels}, "
                f"{spatial} grid axes)"
            )
        grid = tuple(x.shape[2:])
        check_grid(grid, self.n_modes)
        axes = tuple(range(-spatial, 0))
        spectrum = torch.fft.rfftn(x.float(), dim=axes, norm="ortho")
        index = _mode_indices(grid, self.n_modes)
        selected = spectrum[(slice(None), slice(None), *index)]
        weight = self.dense_weight()
        letters = "xyz"[:spatial]
        mixed = torch.einsum(f"bi{letters},io{letters}->bo{letters}", selected, weight)

        out_spectrum = spectrum.new_zeros((x.shape[0], self.out_channels, *spectrum.shape[2:]))
        out_spectrum[(slice(None), slice(None), *index)] = mixed
        out = torch.fft.irfftn(out_spectrum, s=grid, dim=axes, norm="ortho")
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}"
        text += f", factorization={self.factorization!r}"
        if self.factorization == "tucker":
            text += f", rank={self.rank}"
        return text


def count_parameters(module: torch.nn.Module) -> int:
    """Return the number of real parameters of a module; a complex entry counts as two."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters())


__all__ = [
    "SpectralConv",
    "check_grid",
    "count_parameters",
    "min_grid_shape",
    "normalize_modes",
    "tucker_rank",
]
