"""Constructors of the problems that :func:`neurosolve.solve` accepts.

Each constructor lives in its own module so that its heavy dependency (dolfinx for the
finite-element problems) loads only when it is called.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# Public constructor name -> module (relative to this package) that defines it.
_CONSTRUCTORS: dict[str, str] = {
    "poisson": ".poisson",
    "from_matrix_market": ".linear",
    "from_pyamg_example": ".linear",
    "darcy": ".darcy",
    "forecast": ".forecast",
    "wave": ".wave",
}

__all__ = sorted(_CONSTRUCTORS)


def __getattr__(name: str) -> Any:
    module = _CONSTRUCTORS.get(name)
    if module is None:
        raise AttributeError(f"module 'neurosolve.problems' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_CONSTRUCTORS))


class _ConstructorPackage(types.ModuleType):
    """This package, with constructors that a same-named submodule cannot hide.

    Importing ``neurosolve.problems.poisson`` would otherwise bind the module to the
    package attribute ``poisson``, so ``problems.poisson(...)`` would call a module.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CONSTRUCTORS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _ConstructorPackage
