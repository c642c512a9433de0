"""The method registry: every solver registers a :class:`Method` subclass by name."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from .problems import Problem

# Modules whose import registers methods. Loaded on first look-up so that importing the
# package stays cheap and heavy dependencies (torch, dolfinx) load only when used.
METHOD_MODULES: tuple[str, ...] = (
    "neurosolve.solvers.krylov",
    "neurosolve.solvers.gmg",
    "neurosolve.solvers.dcdm",
    "neurosolve.solvers.amg",
    "neurosolve.solvers.direct",
    "neurosolve.solvers.petsc",
    "neurosolve.solvers.operators",
    "neurosolve.solvers.forecast",
    "neurosolve.solvers.wave",
)

_REGISTRY: dict[str, type[Method]] = {}
_loaded = False


@dataclass
class MethodOutput:
    """Solution and convergence record that a method's :meth:`Method.solve` returns."""

    x: np.ndarray
    status: int
    iterations: int
    residuals: list[float] = field(default_factory=list)
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None


class Method:
    """Base class of solvers registered with :func:`register`.

    Subclasses set the class attributes below and implement :meth:`solve`, and
    :meth:`setup` when there is work that can be reused across right-hand sides. Options
    are the keyword-only parameters of ``__init__``; an unknown option raises
    ``TypeError`` listing the valid ones.

    The front door times ``setup`` and ``solve`` separately, checks the stopping rule on
    the true residual for linear problems, and turns non-convergence into a warning.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    problem_kinds: ClassVar[frozenset[str]] = frozenset({"linear"})
    requires_spd: ClassVar[bool] = False
    requires_grid: ClassVar[bool] = False
    learned: ClassVar[bool] = False
    needs_checkpoint: ClassVar[bool] = False
    accepts_preconditioner: ClassVar[bool] = False
    iterative: ClassVar[bool] = True
    supports_distributed: ClassVar[bool] = False

    def __init__(self) -> None:
        pass

    def check(self, problem: Problem) -> None:
        """Raise ``ValueError`` when the method cannot handle ``problem``; a no-op by default."""

    def setup(self, problem: Problem) -> None:
        """Do the right-hand-side independent work (hierarchy, factorisation, model load)."""

    def solve(
        self,
        problem: Problem,
        *,
        x0: np.ndarray | None,
        rtol: float,
        atol: float,
        maxiter: int | None,
        M: Any,
        callback: Any,
    ) -> MethodOutput:
        raise NotImplementedError

    @classmethod
    def option_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def register(cls: type[Method]) -> type[Method]:
    """Class decorator that adds a method to the registry under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name to register under")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"method name {cls.name!r} is already registered by {existing}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for module in METHOD_MODULES:
        importlib.import_module(module)
    _loaded = True


def get_method(name: str) -> type[Method]:
    """Look up a registered method class by name.

    Raises
    ------
    ValueError
        If no method has that name; the message lists the valid names.
    """
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown method {name!r}; valid methods are: {valid}") from None


def list_methods(kind: str | None = None) -> dict[str, str]:
    """Return the registered method names with a one-line description each.

    Parameters
    ----------
    kind : {"linear", "operator", "wave", "forecast"}, optional
        Only list the methods that accept this problem kind.
    """
    _load_all()
    return {
        name: cls.description
        for name, cls in sorted(_REGISTRY.items())
        if kind is None or kind in cls.problem_kinds
    }


def registered_methods() -> dict[str, type[Method]]:
    """Return a copy of the registry, name to class."""
    _load_all()
    return dict(_REGISTRY)
