"""Importers of datasets from other projects into the neurosolve form.

Each ``read_*`` function returns an in-memory :class:`xarray.Dataset` with the variable and
dimension names of the neurosolve layout (``coefficient`` and ``solution`` over ``sample``,
``y``, ``x``, or ``solution`` over ``sample``, ``time``, ...). :func:`write_imported` stores
such a dataset in the layout file format, so :class:`~neurosolve.data.FieldDataset` and
``neurosolve inspect`` read it like a generated one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .layout import DatasetSpec, Variable, open_writer


def read_neuralop_darcy(
    path: str | os.PathLike[str], *, high: float = 12.0, low: float = 3.0
) -> Any:
    """Read a Darcy ``.pt`` file of the neuraloperator library.

    Parameters
    ----------
    path : str or PathLike
        A ``torch.save`` file holding a dict with ``"x"`` (bool or float, shape
        ``(N, s, s)``: the coefficient phase) and ``"y"`` (float, shape ``(N, s, s)``: the
        solution).
    high, low : float
        Coefficient values given to the True and False phases of a boolean ``x``.

    Returns
    -------
    xarray.Dataset
        ``coefficient`` and ``solution`` (float32, ``(sample, y, x)``) on the grid
        ``linspace(0, 1, s)``; attributes ``generator = "neuralop-darcy"`` and ``source``.

    Raises
    ------
    ValueError
        If the file does not hold ``x`` and ``y`` arrays of equal shape ``(N, s, s)``.

    Notes
    -----
    The file stores only which phase each point is in, not the coefficient values. True is
    taken as the high phase (12): on the first 8 samples of neuraloperator's
    ``darcy_test_32.pt``, solutions computed with True = 12 correlate with the stored
    ``y`` at 0.79 to 0.91, against 0.16 to 0.50 with True = 3. The stored ``y`` is 65 to
    110 times larger than the solution for ``f = 1`` and is imported unscaled. The grid is
    taken as C order ``(y, x)``.
    """
    import torch
    import xarray as xr

    data = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or "x" not in data or "y" not in data:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path} must hold a dict with 'x' and 'y' tensors, found {keys}")
    x = data["x"].numpy()
    y = data["y"].numpy()
    if x.ndim != 3 or x.shape != y.shape:
        raise ValueError(
            f"{path}: x has shape {x.shape} and y {y.shape}; expected equal shapes (N, s, s)"
        )
    coefficient = np.where(x, high, low) if x.dtype == bool else x
    grid_y = np.linspace(0.0, 1.0, x.shape[1])
    grid_x = np.linspace(0.0, 1.0, x.shape[2])
    return xr.Dataset(
        {
            "coefficient": (("sample", "y", "x"), coefficient.astype(np.float32)),
            "solution": (("sample", "y", "x"), y.astype(np.float32)),
        },
        coords={"sample": np.arange(x.shape[0]), "y": grid_y, "x": grid_x},
        attrs={
            "generator": "neuralop-darcy",
            "source": os.path.basename(os.fspath(path)),
            "x_variables": "coefficient",
            "y_variables": "solution",
        },
    )


def read_pdebench(path: str | os.PathLike[str]) -> Any:
    """Read a PDEBench-style HDF5 file with arrays stacked over samples.

    Parameters
    ----------
    path : str or PathLike
        An HDF5 file with ``tensor`` of shape ``(N, T, nx[, ny[, nz]])`` and one
        coordinate array per axis (``x-coordinate``, ``y-coordinate``, ``z-coordinate``,
        ``t-coordinate``). Darcy files also have ``nu`` of shape ``(N, nx[, ny])``, the
        coefficient.

    Returns
    -------
    xarray.Dataset
        With ``nu``: ``coefficient`` and ``solution`` over ``(sample, y, x)`` (the first
        time level of ``tensor``). Without: ``solution`` over ``(sample, time, y, x)``
        (or 1D / 3D analogues), and ``initial`` (the first level) as the model input.

    Raises
    ------
    ValueError
        If ``tensor`` is missing or its shape does not fit the coordinates.

    Notes
    -----
    PDEBench orders spatial axes ``x, y, z`` after the sample and time axes; they are
    reversed here into the C order ``z, y, x`` of the neurosolve layout. Files that keep
    one group per sample (``0000/data``) are not read.
    """
    import h5py
    import xarray as xr

    with h5py.File(path, "r") as f:
        if "tensor" not in f:
            raise ValueError(
                f"{path} has no 'tensor' dataset (found {sorted(f.keys())}); files with one "
                f"group per sample are not supported"
            )
        tensor = np.asarray(f["tensor"][...], dtype=np.float32)
        axes = [a for a in "xyz" if f"{a}-coordinate" in f]
        coords = {a: np.asarray(f[f"{a}-coordinate"][...], dtype=np.float64) for a in axes}
        times = np.asarray(f["t-coordinate"][...]) if "t-coordinate" in f else None
        nu = np.asarray(f["nu"][...], dtype=np.float32) if "nu" in f else None
    spatial = tensor.ndim - 2
    if spatial < 1 or len(axes) != spatial:
        raise ValueError(
            f"{path}: tensor has shape {tensor.shape}, which needs {max(spatial, 0)} spatial "
            f"coordinates after (sample, time), but the file has {axes}"
        )
    for i, a in enumerate(axes):
        if coords[a].shape[0] != tensor.shape[2 + i]:
            raise ValueError(f"{path}: {a}-coordinate has {coords[a].shape[0]} points, "
                             f"tensor axis {2 + i} has {tensor.shape[2 + i]}")
    # (sample, time, x, y, z) -> (sample, time, z, y, x)
    order = (0, 1, *range(tensor.ndim - 1, 1, -1))
    tensor = np.transpose(tensor, order)
    dims = tuple(reversed(axes))
    coordinates: dict[str, Any] = {a: coords[a] for a in axes}
    coordinates["sample"] = np.arange(tensor.shape[0])
    attrs = {"generator": "pdebench", "source": os.path.basename(os.fspath(path))}
    if nu is not None:
        nu = np.transpose(nu, (0, *range(nu.ndim - 1, 0, -1)))
        return xr.Dataset(
            {
                "coefficient": (("sample", *dims), nu),
                "solution": (("sample", *dims), tensor[:, 0]),
            },
            coords=coordinates,
            attrs={**attrs, "x_variables": "coefficient", "y_variables": "solution"},
        )
    if times is None or times.shape[0] != tensor.shape[1]:
        times = np.arange(tensor.shape[1], dtype=np.float64)
    coordinates["time"] = times.astype(np.float64)
    return xr.Dataset(
        {
            "initial": (("sample", *dims), tensor[:, 0]),
            "solution": (("sample", "time", *dims), tensor),
        },
        coords=coordinates,
        attrs={**attrs, "x_variables": "initial", "y_variables": "solution"},
    )


def write_imported(dataset: Any, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write an imported :class:`xarray.Dataset` to ``out`` in the neurosolve layout.

    Every data variable with a leading ``sample`` dimension is stored; the dataset's
    ``x_variables`` and ``y_variables`` attributes set the roles. All samples are marked
    completed and assigned to splits in contiguous 80/10/10 blocks.

    Raises
    ------
    ValueError
        If the dataset has no ``sample`` dimension or no variable over it.
    """
    if "sample" not in dataset.dims:
        raise ValueError(f"dataset has no 'sample' dimension (dims {dict(dataset.sizes)})")
    x_names = str(dataset.attrs.get("x_variables", "")).split()
    y_names = str(dataset.attrs.get("y_variables", "")).split()
    names = [n for n, v in dataset.data_vars.items() if v.dims and v.dims[0] == "sample"]
    if not names:
        raise ValueError("dataset has no variable over the 'sample' dimension")
    variables = {}
    for name in names:
        role = None
        if name in x_names:
            role = "x"
        elif name in y_names:
            role = "y"
        variables[name] = Variable(
            tuple(str(d) for d in dataset[name].dims[1:]),
            role=role,
            long_name=str(dataset[name].attrs.get("long_name", name)),
        )
    used = {d for v in variables.values() for d in v.dims}
    coords = {
        d: np.asarray(dataset[d].values if d in dataset.coords else np.arange(dataset.sizes[d]))
        for d in sorted(used)
    }
    settings = {k: v for k, v in dataset.attrs.items() if isinstance(v, str | int | float)}
    spec = DatasetSpec(
        generator=str(dataset.attrs.get("generator", "imported")),
        samples=int(dataset.sizes["sample"]),
        coords=coords,
        variables=variables,
        settings=settings,
        seed=0,
    )
    with open_writer(out, spec, overwrite=overwrite) as writer:
        for index in writer.missing():
            writer.write_sample(
                int(index), {n: dataset[n].isel(sample=int(index)).values for n in names}
            )
    return Path(out)
