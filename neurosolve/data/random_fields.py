"""Gaussian random fields on grids, sampled spectrally, and coefficients made from them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def matern_spectrum(
    shape: Sequence[int], *, alpha: float = 2.0, tau: float = 3.0
) -> np.ndarray:
    """Return the eigenvalues of ``(-Laplacian + tau^2 I)^(-alpha)`` on the periodic unit box.

    Parameters
    ----------
    shape : sequence of int
        Grid points per axis (C order); the box has period 1 along every axis.
    alpha : float
        Smoothness exponent (> d/2 for a field with finite variance in d dimensions).
    tau : float
        Inverse length scale.

    Returns
    -------
    ndarray, shape ``shape``
        ``sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)`` for the integer wavenumbers ``k`` in
        :func:`numpy.fft.fftn` order, with ``sigma = tau^(alpha - d/2)`` so that the mean
        mode has variance ``tau^(-d)``, the scaling the Fourier-neural-operator data uses in
        2D (Li et al., 2021).
    """
    d = len(shape)
    sigma = tau ** (alpha - d / 2)
    k2 = np.zeros(tuple(shape))
    for axis, n in enumerate(shape):
        k = np.fft.fftfreq(n, d=1.0 / n)
        k2 = k2 + (k**2).reshape([-1 if a == axis else 1 for a in range(d)])
    return sigma**2 * (4 * np.pi**2 * k2 + tau**2) ** (-alpha)


def gaussian_random_field(
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
) -> np.ndarray:
    """Draw a zero-mean Gaussian random field with covariance ``(-Laplacian + tau^2 I)^(-alpha)``.

    Parameters
    ----------
    shape : sequence of int
        Grid points per axis, C order (``(ny, nx)`` or ``(nz, ny, nx)``); 1 to 3 axes.
    rng : numpy.random.Generator
        Source of randomness; the field is a deterministic function of its state.
    alpha, tau : float
        Smoothness exponent and inverse length scale of the covariance operator, see
        :func:`matern_spectrum`. The defaults (2, 3) are those of the Darcy data of Li et
        al. (2021).

    Returns
    -------
    ndarray of float64, shape ``shape``
        The field at the grid points ``j / n`` of the periodic unit box.

    Raises
    ------
    ValueError
        If ``shape`` has not 1 to 3 positive entries, or ``alpha`` or ``tau`` is not positive.

    Notes
    -----
    The field is the truncated Karhunen-Loeve sum ``sum_k sqrt(lambda_k) xi_k exp(2 pi i k.x)``
    over the grid's wavenumbers, with Hermitian-symmetric standard complex normal ``xi_k``
    obtained as the normalised FFT of real white noise, so the result is real and its
    pointwise variance is ``sum_k lambda_k``.

    References
    ----------
    Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart and
    A. Anandkumar (2021). Fourier neural operator for parametric partial differential
    equations. ICLR 2021.
    """
    shape = tuple(int(n) for n in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise ValueError(f"shape must have 1 to 3 positive entries, got {shape}")
    if alpha <= 0 or tau <= 0:
        raise ValueError(f"alpha and tau must be positive, got alpha={alpha}, tau={tau}")
    size = int(np.prod(shape))
    noise = rng.standard_normal(shape)
    xi = np.fft.fftn(noise) / np.sqrt(size)
    coefficients = np.sqrt(matern_spectrum(shape, alpha=alpha, tau=tau)) * xi
    return np.real(np.fft.ifftn(coefficients)) * size


def threshold_coefficient(
    field: np.ndarray, *, high: float = 12.0, low: float = 3.0, level: float = 0.0
) -> np.ndarray:
    """Map a field to a two-valued coefficient: ``high`` where ``field > level``, else ``low``.

    The defaults give the two-phase Darcy coefficient (12 and 3) of Li et al. (2021).
    """
    if high <= 0 or low <= 0:
        raise ValueError(f"coefficient values must be positive, got high={high}, low={low}")
    return np.where(np.asarray(field) > level, float(high), float(low))


def lognormal_coefficient(
    field: np.ndarray, *, mean: float = 0.0, scale: float = 1.0
) -> np.ndarray:
    """Map a Gaussian field ``g`` to the smooth positive coefficient ``exp(mean + scale * g)``."""
    return np.exp(mean + scale * np.asarray(field))
