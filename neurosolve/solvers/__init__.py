"""The front door, problem types, result type and method registry."""

from .api import solve
from .problems import (
    ForecastProblem,
    GridGeometry,
    LinearProblem,
    OperatorProblem,
    Problem,
    WaveProblem,
)
from .registry import Method, MethodOutput, get_method, list_methods, register
from .result import ConvergenceError, ConvergenceWarning, NeurosolveWarning, SolveResult

__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "ForecastProblem",
    "GridGeometry",
    "LinearProblem",
    "Method",
    "MethodOutput",
    "NeurosolveWarning",
    "OperatorProblem",
    "Problem",
    "SolveResult",
    "WaveProblem",
    "get_method",
    "list_methods",
    "register",
    "solve",
]
