"""Wave-equation solvers: finite-element time stepping and the CNN surrogates.

:func:`solve_wave_fem` is called by the registered ``fem`` method for wave problems. The
methods ``wave-cnn`` and ``wave-cnn-compressed`` take the first ``history`` fields from the
finite-element scheme and roll a trained :class:`~neurosolve.sciml.wave_cnn.WaveCNN` out
from there. Neither torch nor dolfinx is imported until a method runs.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, ClassVar, cast

import numpy as np

from .problems import Problem, WaveProblem
from .registry import Method, MethodOutput, register
from .result import NeurosolveWarning

logger = logging.getLogger(__name__)


def _operators(problem: WaveProblem) -> Any:
    from ..data.generators.wave import assemble_wave_operators

    ly, lx = problem.geometry.lengths
    return assemble_wave_operators(problem.speed, boundary=problem.boundary, lengths=(ly, lx))


def solve_wave_fem(problem: WaveProblem, *, scheme: str = "explicit") -> MethodOutput:
    """Time-step a wave problem with P1 finite elements (dolfinx assembly).

    Parameters
    ----------
    problem : WaveProblem
    scheme : {"explicit", "newmark"}
        Central differences with lumped mass, stable for ``dt`` up to the limit
        ``2 / sqrt(lambda_max(M_L^-1 K))``, or the unconditionally stable
        average-acceleration Newmark scheme with consistent mass.

    Returns
    -------
    MethodOutput
        ``x`` has shape ``(steps + 1, ny, nx)``, the initial field first; ``info`` holds
        the scheme, the stability limit of the explicit scheme and the seconds per step.

    Raises
    ------
    ValueError
        With ``scheme="explicit"``, if ``problem.dt`` exceeds the stability limit; the
        message gives the limit.
    """
    from ..data.generators.wave import simulate_wave, stability_limit

    operators = _operators(problem)
    limit = stability_limit(operators)
    start = time.perf_counter()
    fields = simulate_wave(
        problem.initial, problem.speed, problem.dt, problem.steps, scheme=scheme,
        boundary=problem.boundary, operators=operators,
    )
    given = 1 if problem.initial.ndim == 2 else problem.initial.shape[0]
    stepped = max(problem.steps - given + 1, 1)
    seconds_per_step = (time.perf_counter() - start) / stepped
    return MethodOutput(
        x=fields, status=0, iterations=problem.steps - given + 1,
        message=f"{scheme} finite-element time stepping",
        info={"scheme": scheme, "explicit_stability_limit": limit,
              "seconds_per_step": seconds_per_step},
    )


class _WaveSurrogate(Method):
    """Shared set-up and rollout of the CNN surrogates; subclasses name their weights."""

    problem_kinds: ClassVar[frozenset[str]] = frozenset({"wave"})
    requires_grid: ClassVar[bool] = True
    learned: ClassVar[bool] = True
    needs_checkpoint: ClassVar[bool] = True
    iterative: ClassVar[bool] = False
    default_weights: ClassVar[str] = ""

    def __init__(self, *, checkpoint: str | None = None, device: str = "cpu") -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.model: Any = None
        self.payload: dict[str, Any] = {}
        self.path = ""

    def check(self, problem: Problem) -> None:
        spacing = cast(WaveProblem, problem).geometry.spacing
        if not np.isclose(spacing[0], spacing[1], rtol=1e-9):
            raise ValueError(
                f"method {self.name!r} needs square cells, but the grid spacing is {spacing}; "
                f"use method='fem'"
            )

    def setup(self, problem: Problem) -> None:
        from ..sciml.checkpoints import load_model, resolve_checkpoint
        from ..sciml.wave_cnn import WaveCNN

        path = resolve_checkpoint(self.checkpoint, self.default_weights)
        model, payload = load_model(path, map_location=self.device)
        if not isinstance(model, WaveCNN):
            raise ValueError(
                f"checkpoint {str(path)!r} contains a {payload['model']!r} model, not wave-cnn"
            )
        self.model, self.payload, self.path = model, payload, str(path)
        trained = payload["provenance"].get("boundary")
        boundary = cast(WaveProblem, problem).boundary
        if trained is not None and trained != boundary:
            raise ValueError(
                f"checkpoint {self.path!r} was trained with {trained} boundaries, but the "
                f"problem has {boundary} ones; pass checkpoint= with weights trained on "
                f"such data or use method='fem'"
            )

    def solve(self, problem: Problem, **_: Any) -> MethodOutput:
        from ..data.generators.wave import simulate_wave
        from ..sciml.wave_cnn import courant_field, rollout

        problem = cast(WaveProblem, problem)
        history = self.model.history
        courant = courant_field(problem.speed, problem.dt, problem.geometry.spacing[0])
        self._warn_outside_training(courant)

        given = 1 if problem.initial.ndim == 2 else problem.initial.shape[0]
        fem_steps = min(max(history - 1, given - 1), problem.steps)
        start = time.perf_counter()
        head = simulate_wave(
            problem.initial, problem.speed, problem.dt, fem_steps,
            boundary=problem.boundary, operators=_operators(problem),
        )
        fem_seconds = time.perf_counter() - start
        remaining = problem.steps - fem_steps

        start = time.perf_counter()
        tail = rollout(self.model, head[-history:], courant, remaining)
        surrogate_seconds = time.perf_counter() - start
        fields = np.concatenate([head, tail])
        return MethodOutput(
            x=fields, status=0, iterations=remaining, checkpoint=self.path,
            message=f"{max(fem_steps - given + 1, 0)} finite-element steps, then "
                    f"{remaining} surrogate steps",
            info={
                "fem_steps": max(fem_steps - given + 1, 0),
                "surrogate_steps": remaining,
                "fem_seconds": fem_seconds,
                "seconds_per_step": surrogate_seconds / max(remaining, 1),
                "parameters": self.model.parameter_count(),
                "model_bytes": self.model.memory_bytes(),
            },
        )

    def _warn_outside_training(self, courant: np.ndarray) -> None:
        seen = self.payload["provenance"].get("courant_range")
        if seen is None:
            return
        low, high = float(seen[0]), float(seen[1])
        if courant.min() < 0.9 * low or courant.max() > 1.1 * high:
            warnings.warn(
                f"the problem's Courant numbers c dt / h span [{courant.min():.3g}, "
                f"{courant.max():.3g}], outside the range [{low:.3g}, {high:.3g}] seen in "
                f"training; the surrogate may be inaccurate, so compare with method='fem'",
                NeurosolveWarning, stacklevel=4,
            )


@register
class WaveCNNMethod(_WaveSurrogate):
    """Full CNN surrogate of wave time stepping."""

    name: ClassVar[str] = "wave-cnn"
    description: ClassVar[str] = "CNN rollout of the 2D wave equation (dense kernels)"
    default_weights: ClassVar[str] = "wave-cnn.pt"


@register
class WaveCNNCompressedMethod(_WaveSurrogate):
    """A priori compressed CNN surrogate (Boukraichi et al., 2023)."""

    name: ClassVar[str] = "wave-cnn-compressed"
    description: ClassVar[str] = "CNN rollout of the 2D wave equation (a priori compressed kernels)"
    default_weights: ClassVar[str] = "wave-cnn-compressed.pt"
