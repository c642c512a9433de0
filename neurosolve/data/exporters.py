"""Exporters from the neurosolve layout to the formats of other projects."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from .datasets import open_dataset
from .io import atomic_path


def export_pdebench(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    input_variable: str | None = None,
    target_variable: str | None = None,
) -> Path:
    """Write a neurosolve dataset as a PDEBench-style HDF5 file.

    Parameters
    ----------
    path : str or PathLike
        A dataset in the neurosolve layout; only completed samples are exported.
    out : str or PathLike
        The PDEBench file to write (atomically).
    input_variable, target_variable : str, optional
        Variables to export; by default the first of the file's ``x_variables`` and
        ``y_variables``.

    Returns
    -------
    Path
        ``out``, holding ``tensor (N, T, nx[, ny[, nz]])`` and ``x-coordinate``,
        ``y-coordinate`` (``z-coordinate``), ``t-coordinate``. A steady target (no ``time``
        dimension) is stored with ``T = 1`` and its input as ``nu (N, nx[, ny])``, the
        layout of PDEBench's Darcy files. A time-series target is stored after its input
        (the initial state), so ``tensor[:, 0]`` is the input, as PDEBench stores initial
        conditions.

    Raises
    ------
    ValueError
        If a variable is missing or the input and target grids differ.

    Notes
    -----
    Spatial axes are written in PDEBench's ``x, y, z`` order, the reverse of the
    neurosolve C order; :func:`neurosolve.data.importers.read_pdebench` reverses them back.
    """
    ds = open_dataset(path, completed_only=True)
    inputs = input_variable or str(ds.attrs.get("x_variables", "")).split()[0]
    target = target_variable or str(ds.attrs.get("y_variables", "")).split()[0]
    for name in (inputs, target):
        if name not in ds:
            raise ValueError(f"variable {name!r} not found in {path}; it has {list(ds.data_vars)}")
    grid = [d for d in ("z", "y", "x") if d in ds[target].dims]
    if [d for d in ("z", "y", "x") if d in ds[inputs].dims] != grid:
        raise ValueError(
            f"{inputs!r} has dims {ds[inputs].dims} and {target!r} {ds[target].dims}; "
            f"they must share one grid"
        )
    spatial = list(reversed(grid))  # x, y, z
    x_values = ds[inputs].transpose("sample", *spatial).values.astype(np.float32)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        if "time" in ds[target].dims:
            y_values = ds[target].transpose("sample", "time", *spatial).values
            tensor = np.concatenate([x_values[:, None], y_values.astype(np.float32)], axis=1)
            times = np.concatenate([[0.0], ds["time"].values.astype(np.float64)])
        else:
            tensor = ds[target].transpose("sample", *spatial).values[:, None].astype(np.float32)
            times = np.zeros(1)
            f.create_dataset("nu", data=x_values, compression="gzip")
        f.create_dataset("tensor", data=tensor, compression="gzip")
        for axis in spatial:
            f.create_dataset(f"{axis}-coordinate", data=ds[axis].values.astype(np.float32))
        f.create_dataset("t-coordinate", data=times.astype(np.float32))
        f.attrs["source"] = os.path.basename(os.fspath(path))
        f.attrs["generator"] = str(ds.attrs.get("generator", ""))
    ds.close()
    return Path(out)
