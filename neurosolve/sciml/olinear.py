"""OLinear: linear forecasting in an orthogonally transformed time domain.

The model (Yue et al., 2025) normalises each input window per channel (RevIN). It then
projects every channel's lookback onto an orthonormal basis of the training data's
temporal correlation (OrthoTrans) and mixes channels with NormLin blocks. The result is
mapped back with the horizon's basis and read out by a small feed-forward head.

References
----------
.. [1] W. Yue, Y. Liu, X. Ying, B. Xing, R. Guo, J. Shi, "OLinear: A Linear Model for
   Time Series Forecasting in Orthogonally Transformed Domain", arXiv:2505.08550, 2025.
.. [2] T. Kim, J. Kim, Y. Tae, C. Park, J.-H. Choi, J. Choo, "Reversible Instance
   Normalization for Accurate Time-Series Forecasting against Distribution Shift",
   ICLR 2022.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from .checkpoints import register_model


def orthotrans_basis(series: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Compute the OrthoTrans basis of windows of ``length`` steps.

    For each channel, the windows ``series[i : i + length, c]`` are samples of a
    ``length``-dimensional vector, and their Pearson correlation matrix is computed.
    The eigenvectors of the channel average of these matrices form the basis.

    Parameters
    ----------
    series : ndarray, shape (time, channels)
        The training split only, so that no statistic of validation or test data leaks
        into the model.
    length : int
        Window length: ``seq_len`` for the input basis, ``pred_len`` for the output one.

    Returns
    -------
    basis : ndarray, shape (length, length)
        Orthonormal rows, the eigenvectors ordered by decreasing eigenvalue, each with
        its largest-magnitude entry positive. ``window @ basis.T`` gives the coefficients
        and ``coefficients @ basis`` the window back.
    correlation : ndarray, shape (length, length)
        The channel-averaged correlation matrix, which ``basis`` diagonalises.

    Raises
    ------
    ValueError
        If the series has fewer than ``length + 1`` steps or every channel is constant.
    """
    series = np.asarray(series, dtype=np.float64)
    if series.ndim == 1:
        series = series[:, None]
    if series.shape[0] < length + 1:
        raise ValueError(
            f"the OrthoTrans basis of length {length} needs at least {length + 1} training "
            f"steps, got {series.shape[0]}"
        )
    matrices = []
    for channel in range(series.shape[1]):
        windows = sliding_window_view(series[:, channel], length)
        centred = windows - windows.mean(axis=0)
        scale = np.sqrt((centred**2).sum(axis=0))
        # A channel whose windows do not vary at some lag has no correlation to offer.
        if np.any(scale <= 1e-12 * max(np.abs(windows).max(), 1.0)):
            continue
        normalised = centred / scale
        matrices.append(normalised.T @ normalised)
    if not matrices:
        raise ValueError(
            "every channel of the training series is constant; OrthoTrans needs variation"
        )
    correlation = np.mean(matrices, axis=0)
    correlation = 0.5 * (correlation + correlation.T)
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    order = np.argsort(eigenvalues)[::-1]
    basis = eigenvectors[:, order].T
    signs = np.sign(basis[np.arange(length), np.abs(basis).argmax(axis=1)])
    basis = basis * signs[:, None]
    return basis, correlation


def horizon_weighted_l1(
    pred: torch.Tensor, target: torch.Tensor, alpha: float = 0.5
) -> torch.Tensor:
    """Mean absolute error with step ``k`` (from 1) of the horizon weighted by ``k**-alpha``.

    Tensors have shape ``(batch, horizon, channels)``. With ``alpha=0`` this is the plain
    L1 loss. OLinear's authors train ETTh1 with ``alpha=0.5``.
    """
    steps = torch.arange(1, pred.shape[1] + 1, dtype=pred.dtype, device=pred.device)
    weights = steps.pow(-alpha)[None, :, None]
    return ((pred - target).abs() * weights).mean()


