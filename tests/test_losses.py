"""Relative L2 and H1 training losses against hand-computed values."""

import math

import pytest
import torch

from neurosolve.sciml.losses import H1Loss, LpLoss


def smooth_field(n: int) -> torch.Tensor:
    x = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    return (torch.sin(math.pi * x)[:, None] * torch.sin(math.pi * x)[None, :])[None, None]


def test_scaled_field_relative_errors():
    u = smooth_field(33)
    assert LpLoss()(1.1 * u, u).item() == pytest.approx(0.1)
    assert H1Loss()(1.1 * u, u).item() == pytest.approx(0.1)


def test_h1_sees_checkerboard_error():
    n, eps = 16, 1e-3
    u = torch.ones(1, 1, n, n, dtype=torch.float64)
    index = torch.arange(n)
    checkerboard = (-1.0) ** (index[:, None] + index[None, :]).to(torch.float64)
    pred = u + eps * checkerboard
    # Each forward difference of the error is 2 eps over the spacing 1 / (n - 1), on
    # n (n - 1) edges per axis. The target's gradient is zero.
    gradient_squared = 2 * n * (n - 1) * (2 * eps * (n - 1)) ** 2
    expected = math.sqrt(eps**2 * n**2 + gradient_squared) / n
    assert H1Loss()(pred, u).item() == pytest.approx(expected)
    assert LpLoss()(pred, u).item() == pytest.approx(eps)
