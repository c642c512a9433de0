"""Methods for operator problems: the ``fem`` reference and the learned neural operators.

``fem`` solves the assembled finite-element system of an operator problem with PETSc (and
time-steps wave problems through :mod:`neurosolve.solvers.wave`). ``fno``, ``tfno``,
``mg-tfno`` and ``mgno`` predict the solution field with a trained model, report the
residual of the prediction in the assembled system, and with ``refine=`` finish it to
``rtol`` with a linear method started from the prediction.

torch and dolfinx are imported inside the methods, so listing methods stays cheap.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .problems import OperatorProblem
from .registry import Method, MethodOutput, register
from .result import ConvergenceWarning


@register
class FEM(Method):
    """Finite-element reference: PETSc CG with GAMG on the system dolfinx assembled.

    Options
    -------
    petsc_options : dict, optional
        PETSc options for operator problems, as for the ``petsc`` method (default CG with
        GAMG).
    **wave_options
        Passed to ``neurosolve.solvers.wave.solve_wave_fem`` for wave problems; rejected
        for operator problems.

    Notes
    -----
    For an operator problem the result's ``x`` is the solution on the grid, with the
    Dirichlet values at boundary points, and ``residuals`` are those of the linear solve.
    """

    name = "fem"
    description = "finite-element reference: dolfinx assembly, PETSc CG + GAMG; wave time stepping"
    problem_kinds = frozenset({"operator", "wave"})

    def __init__(self, *, petsc_options: dict[str, Any] | None = None, **wave_options: Any):
        self.petsc_options = petsc_options
        self.wave_options = wave_options
        self._ksp: Any = None

    def check(self, problem) -> None:
        if problem.kind == "operator":
            if problem.linear_problem is None:
                raise ValueError(
                    f"fem needs the assembled system of operator problem {problem.name!r}; "
                    f"build it with a constructor such as problems.darcy(coefficient=a)"
                )
            if self.wave_options:
                names = ", ".join(sorted(self.wave_options))
                raise TypeError(
                    f"options {names} apply to wave problems only; operator problems take "
                    f"petsc_options"
                )

    def setup(self, problem) -> None:
        if problem.kind == "operator":
            from .petsc import PETScKSP

            self._ksp = PETScKSP(petsc_options=self.petsc_options)
            self._ksp.setup(problem.linear_problem)

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        if problem.kind == "wave":
            return _solve_wave(problem, self.wave_options)
        system = problem.linear_problem
        start = None if x0 is None else system.geometry.from_grid(np.asarray(x0, dtype=float))
        output = self._ksp.solve(
            system, x0=start, rtol=rtol, atol=atol, maxiter=maxiter, M=None, callback=callback
        )
        output.x = system.to_grid(output.x)
        return output


# Grid points per forward pass on the CPU. On a 2-core AMD EPYC (32 MB L3 cache), one torch
# thread, the FNO at 128^2 took 31-47 ms per sample in batches of 1 to 4, 108 ms in batches
# of 8 and 199 ms in batches of 32. The likely cause, not verified, is that the 32- to
# 64-channel activations of larger batches no longer fit in the caches.
CPU_POINTS_PER_CALL = 4 * 128 * 128


def predict_fields(
    model: Any, payload: dict[str, Any], inputs: list[dict[str, np.ndarray]], device: str = "cpu"
) -> np.ndarray:
    """Predict solution fields for a batch of problems' input fields.

    Parameters
    ----------
    model : torch.nn.Module
        A model rebuilt by :func:`neurosolve.sciml.load_model`.
    payload : dict
        Its checkpoint: ``provenance["x_variables"]`` names the input fields in channel
        order, ``provenance["source"]`` the constant source of the training data when the
        source is not an input, and ``normalizers`` contains ``"x"`` and ``"y"``.
    inputs : list of dict
        Input fields of each problem, all on the same grid, shape ``(ny, nx)``.

    Returns
    -------
    ndarray, shape (batch, ny, nx)

    Raises
    ------
    ValueError
        If an input field the model reads is missing, or the source is not constant for
        a model trained with one constant source.

    Notes
    -----
    On the CPU the batch goes through the model in chunks of at most
    :data:`CPU_POINTS_PER_CALL` grid points (at least one sample each), which is faster per
    sample than one large call. On any other device the whole batch goes in one call.
    """
    import torch

    from ..sciml.normalizers import UnitGaussianNormalizer

    provenance = payload.get("provenance", {})
    names = list(provenance.get("x_variables", ["coefficient"]))
    scales = np.ones(len(inputs))
    channels = []
    for i, fields in enumerate(inputs):
        missing = [name for name in names if name not in fields]
        if missing:
            raise ValueError(
                f"the model reads input fields {names}, but {missing} are missing; the "
                f"problem has {sorted(fields)}"
            )
        channels.append(np.stack([fields[name] for name in names]))
        if "source" not in names and "source" in fields:
            scales[i] = _source_scale(fields["source"], float(provenance.get("source", 1.0)))
    normalizers = payload["normalizers"]
    x_norm = UnitGaussianNormalizer.from_state(normalizers["x"]).to(device)
    y_norm = UnitGaussianNormalizer.from_state(normalizers["y"]).to(device)
    x = torch.as_tensor(np.stack(channels), dtype=torch.float32, device=device)
    points = int(np.prod(x.shape[2:]))
    chunk = len(x) if x.device.type != "cpu" else max(1, CPU_POINTS_PER_CALL // points)
    with torch.no_grad():
        y = torch.cat([
            y_norm.decode(model(x_norm.encode(x[start:start + chunk])))
            for start in range(0, len(x), chunk)
        ])
    return y[:, 0].double().cpu().numpy() * scales[:, None, None]


def _source_scale(source: np.ndarray, trained: float) -> float:
    value = float(source.flat[0])
    if not np.allclose(source, value, rtol=1e-12, atol=0.0):
        raise ValueError(
            f"this model was trained with the constant source f = {trained:g} and cannot "
            f"predict for a varying source; use method='fem' or a model trained on sources"
        )
    return value / trained


def _solve_wave(problem, options: dict[str, Any]) -> MethodOutput:
    try:
        from .wave import solve_wave_fem
    except ImportError as err:
        raise NotImplementedError(
            "fem for wave problems needs neurosolve.solvers.wave.solve_wave_fem, which this "
            "installation does not provide"
        ) from err
    return solve_wave_fem(problem, **options)


class LearnedOperator(Method):
    """A trained neural operator used as a solver, optionally refined to ``rtol``.

    Options
    -------
    checkpoint : str or path, optional
        A checkpoint written by ``neurosolve train``; default the shipped Darcy weights.
    refine : str, optional
        A linear method (for example ``"pcg-amg"``, ``"cg"``, ``"petsc"``) that starts from
        the prediction as ``x0`` and iterates on the assembled system to ``rtol``.
    refine_options : dict, optional
        Options of the ``refine`` method.
    compare_zero_start : bool
        With ``refine``, also solve from ``x0 = 0`` and record the iterations saved.
    device : str
        torch device of the model, ``"cpu"`` or ``"cuda"``.

    Notes
    -----
    Without ``refine`` the result is the prediction. Its ``residuals`` are the relative
    residuals of ``x = 0`` and of the prediction in the assembled system, and it counts as
    converged only if the prediction meets ``rtol``, which a neural operator rarely does: a
    ``ConvergenceWarning`` then reports the residual reached. With ``refine`` the result is
    that of the refining method, and ``info`` contains ``prediction_residual``,
    ``refine_iterations``, ``zero_start_iterations`` and ``iterations_saved``.

    A model that does not read the source field was trained with one constant source; a
    different constant rescales its prediction (the solution is linear in ``f``), and a
    non-constant source raises ``ValueError``.
    """

    problem_kinds = frozenset({"operator"})
    learned = True
    needs_checkpoint = True
    iterative = False

    def __init__(
        self,
        *,
        checkpoint: str | None = None,
        refine: str | None = None,
        refine_options: dict[str, Any] | None = None,
        compare_zero_start: bool = True,
        device: str = "cpu",
    ) -> None:
        self.checkpoint = checkpoint
        self.refine = refine
        self.refine_options = dict(refine_options or {})
        self.compare_zero_start = compare_zero_start
        self.device = device
        self.model: Any = None
        self.payload: dict[str, Any] = {}

    def check(self, problem) -> None:
        if not isinstance(problem, OperatorProblem):
            raise ValueError(f"{self.name} solves operator problems, got {type(problem).__name__}")
        if self.refine is not None:
            from .registry import get_method

            refine_cls = get_method(self.refine)
            if "linear" not in refine_cls.problem_kinds:
                raise ValueError(
                    f"refine must name a linear method such as 'pcg-amg', got {self.refine!r}"
                )
            if problem.linear_problem is None:
                raise ValueError(
                    f"refine={self.refine!r} needs the assembled system of {problem.name!r}; "
                    f"build the problem with problems.darcy(coefficient=a)"
                )

    def setup(self, problem) -> None:
        from ..sciml import fno, mg_tfno, mgno  # noqa: F401  (registers the model classes)
        from ..sciml.checkpoints import load_model, resolve_checkpoint

        path = resolve_checkpoint(self.checkpoint, f"{self.name}-darcy.pt")
        self.model, self.payload = load_model(path, map_location=self.device)
        self.path = str(path)
        if self.payload["model"] != self.name:
            raise ValueError(
                f"checkpoint {self.path} contains a {self.payload['model']!r} model; use "
                f"method={self.payload['model']!r} with it, or a {self.name!r} checkpoint"
            )
        trained_pde = self.payload.get("provenance", {}).get("pde", "darcy")
        if problem.pde != trained_pde:
            raise ValueError(
                f"checkpoint {self.path} was trained on {trained_pde!r} problems, but "
                f"{problem.name!r} is a {problem.pde!r} problem"
            )

    def predict(self, problem: OperatorProblem) -> np.ndarray:
        """Return the model's solution field on the problem's grid.

        Without ``refine``, warns when a model whose kernels are tied to the grid spacing
        (``mgno``, which has a ``working_grid`` method) works on another grid than it did in
        training.
        """
        u = predict_fields(self.model, self.payload, [problem.inputs], self.device)[0]
        trained = self.payload.get("provenance", {}).get("grid")
        working_grid = getattr(self.model, "working_grid", None)
        if (
            self.refine is None and trained and working_grid is not None
            and working_grid(u.shape) != working_grid(trained)
        ):
            warnings.warn(
                f"{self.name} was trained on a {tuple(trained)} grid and its kernels are "
                f"tied to that spacing, so its prediction on a {u.shape} grid can be far "
                f"off; pass refine='pcg-amg' for a solution to rtol",
                UserWarning, stacklevel=4,
            )
        return u

    def solve(self, problem, *, x0, rtol, atol, maxiter, M, callback) -> MethodOutput:
        if x0 is not None:
            raise ValueError(
                f"method {self.name!r} starts from its own prediction and takes no x0; "
                f"to start a linear method from x0, solve problem.linear_problem with it"
            )
        u = self.predict(problem)
        system = problem.linear_problem
        if system is None:
            return MethodOutput(
                u, 0, 0, [], "prediction; the problem has no assembled system to check",
                checkpoint=self.path,
            )
        guess = system.geometry.from_grid(u)
        b_norm = float(np.linalg.norm(system.b))
        predicted = system.residual_norm(guess) / b_norm
        info: dict[str, Any] = {"prediction_residual": predicted}
        if self.refine is None:
            met = predicted <= max(rtol, atol / b_norm)
            message = (
                f"prediction, relative residual {predicted:.3g}"
                + ("" if met else "; pass refine='pcg-amg' to finish it to rtol")
            )
            return MethodOutput(
                u, 0 if met else 1, 0, [1.0, predicted], message, info, checkpoint=self.path
            )

        refined = self._refine(system, guess, rtol, atol, maxiter, callback)
        info["refine_iterations"] = refined.iterations
        if self.compare_zero_start:
            zero = self._refine(system, None, rtol, atol, maxiter, None)
            info["zero_start_iterations"] = zero.iterations
            info["iterations_saved"] = zero.iterations - refined.iterations
        return MethodOutput(
            system.to_grid(refined.x), refined.status, refined.iterations,
            list(refined.residuals), f"{self.refine} from the prediction: {refined.message}",
            info, checkpoint=self.path,
        )

    def _refine(self, system, x0, rtol, atol, maxiter, callback):
        from .api import solve

        with warnings.catch_warnings():
            # The outer solve reports non-convergence once, for the final result.
            warnings.simplefilter("ignore", ConvergenceWarning)
            return solve(
                system, self.refine, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter,
                callback=callback, **self.refine_options,
            )


@register
class FNOMethod(LearnedOperator):
    name = "fno"
    description = "Fourier neural operator (dense spectral weights); refine= finishes to rtol"


@register
class TFNOMethod(LearnedOperator):
    name = "tfno"
    description = "Tucker-factorised FNO; refine= finishes to rtol"


@register
class MGTFNOMethod(LearnedOperator):
    name = "mg-tfno"
    description = "multi-grid tensorised FNO (patches with coarse context); refine= finishes"


@register
class MgNOMethod(LearnedOperator):
    name = "mgno"
    description = "multigrid neural operator (learned V-cycles); refine= finishes to rtol"
