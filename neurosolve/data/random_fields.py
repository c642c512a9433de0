"""Gaussian random fields on grids, sampled spectrally, and coefficients made from them.

A field is the truncated Karhunen-Loeve sum ``g(x) = sum_k sqrt(lambda_k) xi_k phi_k(x)``
with independent standard normal ``xi_k``. Here ``phi_k`` and ``lambda_k`` are the
eigenfunctions and eigenvalues of the covariance operator ``C = sigma^2 (-Laplacian +
tau^2 I)^(-alpha)`` on the unit square (or interval or cube). The sum runs over as many
wavenumbers per axis as the grid has points.

References
----------
Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart and
A. Anandkumar (2021). Fourier neural operator for parametric partial differential
equations. ICLR 2021.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BASES = ("cosine", "fourier")


def covariance_eigenvalues(
    wavenumbers: Sequence[np.ndarray], *, alpha: float, tau: float, scale: float
) -> np.ndarray:
    """Return ``sigma^2 (scale^2 |k|^2 + tau^2)^(-alpha)`` on the grid of wavenumbers.

    ``scale`` is ``pi`` for the cosine basis (Neumann Laplacian eigenvalues ``pi^2 |k|^2``)
    and ``2 pi`` for the periodic Fourier basis. ``sigma = tau^(alpha - d/2)``, which in 2D
    is the ``tau^(alpha - 1)`` of the Fourier-neural-operator data. The constant mode
    ``k = 0`` gets eigenvalue 0, so every field has zero mean over the box, as in that data.
    """
    d = len(wavenumbers)
    sigma = tau ** (alpha - d / 2)
    k2 = sum(
        (np.asarray(k, dtype=float) ** 2).reshape([-1 if a == axis else 1 for a in range(d)])
        for axis, k in enumerate(wavenumbers)
    )
    eigenvalues = sigma**2 * (scale**2 * np.asarray(k2) + tau**2) ** (-alpha)
    eigenvalues.flat[0] = 0.0
    return eigenvalues


def gaussian_random_field(
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    basis: str = "cosine",
) -> np.ndarray:
    """Draw a zero-mean Gaussian random field with covariance ``(-Laplacian + tau^2 I)^(-alpha)``.

    Parameters
    ----------
    shape : sequence of int
        Grid points per axis, C order (``(ny, nx)`` or ``(nz, ny, nx)``), 1 to 3 axes of at
        least 2 points. The points are ``j / (n - 1)``, boundary included.
    rng : numpy.random.Generator
        Source of randomness; the field is a deterministic function of its state.
    alpha, tau : float
        Smoothness exponent and inverse length scale of the covariance operator. The
        defaults (2, 3) are those of the Darcy data of Li et al. (2021).
    basis : {"cosine", "fourier"}
        ``"cosine"``: eigenfunctions ``prod cos(pi k_i x_i)`` of the Laplacian with zero
        Neumann conditions, the basis of the Fourier-neural-operator Darcy data.
        ``"fourier"``: eigenfunctions ``exp(2 pi i k.x)`` of the periodic Laplacian; the
        field then repeats with period ``n / (n - 1)`` grid lengths.

    Returns
    -------
    ndarray of float64, shape ``shape``

    Raises
    ------
    ValueError
        If ``shape`` has not 1 to 3 entries of at least 2, ``alpha`` or ``tau`` is not
        positive, or ``basis`` is unknown.

    Notes
    -----
    The cosine field is evaluated exactly at the grid points by a dense transform per axis
    (``O(n^(d+1))`` work). The Fourier field draws ``xi_k`` as the normalised FFT of real
    white noise, which makes them Hermitian-symmetric, so the field is real.
    """
    shape = tuple(int(n) for n in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 2:
        raise ValueError(f"shape must have 1 to 3 axes of at least 2 points, got {shape}")
    if alpha <= 0 or tau <= 0:
        raise ValueError(f"alpha and tau must be positive, got alpha={alpha}, tau={tau}")
    if basis == "cosine":
        return _cosine_field(shape, rng, alpha, tau)
    if basis == "fourier":
        return _fourier_field(shape, rng, alpha, tau)
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def _cosine_field(
    shape: tuple[int, ...], rng: np.random.Generator, alpha: float, tau: float
) -> np.ndarray:
    wavenumbers = [np.arange(n) for n in shape]
    eigenvalues = covariance_eigenvalues(wavenumbers, alpha=alpha, tau=tau, scale=np.pi)
    field = np.sqrt(eigenvalues) * rng.standard_normal(shape)
    for axis, n in enumerate(shape):
        x = np.linspace(0.0, 1.0, n)
        k = np.arange(n)
        # Orthonormal cosines on [0, 1]: 1 for k = 0, sqrt(2) cos(pi k x) otherwise.
        basis = np.cos(np.pi * np.outer(x, k)) * np.where(k == 0, 1.0, np.sqrt(2.0))
        field = np.moveaxis(np.tensordot(basis, field, axes=([1], [axis])), 0, axis)
    return field


def _fourier_field(
    shape: tuple[int, ...], rng: np.random.Generator, alpha: float, tau: float
) -> np.ndarray:
    wavenumbers = [np.fft.fftfreq(n, d=1.0 / n) for n in shape]
    eigenvalues = covariance_eigenvalues(wavenumbers, alpha=alpha, tau=tau, scale=2 * np.pi)
    size = int(np.prod(shape))
    xi = np.fft.fftn(rng.standard_normal(shape)) / np.sqrt(size)
    return np.real(np.fft.ifftn(np.sqrt(eigenvalues) * xi)) * size


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
