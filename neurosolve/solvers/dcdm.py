"""The deep conjugate direction method: ``dcdm`` and ``dcdm-mg``.

Both run :func:`conjugate_directions`, a conjugate-direction iteration whose search
direction comes from a trained network instead of a preconditioned residual. ``dcdm``
feeds the network the residual and the mask of unknowns, as the DCDM paper does.
``dcdm-mg`` also feeds it one geometric multigrid V-cycle applied to the residual, and the
network returns a correction of that V-cycle direction, so every direction covers the whole
domain however large the grid is.

This module imports torch only inside :meth:`Method.setup`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from .gmg import GeometricMultigrid, check_grid_problem
from .krylov import initial_residual
from .registry import Method, MethodOutput, register

logger = logging.getLogger(__name__)

Vector = np.ndarray

# A direction is rejected when |r . d| <= this times ||r|| ||d||: it would not lower the
# A-norm of the error by a measurable amount.
MIN_COSINE = 1e-10
# A block of network steps stalls when its best residual norm is not below STALL_FACTOR
# times the best norm of the blocks before it.
STALL_FACTOR = 0.99


def _conjugate(
    d: Vector,
    r: Vector,
    history: deque[tuple[Vector, Vector, float]],
    matvec: Callable[[Vector], Vector],
) -> tuple[Vector, Vector, float, float] | None:
    """A-orthogonalise ``d`` against the stored directions; None when it is unusable."""
    if not np.all(np.isfinite(d)) or not np.any(d):
        return None
    d = d.copy()
    # Two Gram-Schmidt passes in the A inner product keep d A-orthogonal to the stored
    # directions to rounding level even when it starts nearly parallel to one of them.
    for _ in range(2):
        for p, Ap, pAp in history:
            d -= (d @ Ap / pAp) * p
    Ad = matvec(d)
    dAd = float(d @ Ad)
    rd = float(r @ d)
    if not (np.isfinite(dAd) and dAd > 0 and np.isfinite(rd)):
        return None
    if abs(rd) <= MIN_COSINE * np.linalg.norm(r) * np.linalg.norm(d):
        return None
    return d, Ad, dAd, rd


def conjugate_directions(
    matvec: Callable[[Vector], Vector],
    b: Vector,
    direction: Callable[[Vector], Vector],
    fallback: Callable[[Vector], Vector],
    *,
    x0: Vector | None = None,
    rtol: float = 1e-6,
    atol: float = 0.0,
    maxiter: int = 1000,
    memory: int = 2,
    stall_window: int = 10,
    callback: Callable[[Vector], Any] | None = None,
) -> MethodOutput:
    """Solve ``A x = b`` (``A`` SPD) by conjugate directions from a direction function.

    Each iteration takes ``d = direction(r)``, makes it A-orthogonal to the last
    ``memory`` directions, moves ``x`` by the exact line search ``alpha = (r . d) /
    (d . A d)`` and recomputes the true residual ``r = b - A x``. It stops when
    ``||b - A x|| <= max(rtol * ||b||, atol)``.

    Parameters
    ----------
    matvec : callable
        ``matvec(v) = A v``.
    b : ndarray, shape (n,)
    direction : callable
        Search direction from a residual, for example a network.
    fallback : callable
        Direction used when ``direction``'s is unusable or after a stall: the residual
        itself, or a symmetric positive definite preconditioner applied to it.
    x0 : ndarray, shape (n,), optional
        Initial guess, copied.
    rtol, atol : float
        Tolerances of the stopping rule.
    maxiter : int
        Maximum number of iterations.
    memory : int
        Number of previous directions each new one is A-orthogonalised against.
    stall_window : int
        Length of the blocks of iterations that stall detection compares, and the number
        of fallback steps a stall triggers.
    callback : callable, optional
        Called as ``callback(x)`` after each iteration.

    Returns
    -------
    MethodOutput
        ``status`` 0 on convergence, ``maxiter`` at the limit, -2 when the fallback
        direction is unusable too (``A`` or the preconditioner is not positive
        definite), -3 when the iterate stopped being finite. ``info`` holds
        ``fallbacks`` (steps whose network direction was unusable: not finite,
        ``d . A d <= 0``, or no decrease of the A-norm error) and ``restarts``.

    Notes
    -----
    A direction is unusable when it is not finite, when ``d . A d <= 0`` after
    orthogonalisation, or when ``|r . d| <= 1e-10 ||r|| ||d||``, because the step would
    not reduce the A-norm of the error. That step then uses ``fallback(r)``, orthogonalised
    the same way. Exact line searches keep ``r`` orthogonal to the stored directions, so
    the fallback step reduces the A-norm error at least as much as a steepest-descent (or
    preconditioned steepest-descent) step. Iterations are grouped in blocks of
    ``stall_window``. A block of network steps whose lowest residual norm is not below
    0.99 times the lowest of the blocks since the last restart is a stall. It empties the
    stored directions, and the next ``stall_window`` steps follow fallback directions (a
    restart). The first block after the start or a restart is not judged, because the
    residual norm of an energy-minimising method may first rise. Consecutive fallback
    steps A-orthogonalised against the previous one are CG (or preconditioned CG) steps,
    so every stall is followed by ``stall_window`` steps of CG started afresh, and the
    iteration converges for every SPD ``A`` whatever the network returns.

    References
    ----------
    Kaneda, A., Akar, O., Chen, J., et al. (2023). "A Deep Conjugate Direction Method for
    Iteratively Solving Linear Systems." ICML 2023, PMLR 202.
    """
    start = initial_residual(matvec, b, x0, rtol, atol)
    x, r, r_norm, threshold, scale = start.x, start.r, start.r_norm, start.threshold, start.scale
    residuals = [r_norm / scale]
    info = {"fallbacks": 0, "restarts": 0}
    if r_norm <= threshold:
        return MethodOutput(x, 0, 0, residuals, "x0 met tol", info)

    history: deque[tuple[Vector, Vector, float]] = deque(maxlen=memory)
    fallback_steps = 0
    reference: float | None = None
    block_start, block_best, block_restarted = 0, np.inf, False
    for k in range(1, maxiter + 1):
        # 1. Direction: the network's, or the fallback when it is unusable or after a stall.
        block_restarted |= fallback_steps > 0
        step = None if fallback_steps else _conjugate(direction(r), r, history, matvec)
        if step is None:
            if not fallback_steps:
                info["fallbacks"] += 1
            step = _conjugate(fallback(r), r, history, matvec)
            if step is None:
                message = "fallback direction is unusable: A or its preconditioner is not SPD"
                return MethodOutput(x, -2, k - 1, residuals, message, info)
        fallback_steps = max(fallback_steps - 1, 0)
        d, Ad, dAd, rd = step

        # 2. Exact line search, then the true residual.
        x += (rd / dAd) * d
        r = b - matvec(x)
        history.append((d, Ad, dAd))
        r_norm = float(np.linalg.norm(r))
        if not np.isfinite(r_norm):
            return MethodOutput(x, -3, k, residuals, "iterate is no longer finite", info)
        residuals.append(r_norm / scale)
        if callback is not None:
            callback(x)
        if r_norm <= threshold:
            return MethodOutput(x, 0, k, residuals, "converged", info)

        # 3. Stall detection over blocks of stall_window steps. The residual norm of an
        # energy-minimising method may rise for a while, so a block is compared with the
        # blocks before it rather than with the initial residual.
        block_best = min(block_best, r_norm)
        if k - block_start < stall_window:
            continue
        if block_restarted:
            reference = None
        elif reference is not None and block_best > STALL_FACTOR * reference:
            info["restarts"] += 1
            history.clear()
            fallback_steps = stall_window
            reference = None
            logger.debug("stall at iteration %d (residual %.3g): restarting", k, r_norm)
        else:
            reference = block_best if reference is None else min(reference, block_best)
        block_start, block_best, block_restarted = k, np.inf, False

    return MethodOutput(x, maxiter, maxiter, residuals, f"reached maxiter={maxiter}", info)


class _DeepConjugateDirections(Method):
    requires_spd = True
    requires_grid = True
    learned = True
    needs_checkpoint = True
    uses_multigrid: bool = False

    def __init__(
        self,
        *,
        checkpoint: str | None = None,
        memory: int = 2,
        device: str = "cpu",
        stall_window: int = 10,
        network: Any = None,
    ) -> None:
        if int(memory) != memory or memory < 1:
            raise ValueError(f"memory must be a positive integer, got {memory}")
        if int(stall_window) != stall_window or stall_window < 1:
            raise ValueError(f"stall_window must be a positive integer, got {stall_window}")
        self.checkpoint = checkpoint
        self.memory = int(memory)
        self.device = device
        self.stall_window = int(stall_window)
        self.network = network

    def check(self, problem) -> None:
        check_grid_problem(problem, self.name)

    def _load_network(self, dim: int) -> tuple[Any, str | None]:
        from ..sciml.checkpoints import load_model, resolve_checkpoint
        from ..sciml.dcdm import model as _registers_dcdm_model  # noqa: F401

        if self.network is not None:
            return self.network, None
        path = resolve_checkpoint(self.checkpoint, f"{self.name}-{dim}d.pt")
        model, _ = load_model(path, map_location="cpu")
        model_dim = getattr(model, "dim", None)
        if model_dim != dim:
            raise ValueError(
                f"checkpoint {str(path)!r} contains a {model_dim}D network but the problem grid "
                f"is {dim}D; pass a checkpoint trained with --dim {dim}"
            )
        channels = 3 if self.uses_multigrid else 2
        found = getattr(getattr(model, "lift", None), "in_channels", None)
        if found != channels:
            raise ValueError(
                f"checkpoint {str(path)!r} contains a network with {found} input channels, "
                f"but {self.name} needs {channels}; train it with "
                f"'neurosolve train {self.name}'"
            )
        return model, str(path)

    def setup(self, problem) -> None:
        import torch

        from ..sciml.dcdm.direction import NetworkDirection

        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} requested but torch finds no CUDA device; "
                f"use device='cpu'"
            )
        geometry = problem.geometry
        model, self.checkpoint_path = self._load_network(geometry.ndim)
        vcycle = None
        if self.uses_multigrid:
            self.hierarchy = GeometricMultigrid(problem.A, geometry)
            vcycle = self.hierarchy.vcycle
        self.direction = NetworkDirection(model, geometry, device=self.device, vcycle=vcycle)

    def _fallback(self, r: Vector) -> Vector:
        return self.hierarchy.vcycle(r) if self.uses_multigrid else r

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        output = conjugate_directions(
            problem.matvec, problem.b, self.direction, self._fallback, x0=x0, rtol=rtol,
            atol=atol, maxiter=1000 if maxiter is None else int(maxiter), memory=self.memory,
            stall_window=self.stall_window, callback=callback,
        )
        output.info["network_calls"] = self.direction.calls
        output.info["network_seconds"] = self.direction.seconds
        output.checkpoint = self.checkpoint_path
        return output


@register
class DCDM(_DeepConjugateDirections):
    """The deep conjugate direction method (Kaneda et al., 2023) on 2D and 3D grids.

    Options: ``checkpoint`` (default: the shipped ``dcdm-2d.pt`` or ``dcdm-3d.pt``),
    ``memory`` (directions kept for A-orthogonalisation, default 2), ``device``
    (``"cpu"`` or ``"cuda"``), ``stall_window`` (iterations, default 10) and ``network``
    (a torch module to use instead of a checkpoint). ``maxiter`` defaults to 1000. The
    fallback direction is the residual. See :func:`conjugate_directions`.
    """

    name = "dcdm"
    description = "deep conjugate direction method: CNN search directions (Kaneda et al. 2023)"


@register
class DCDMMultigrid(_DeepConjugateDirections):
    """DCDM whose network corrects a geometric multigrid V-cycle direction.

    The network reads the residual, the mask and one V-cycle of the residual; its output
    is the V-cycle direction plus a learned correction. The fallback direction is the
    V-cycle direction. Options and defaults as for ``dcdm``, with the shipped
    ``dcdm-mg-2d.pt`` and ``dcdm-mg-3d.pt``.
    """

    name = "dcdm-mg"
    description = "DCDM with a network that corrects a geometric multigrid V-cycle direction"
    uses_multigrid = True
