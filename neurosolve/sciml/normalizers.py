"""Normalisers fitted on the training split and saved with the model."""

from __future__ import annotations

import torch


class UnitGaussianNormalizer(torch.nn.Module):
    """Shift and scale data to zero mean and unit standard deviation.

    Parameters
    ----------
    dims : tuple of int
        Axes reduced when fitting; the statistics keep the other axes. ``(0,)`` gives
        pointwise statistics over samples, ``(0, 2, 3)`` per-channel statistics of
        ``(batch, channel, y, x)`` data.
    eps : float
        Added to the standard deviation so constant data scales to zeros, not NaN.
    """

    def __init__(self, dims: tuple[int, ...] = (0,), eps: float = 1e-6) -> None:
        super().__init__()
        self.dims = tuple(dims)
        self.eps = eps
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))

    def fit(self, data: torch.Tensor) -> UnitGaussianNormalizer:
        self.mean = data.mean(dim=self.dims, keepdim=True).detach().clone()
        self.std = data.std(dim=self.dims, keepdim=True, unbiased=False).detach().clone()
        return self

    def encode(self, data: torch.Tensor) -> torch.Tensor:
        return (data - self.mean) / (self.std + self.eps)

    def decode(self, data: torch.Tensor) -> torch.Tensor:
        return data * (self.std + self.eps) + self.mean

    def state(self) -> dict:
        """Return the statistics in a form ``torch.load(weights_only=True)`` accepts."""
        return {"dims": list(self.dims), "eps": self.eps, "mean": self.mean, "std": self.std}

    @classmethod
    def from_state(cls, state: dict) -> UnitGaussianNormalizer:
        normalizer = cls(tuple(state["dims"]), float(state["eps"]))
        normalizer.mean = state["mean"].clone()
        normalizer.std = state["std"].clone()
        return normalizer
