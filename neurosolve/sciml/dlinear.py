"""DLinear: a moving-average decomposition followed by one linear map per component.

References
----------
.. [1] A. Zeng, M. Chen, L. Zhang, Q. Xu, "Are Transformers Effective for Time Series
   Forecasting?", AAAI 2023.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import register_model


def moving_average(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Return the centred moving average of ``x`` along time, shape ``(batch, time, channels)``.

    The ends are padded by repeating the first and last values, so the output keeps the
    input's length.
    """
    front = (kernel_size - 1) // 2
    back = kernel_size - 1 - front
    padded = torch.cat(
        [x[:, :1].expand(-1, front, -1), x, x[:, -1:].expand(-1, back, -1)], dim=1
    )
    return F.avg_pool1d(padded.transpose(1, 2), kernel_size, stride=1).transpose(1, 2)


@register_model("dlinear")
class DLinear(nn.Module):
    """Trend (moving average) and remainder, each mapped from ``seq_len`` to ``pred_len`` steps.

    Parameters
    ----------
    seq_len, pred_len : int
    channels : int
        Number of series; the linear maps are shared by all of them.
    kernel_size : int
        Window of the moving average; 25 in the reference implementation.

    Notes
    -----
    Input and output have shape ``(batch, time, channels)``. ``channels`` is stored so
    that checkpoints record what the model was trained on.
    """

    def __init__(self, seq_len: int, pred_len: int, channels: int, *, kernel_size: int = 25):
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be positive, got {kernel_size}")
        self.seq_len = seq_len
        self.pred_len = pred_len
        self.channels = channels
        self.kernel_size = kernel_size
        self.trend = nn.Linear(seq_len, pred_len)
        self.remainder = nn.Linear(seq_len, pred_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = moving_average(x, self.kernel_size)
        remainder = x - trend
        out = self.trend(trend.transpose(1, 2)) + self.remainder(remainder.transpose(1, 2))
        return out.transpose(1, 2)
