"""Convolutional surrogates of 2D wave time stepping, full and a priori compressed.

:class:`WaveCNN` maps the last ``history`` fields of a simulation and the local Courant
number ``c dt / h`` to the next ``outputs`` fields. With ``compression=None`` its layers
are ``nn.Conv2d``. With ``compression="cp"``, ``"2way"`` or ``"2way-shared"`` every layer
is the :class:`~neurosolve.sciml.compressed_conv.CompressedConv2d` of the same shape, so the two
networks differ only in how their kernels are parameterised (Boukraichi et al., 2023).

Two fixed operations wrap the learned layers. The input fields are divided by their
largest absolute value and the output multiplied back, because the wave equation is
linear and the network should not depend on the amplitude. The output is a correction to
the linear extrapolation ``u_k + j (u_k - u_{k-1})`` of the last two fields, which for
``j = 1`` is the leapfrog part ``2 u_k - u_{k-1}`` of the central-difference scheme.

References
----------
H. Boukraichi, N. Akkari, F. Casenave, D. Ryckelynck, "A priori compression of
convolutional neural networks for wave simulators", Engineering Applications of
Artificial Intelligence, 2023 (arXiv:2304.04964).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoints import register_model
from .compressed_conv import FORMS, CompressedConv2d, compressed_parameter_count


@register_model("wave-cnn")
class WaveCNN(nn.Module):
    """A fully convolutional next-step predictor for the 2D wave equation.

    Parameters
    ----------
    history : int
        Number ``k >= 2`` of past fields the network reads.
    outputs : int
        Number of future fields it predicts at once.
    hidden : int
        Channels of the hidden layers.
    layers : int
        Number of convolution layers (at least 2), with GELU between them.
    kernel_size : int
        Odd kernel width of every layer.
    compression : {None, "cp", "2way", "2way-shared"}
        None for dense kernels; otherwise the compressed form of every layer.
    rank : int
        Rank of the compressed kernels; ignored when ``compression`` is None.

    Notes
    -----
    The first layer reads ``2 * history + 1`` channels: the normalised states, the
    Courant number and the states multiplied by the squared Courant number. The last
    layer starts at zero, so an untrained model returns the linear extrapolation.
    Input ``states`` has shape ``(batch, history, ny, nx)``, oldest first, and
    ``courant`` has shape ``(batch, 1, ny, nx)``. The output has shape
    ``(batch, outputs, ny, nx)``. Zero padding keeps every layer's grid, so the network
    runs on any grid size.
    """

    def __init__(
        self,
        history: int = 4,
        outputs: int = 1,
        hidden: int = 32,
        layers: int = 4,
        kernel_size: int = 5,
        compression: str | None = None,
        rank: int = 4,
    ) -> None:
        super().__init__()
        if history < 2:
            raise ValueError(f"history must be at least 2 (the leapfrog needs two), got {history}")
        if layers < 2:
            raise ValueError(f"layers must be at least 2, got {layers}")
        if compression is not None and compression not in FORMS:
            raise ValueError(f"compression must be None or one of {FORMS}, got {compression!r}")
        self.history = history
        self.outputs = outputs
        self.hidden = hidden
        self.kernel_size = kernel_size
        self.compression = compression
        self.rank = rank
        widths = [2 * history + 1] + [hidden] * (layers - 1) + [outputs]
        self.convs = nn.ModuleList(
            self._conv(c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.activation = nn.GELU()
        # Start from the plain extrapolation: the last layer's correction is zero.
        last: Any = self.convs[-1]
        with torch.no_grad():
            nn.init.zeros_(last.weight if isinstance(last, nn.Conv2d) else last.row_factor)
            nn.init.zeros_(last.bias)

    def _conv(self, in_channels: int, out_channels: int) -> nn.Module:
        if self.compression is None:
            return nn.Conv2d(in_channels, out_channels, self.kernel_size,
                             padding=self.kernel_size // 2)
        return CompressedConv2d(in_channels, out_channels, self.kernel_size,
                                rank=self.rank, form=self.compression)

    def forward(self, states: torch.Tensor, courant: torch.Tensor) -> torch.Tensor:
        scale = states.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        # The scheme's update is (c dt / h)^2 times a stencil of u, so the products
        # courant^2 * u are given as inputs that the first layer can filter linearly.
        normalised = states / scale
        y = torch.cat([normalised, courant, courant**2 * normalised], dim=1)
        for i, conv in enumerate(self.convs):
            y = conv(y)
            if i < len(self.convs) - 1:
                y = self.activation(y)
        last, before = states[:, -1:], states[:, -2:-1]
        steps = torch.arange(1, self.outputs + 1, dtype=states.dtype, device=states.device)
        extrapolation = last + steps.view(1, -1, 1, 1) * (last - before)
        return extrapolation + scale * y

    def parameter_count(self) -> int:
        """Return the number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def expected_parameter_count(self) -> int:
        """Return the parameter count predicted from the layer shapes alone.

        Dense layers have ``out * (in * k^2 + 1)`` parameters; compressed layers follow
        :func:`~neurosolve.sciml.compressed_conv.compressed_parameter_count`.
        """
        total = 0
        conv: Any
        for conv in self.convs:
            c_in, c_out = conv.in_channels, conv.out_channels
            if self.compression is None:
                total += c_out * (c_in * self.kernel_size**2 + 1)
            else:
                total += compressed_parameter_count(
                    c_in, c_out, self.kernel_size, self.rank, self.compression
                )
        return total

    def memory_bytes(self) -> int:
        """Return the bytes taken by the parameters and buffers."""
        tensors = list(self.parameters()) + list(self.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)