class RevIN(nn.Module):
    """Reversible instance normalisation over the time axis, per channel.

    :meth:`normalize` stores each window's mean and standard deviation and
    :meth:`denormalize` applies their inverse to the forecast.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        self._mean = x.mean(dim=1, keepdim=True).detach()
        self._std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()
        return (x - self._mean) / self._std * self.weight + self.bias

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        if self._mean is None or self._std is None:
            raise RuntimeError("denormalize called before normalize")
        y = (y - self.bias) / (self.weight + self.eps**2)
        return y * self._std + self._mean


class NormLin(nn.Module):
    """One NormLin block: channel mixing by a positive row-normalised matrix, then a feed-forward.

    ``x -> LayerNorm(x + out(A @ value(x)))`` followed by ``x -> LayerNorm(x + FFN(x))``,
    where ``A = softplus(W)`` with each row divided by its sum, so that its entries are
    positive and each row sums to one.
    """

    def __init__(self, channels: int, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.eye(channels) + torch.randn(channels, channels))
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm_mix = nn.LayerNorm(d_model)
        self.feed_forward = nn.Sequential(
            nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model)
        )
        self.norm_ff = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def mixing_matrix(self) -> torch.Tensor:
        """Return the channel-mixing matrix, shape (channels, channels)."""
        return F.normalize(F.softplus(self.weight), p=1, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixing = self.dropout(self.mixing_matrix())
        x = self.norm_mix(x + self.dropout(self.out(mixing @ self.value(x))))
        return self.norm_ff(x + self.dropout(self.feed_forward(x)))


@register_model("olinear")
class OLinear(nn.Module):
    """OLinear forecaster for ``channels`` series, ``seq_len`` steps in, ``pred_len`` out.

    Parameters
    ----------
    seq_len, pred_len : int
        Lookback and horizon lengths.
    channels : int
        Number of series (variates); NormLin mixes them, so it is fixed per model.
    d_model : int
        Width of each channel's token in the NormLin blocks.
    d_ff : int
        Hidden width of the feed-forward layers and of the output head.
    embed_size : int
        Each scalar is lifted to a vector of this size by a learned embedding before the
        transform.
    n_layers : int
        Number of NormLin blocks.
    dropout : float

    Notes
    -----
    The defaults are the authors' ETTh1 settings (``d_model = d_ff = 512``,
    ``embed_size = 16``, two blocks, dropout 0.2). The bases start as identities and are
    set from the training split with :meth:`set_bases`; they are buffers, so checkpoints
    carry them. Input and output have shape ``(batch, time, channels)``.
    """

    basis_in: torch.Tensor
    basis_out: torch.Tensor

    def __init__(
        self,
        seq_len: int,
        pred_len: int,
        channels: int,
        *,
        d_model: int = 512,
        d_ff: int = 512,
        embed_size: int = 16,
        n_layers: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.pred_len = pred_len
        self.channels = channels
        self.embed_size = embed_size
        self.revin = RevIN(channels)
        self.embedding = nn.Parameter(torch.randn(1, embed_size))
        self.register_buffer("basis_in", torch.eye(seq_len))
        self.register_buffer("basis_out", torch.eye(pred_len))
        self.shift_in = nn.Parameter(torch.zeros(1, channels, 1, seq_len))
        self.shift_out = nn.Parameter(torch.zeros(1, channels, 1, pred_len))
        self.encode = nn.Linear(seq_len * embed_size, d_model)
        self.blocks = nn.ModuleList(
            NormLin(channels, d_model, d_ff, dropout) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.decode = nn.Linear(d_model, pred_len * embed_size)
        self.head = nn.Sequential(
            nn.Linear(pred_len * embed_size, d_ff), nn.GELU(), nn.Linear(d_ff, pred_len)
        )
        self.dropout = nn.Dropout(dropout)

    def set_bases(self, basis_in: np.ndarray, basis_out: np.ndarray) -> None:
        """Install the OrthoTrans bases, shapes (seq_len, seq_len) and (pred_len, pred_len)."""
        for name, basis, size in (("basis_in", basis_in, self.seq_len),
                                  ("basis_out", basis_out, self.pred_len)):
            if np.shape(basis) != (size, size):
                raise ValueError(f"{name} has shape {np.shape(basis)}, expected ({size}, {size})")
            getattr(self, name).copy_(torch.as_tensor(np.asarray(basis), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        x = self.revin.normalize(x)
        # (batch, time, channels) -> (batch, channels, embed, time)
        tokens = x.transpose(1, 2).unsqueeze(2) * self.embedding[..., None]
        tokens = tokens @ self.basis_in.T + self.shift_in
        hidden = self.encode(tokens.flatten(2))
        for block in self.blocks:
            hidden = block(hidden)
        hidden = self.decode(self.norm(hidden))
        coefficients = hidden.reshape(batch, self.channels, self.embed_size, self.pred_len)
        series = coefficients @ self.basis_out + self.shift_out
        # (batch, channels, embed, pred_len) -> (batch, channels, pred_len * embed)
        out = self.head(series.transpose(2, 3).flatten(2)).transpose(1, 2)
        return self.revin.denormalize(self.dropout(out))
