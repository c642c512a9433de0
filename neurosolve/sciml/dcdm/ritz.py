"""Training right-hand sides from Rayleigh-Ritz vectors of ``A``, as DCDM prescribes.

Lanczos with full reorthogonalisation builds an orthonormal Krylov basis ``Q``; the
eigenvectors of the tridiagonal ``T = Q^T A Q`` mapped back by ``Q`` are the Ritz vectors.
Random combinations of them, with the low end of the spectrum weighted more, are the
right-hand sides the network learns to invert.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigh_tridiagonal

logger = logging.getLogger(__name__)


def lanczos_ritz_vectors(
    A: sp.spmatrix, steps: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return Ritz values and vectors of a symmetric matrix from ``steps`` Lanczos steps.

    Parameters
    ----------
    A : sparse matrix, shape (n, n)
        Symmetric matrix.
    steps : int
        Lanczos steps, at most ``n``; the run stops early on an invariant subspace.
    rng : numpy.random.Generator
        Source of the starting vector ``A z`` for a standard normal ``z``.

    Returns
    -------
    values : ndarray, shape (m,)
        Ritz values in ascending order, ``m <= steps``.
    vectors : ndarray, shape (n, m)
        Orthonormal Ritz vectors, one per column, in the same order.

    Notes
    -----
    Every new Lanczos vector is orthogonalised twice against all previous ones (classical
    Gram-Schmidt, repeated), which costs ``O(n steps^2)`` but keeps the basis orthogonal
    to machine precision, so no spurious copies of converged Ritz values appear.
    """
    n = A.shape[0]
    steps = int(min(steps, n))
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    Q = np.zeros((n, steps))
    alpha = np.zeros(steps)
    beta = np.zeros(steps)
    q = A @ rng.standard_normal(n)
    q /= np.linalg.norm(q)
    used = steps
    for j in range(steps):
        Q[:, j] = q
        w = A @ q
        alpha[j] = q @ w
        basis = Q[:, : j + 1]
        for _ in range(2):
            w -= basis @ (basis.T @ w)
        norm = float(np.linalg.norm(w))
        if j + 1 == steps:
            break
        if norm <= 1e-12 * max(abs(alpha[j]), 1.0):
            used = j + 1
            logger.info("Lanczos found an invariant subspace after %d steps", used)
            break
        beta[j] = norm
        q = w / norm
    values, vectors = eigh_tridiagonal(alpha[:used], beta[: used - 1])
    return values, Q[:, :used] @ vectors


def ritz_right_hand_sides(
    vectors: np.ndarray,
    count: int,
    rng: np.random.Generator,
    *,
    low_weight: float = 9.0,
    low_extra: int = 50,
) -> np.ndarray:
    """Draw unit-norm combinations of Ritz vectors, weighting the low spectrum more.

    Parameters
    ----------
    vectors : ndarray, shape (n, m)
        Ritz vectors ordered by ascending Ritz value.
    count : int
        Number of right-hand sides.
    rng : numpy.random.Generator
    low_weight : float
        Factor on the standard normal coefficients of the first ``m / 2 + low_extra``
        vectors (9 in the DCDM paper).
    low_extra : int
        How far past the middle of the spectrum the low part reaches.

    Returns
    -------
    ndarray, shape (count, n)
        Right-hand sides of unit Euclidean norm.
    """
    m = vectors.shape[1]
    coefficients = rng.standard_normal((count, m))
    low = min(m, m // 2 + int(low_extra))
    coefficients[:, :low] *= low_weight
    rhs = coefficients @ vectors.T
    rhs /= np.linalg.norm(rhs, axis=1, keepdims=True)
    return rhs
