"""Linear problems from matrix files and from the example matrices that pyamg bundles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..solvers.problems import LinearProblem


def from_matrix_market(
    path: str | os.PathLike[str], b: Any = None, *, seed: int = 0, name: str | None = None
) -> LinearProblem:
    """Read a sparse matrix from a Matrix Market file as a linear problem.

    Parameters
    ----------
    path : str or PathLike
        A ``.mtx`` file (optionally ``.mtx.gz``) holding a real square matrix.
    b : ndarray or str or PathLike, optional
        Right-hand side, or a Matrix Market file holding it. By default ``b = A x_exact``
        for ``x_exact`` drawn from a standard normal distribution with ``seed``, so the
        problem has a known solution (``x_exact``).
    seed : int
        Seed of ``x_exact`` when ``b`` is not given.
    name : str, optional
        Label; defaults to the file name.

    Returns
    -------
    LinearProblem

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError, TypeError
        If the matrix is not square and real, or ``b`` does not match it.
    """
    from scipy.io import mmread

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Matrix Market file {path} not found")
    A = mmread(path)
    if isinstance(b, str | os.PathLike):
        b = np.asarray(mmread(Path(b))).reshape(-1)
    label = name or path.name.removesuffix(".gz").removesuffix(".mtx")
    provenance = {"constructor": "from_matrix_market", "path": str(path), "seed": seed}
    return _with_rhs(A, b, seed, label, provenance)


def from_pyamg_example(name: str, b: Any = None, *, seed: int = 0) -> LinearProblem:
    """Load one of the real matrices bundled with pyamg as a linear problem.

    Parameters
    ----------
    name : str
        A name accepted by ``pyamg.gallery.load_example``: ``"airfoil"``, ``"bar"``,
        ``"knot"``, ``"local_disc_galerkin_diffusion"``, ``"recirc_flow"`` (not
        symmetric), ``"unit_cube"`` or ``"unit_square"`` (a pure Neumann Laplacian, so
        singular: only ``b`` in its range has a solution).
    b : ndarray, optional
        Right-hand side; by default ``b = A x_exact`` for a seeded standard normal
        ``x_exact``.
    seed : int
        Seed of ``x_exact`` when ``b`` is not given.

    Returns
    -------
    LinearProblem

    Raises
    ------
    ValueError
        If pyamg has no example of that name (the message lists the names).
    """
    from pyamg.gallery import load_example
    from pyamg.gallery.example import example_names

    if name not in example_names:
        raise ValueError(
            f"pyamg has no example matrix {name!r}; valid names are: "
            f"{', '.join(sorted(example_names))}"
        )
    A = load_example(name)["A"]
    provenance = {"constructor": "from_pyamg_example", "example": name, "seed": seed}
    return _with_rhs(A, b, seed, f"pyamg-{name}", provenance)


def _with_rhs(A: Any, b: Any, seed: int, name: str, provenance: dict) -> LinearProblem:
    A = sp.csr_matrix(A)
    x_exact = None
    if b is None:
        x_exact = np.random.default_rng(seed).standard_normal(A.shape[1])
        b = A @ x_exact
        provenance = {**provenance, "rhs": "A @ x_exact, x_exact standard normal"}
    else:
        provenance = {**provenance, "rhs": "given"}
    return LinearProblem(A, b, x_exact=x_exact, name=name, provenance=provenance)
