"""neurosolve: learned and classical solvers for PDEs and sparse linear systems.

>>> import numpy as np, scipy.sparse as sp
>>> from neurosolve import LinearProblem, solve
>>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50))
>>> result = solve(LinearProblem(A, np.ones(50)), method="cg", rtol=1e-10)
>>> result.converged
True
"""

from typing import Any

from . import problems
from ._version import __version__
from .solvers import (
    ConvergenceError,
    ConvergenceWarning,
    ForecastProblem,
    GridGeometry,
    LinearProblem,
    NeurosolveWarning,
    OperatorProblem,
    SolveResult,
    WaveProblem,
    list_methods,
    solve,
)


def write_fields(path: Any, result_or_fields: Any, **kwargs: Any) -> Any:
    """Write a solve result or named fields to HDF5; see :func:`neurosolve.data.io.write_fields`."""
    from .data.io import write_fields as _write_fields

    return _write_fields(path, result_or_fields, **kwargs)


__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "ForecastProblem",
    "GridGeometry",
    "LinearProblem",
    "NeurosolveWarning",
    "OperatorProblem",
    "SolveResult",
    "WaveProblem",
    "__version__",
    "list_methods",
    "problems",
    "solve",
    "write_fields",
]