def courant_field(speed: np.ndarray, dt: float, spacing: float) -> np.ndarray:
    """Return the local Courant number ``c dt / h`` that the network reads as a channel."""
    return np.asarray(speed, dtype=np.float64) * dt / spacing


@torch.no_grad()
def rollout(
    model: WaveCNN, states: np.ndarray | torch.Tensor, courant: np.ndarray | torch.Tensor,
    steps: int,
) -> np.ndarray:
    """Predict ``steps`` further fields autoregressively from the last ``history`` fields.

    Parameters
    ----------
    model : WaveCNN
    states : array, shape (history, ny, nx)
        The last ``model.history`` fields, oldest first.
    courant : array, shape (ny, nx)
        Local Courant number ``c dt / h``; see :func:`courant_field`.
    steps : int
        Number of fields to predict.

    Returns
    -------
    ndarray, shape (steps, ny, nx)
        The predicted fields at the next ``steps`` times.

    Raises
    ------
    ValueError
        If ``states`` does not have shape ``(model.history, ny, nx)`` or ``courant``
        does not match its grid.
    """
    states = torch.as_tensor(np.asarray(states), dtype=torch.float32)
    courant = torch.as_tensor(np.asarray(courant), dtype=torch.float32)
    if states.ndim != 3 or states.shape[0] != model.history:
        raise ValueError(
            f"initial states have shape {tuple(states.shape)}, but the model reads its last "
            f"{model.history} fields: pass an array of shape ({model.history}, ny, nx)"
        )
    if courant.shape != states.shape[1:]:
        raise ValueError(
            f"courant has shape {tuple(courant.shape)}, expected the grid shape "
            f"{tuple(states.shape[1:])} of the states"
        )
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps}")
    device = next(model.parameters()).device
    window = states[None].to(device)
    channel = courant[None, None].to(device)
    predicted: list[torch.Tensor] = []
    while len(predicted) < steps:
        new = model(window, channel)[0]
        predicted.extend(new)
        window = torch.cat([window[:, new.shape[0]:], new[None]], dim=1)[:, -model.history:]
    if not predicted:
        return np.zeros((0, *states.shape[1:]))
    return torch.stack(predicted[:steps]).cpu().numpy().astype(np.float64)
