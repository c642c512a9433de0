"""The metrics every validation suite reports, in one place.

Linear solves are judged by iterations, time and the true residual. Fields are judged by
relative L2 and H1 errors against a reference, rollouts by the relative L2 error at each
step, and forecasts by MSE and MAE on standardised data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def relative_residual(A, b: np.ndarray, x: np.ndarray) -> float:
    """Return ``||b - A x|| / ||b||`` (the absolute norm when ``b = 0``)."""
    r = np.linalg.norm(b - np.asarray(A @ x).reshape(-1))
    b_norm = np.linalg.norm(b)
    return float(r / b_norm) if b_norm > 0 else float(r)


def relative_l2(prediction: np.ndarray, reference: np.ndarray) -> float:
    """Return ``||prediction - reference|| / ||reference||`` over all entries.

    On a uniform grid this equals the ratio of discrete L2 norms, since the cell volume
    cancels.
    """
    prediction, reference = _same_shape(prediction, reference)
    denominator = np.linalg.norm(reference)
    difference = np.linalg.norm(prediction - reference)
    return float(difference / denominator) if denominator > 0 else float(difference)


def relative_h1(
    prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float] | None = None
) -> float:
    """Return the relative H1 error of grid fields.

    The squared H1 norm is the squared L2 norm plus the squared L2 norm of the gradient,
    the gradient taken by second-order differences (``numpy.gradient``) with the given
    grid ``spacing`` (unit spacing when omitted).
    """
    prediction, reference = _same_shape(prediction, reference)
    spacing = tuple(spacing) if spacing is not None else (1.0,) * reference.ndim
    if len(spacing) != reference.ndim:
        raise ValueError(f"spacing {spacing} does not match a field of shape {reference.shape}")

    def h1_squared(u: np.ndarray) -> float:
        gradients = np.gradient(u, *spacing) if u.ndim > 1 else [np.gradient(u, *spacing)]
        return float(np.sum(u**2) + sum(np.sum(g**2) for g in gradients))

    denominator = h1_squared(reference)
    difference = h1_squared(prediction - reference)
    if denominator == 0:
        return float(np.sqrt(difference))
    return float(np.sqrt(difference / denominator))


def rollout_errors(prediction: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Return the relative L2 error of each time step of two ``(steps, *grid)`` series."""
    prediction, reference = _same_shape(prediction, reference)
    return np.array([relative_l2(p, r) for p, r in zip(prediction, reference, strict=True)])


def mse(prediction: np.ndarray, truth: np.ndarray) -> float:
    prediction, truth = _same_shape(prediction, truth)
    return float(np.mean((prediction - truth) ** 2))


def mae(prediction: np.ndarray, truth: np.ndarray) -> float:
    prediction, truth = _same_shape(prediction, truth)
    return float(np.mean(np.abs(prediction - truth)))


def _same_shape(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"prediction has shape {a.shape} but reference has shape {b.shape}")
    return a, b
