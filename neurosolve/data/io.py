"""Atomic file writes and the HDF5 writer of solve results and fields.

Every file the package writes goes through :func:`atomic_path`: the content goes to a
temporary file in the target's folder, which is renamed onto the target only after the
write finished. An interrupted write therefore never leaves a truncated file at the
target, and an existing file is only ever replaced by a complete one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it onto ``path`` on success.

    Parameters
    ----------
    path : str or PathLike
        The file to create or replace. Its folder must exist.

    Yields
    ------
    Path
        An empty temporary file in the same folder (so the rename stays on one file
        system), named ``<name>.tmp-<random>``. Write to it, or replace it, inside the
        ``with`` block.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    On normal exit the temporary file is flushed to disk and moved onto ``path`` with
    :func:`os.replace`, which is atomic on POSIX file systems. On any exception,
    ``KeyboardInterrupt`` included, it is deleted and the exception propagates. A process
    killed outright (``SIGKILL``, power loss) can leave the temporary file behind, but
    never a partial file at ``path``.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"cannot write {target}: folder {folder} does not exist; create it first"
        )
    handle, name = tempfile.mkstemp(prefix=f"{target.name}.tmp-", dir=folder)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        _flush_to_disk(temporary)
        _apply_umask(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _flush_to_disk(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _apply_umask(path: Path) -> None:
    # mkstemp creates files readable by the owner only; give the usual permissions instead.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


GRID_DIMS = ("z", "y", "x")


def write_fields(
    path: str | os.PathLike[str],
    result_or_fields: Any,
    *,
    problem: Any = None,
    geometry: Any = None,
    fields: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> Path:
    """Write a solve result, or named fields, to an HDF5 file that xarray opens.

    Parameters
    ----------
    path : str or PathLike
        Target file, written atomically (see :func:`atomic_path`).
    result_or_fields : SolveResult or dict of str to ndarray
        A result of :func:`neurosolve.solve`, stored as the variable ``solution`` (with
        the input fields of an operator problem beside it), or fields on one grid, each
        of shape ``geometry.shape`` (optionally with a leading ``time`` axis).
    problem : Problem, optional
        The problem solved; defaults to ``result.problem``. Its grid and provenance are
        stored.
    geometry : GridGeometry, optional
        The grid of plain fields; defaults to the problem's, else the unit square or cube
        with the fields' shape.
    fields : dict of str to ndarray, optional
        Extra grid fields to store beside the solution (for example a reference solution).
    attrs : dict, optional
        Extra file attributes; dicts and lists are stored as JSON text.

    Returns
    -------
    Path
        The HDF5 file written. On unstructured meshes an XDMF file with the same stem is
        written beside it.

    Raises
    ------
    ValueError
        If a field does not match the grid, or a result has no problem to take a grid from.

    Notes
    -----
    For a problem distributed over MPI ranks every rank must call this function, and
    rank 0 writes the gathered grid.

    Grid files have dimensions ``(y, x)`` or ``(z, y, x)`` (``time`` first for wave
    results) with coordinate variables in the problem's length units. Forecasts are
    stored as ``(time, channel)`` beside the ``history``, with time counted in steps
    from the first forecast. Attributes store
    the method, its options and tolerances, ``converged``, ``status``, ``iterations``,
    ``residuals`` (relative, initial first), set-up and solve seconds, the package
    version and the problem's provenance (JSON). On unstructured meshes the file holds
    ``geometry`` (node coordinates), ``topology`` (cell to node) and P1 node values; the
    XDMF file points ParaView at them.
    """
    import xarray as xr

    from .._version import __version__

    file_attrs: dict[str, Any] = {"neurosolve_version": __version__}
    extra = dict(fields or {})
    if _is_result(result_or_fields):
        result = result_or_fields
        problem = problem if problem is not None else result.problem
        if problem is None:
            raise ValueError(
                "the result carries no problem, so its grid is unknown; pass problem=..."
            )
        file_attrs.update(_result_attrs(result))
        # Operator problems keep their input fields (coefficient, source) beside the answer.
        inputs = dict(getattr(problem, "inputs", None) or {})
        values = {**inputs, "solution": result.x, **extra}
    elif isinstance(result_or_fields, Mapping):
        values = {**result_or_fields, **extra}
    else:
        raise TypeError(
            f"result_or_fields must be a SolveResult or a dict of arrays, got "
            f"{type(result_or_fields).__name__}"
        )
    if problem is not None:
        file_attrs["problem"] = getattr(problem, "name", "")
        file_attrs["problem_kind"] = getattr(problem, "kind", "")
        file_attrs["provenance"] = getattr(problem, "provenance", {})
    file_attrs.update(attrs or {})
    file_attrs = {key: _attribute(value) for key, value in file_attrs.items()}

    if problem is not None and getattr(problem, "geometry", None) is None and getattr(
        problem, "function_space", None
    ) is not None:
        dataset = _mesh_dataset(problem, values)
        dataset.attrs.update(file_attrs)
        target = _write_dataset(dataset, path)
        _write_xdmf(target, dataset)
        return target

    if getattr(problem, "kind", "") == "forecast":
        dataset = _forecast_dataset(problem, values)
        dataset.attrs.update(file_attrs)
        return _write_dataset(dataset, path)

    geometry = geometry if geometry is not None else getattr(problem, "geometry", None)
    if geometry is not None:
        grid_shape = tuple(geometry.shape)
    else:
        first = np.shape(next(iter(values.values())))
        grid_shape = first if len(first) in (2, 3) else first[1:]
    variables = {
        name: _grid_variable(name, value, problem, geometry, grid_shape)
        for name, value in values.items()
    }
    if geometry is not None and geometry.free is not None:
        variables["free"] = (GRID_DIMS[-len(grid_shape):], geometry.free.astype(np.uint8))
    dataset = xr.Dataset(variables, coords=_grid_coordinates(grid_shape, geometry, problem))
    dataset.attrs.update(file_attrs)
    if not getattr(problem, "distributed", False):
        return _write_dataset(dataset, path)
    # Every rank gathered the whole grid above (a collective step); rank 0 writes it.
    comm = problem.comm
    if comm.rank == 0:
        _write_dataset(dataset, path)
    comm.barrier()
    return Path(path)


def _forecast_dataset(problem: Any, values: Mapping[str, Any]) -> Any:
    """Build a dataset of ``(time, channel)`` forecasts, the history beside them."""
    import xarray as xr

    history = np.asarray(problem.history, dtype=np.float64)
    channels = problem.channels or [f"channel_{i}" for i in range(history.shape[1])]
    variables: dict[str, Any] = {"history": (("history_time", "channel"), history)}
    for name, value in values.items():
        array = np.asarray(value, dtype=np.float64)
        if array.shape != (problem.horizon, history.shape[1]):
            raise ValueError(
                f"field {name!r} has shape {array.shape}; a forecast must have shape "
                f"(horizon, channels) = {(problem.horizon, history.shape[1])}"
            )
        variables[name] = (("time", "channel"), array)
    coords = {
        "channel": list(channels),
        "history_time": np.arange(-history.shape[0], 0),
        "time": np.arange(problem.horizon),
    }
    return xr.Dataset(variables, coords=coords)


def _is_result(value: Any) -> bool:
    return all(hasattr(value, key) for key in ("x", "converged", "residuals", "method"))


def _result_attrs(result: Any) -> dict[str, Any]:
    options = dict(result.options)
    return {
        "method": result.method,
        "converged": int(bool(result.converged)),
        "status": int(result.status),
        "iterations": int(result.iterations),
        "residuals": np.asarray(result.residuals, dtype=np.float64),
        "final_residual": float(result.final_residual),
        "rtol": options.pop("rtol", None),
        "atol": options.pop("atol", None),
        "maxiter": options.pop("maxiter", None),
        "options": options,
        "setup_seconds": float(result.setup_seconds),
        "solve_seconds": float(result.solve_seconds),
        "message": result.message,
        "checkpoint": result.checkpoint or "",
    }


def _attribute(value: Any) -> Any:
    """Convert a value to something netCDF attributes hold: text, a number or a 1D array."""
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, str | int | float | np.integer | np.floating):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "fiu":
        return value
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _grid_variable(
    name: str, value: Any, problem: Any, geometry: Any, grid_shape: tuple[int, ...]
) -> tuple:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1 and problem is not None and hasattr(problem, "to_grid"):
        array = problem.to_grid(array)
    elif array.ndim == 1 and geometry is not None:
        array = geometry.to_grid(array, fill=np.nan)
    if array.shape == tuple(grid_shape):
        return (GRID_DIMS[-len(grid_shape):], array)
    if array.shape[1:] == tuple(grid_shape):
        return (("time", *GRID_DIMS[-len(grid_shape):]), array)
    raise ValueError(
        f"field {name!r} has shape {array.shape}, which does not fit the grid {grid_shape}; "
        f"give grid-shaped arrays, with an optional leading time axis"
    )


def _grid_coordinates(shape: tuple[int, ...], geometry: Any, problem: Any) -> dict:
    if geometry is not None:
        axes = geometry.coordinates()
    else:
        axes = [np.linspace(0.0, 1.0, n) for n in shape]
    coords = {dim: axis for dim, axis in zip(GRID_DIMS[-len(shape):], axes, strict=True)}
    dt = getattr(problem, "dt", None)
    steps = getattr(problem, "steps", None)
    if dt is not None and steps is not None:
        coords["time"] = dt * np.arange(int(steps) + 1)
    return coords


def _mesh_dataset(problem: Any, values: Mapping[str, Any]) -> Any:
    import xarray as xr

    V = problem.function_space
    points = V.tabulate_dof_coordinates()[:, : V.mesh.geometry.dim]
    topology = np.asarray(V.dofmap.list, dtype=np.int64)
    variables: dict[str, Any] = {
        "geometry": (("node", "dim"), points),
        "topology": (("cell", "vertex"), topology),
    }
    for name, value in values.items():
        array = np.asarray(value, dtype=np.float64).reshape(-1)
        if array.shape[0] == problem.n:
            array = problem.to_space(array)
        if array.shape[0] != points.shape[0]:
            raise ValueError(
                f"field {name!r} has {array.shape[0]} values; expected one per unknown "
                f"({problem.n}) or per node ({points.shape[0]})"
            )
        variables[name] = (("node",), array)
    dataset = xr.Dataset(variables)
    dataset.attrs["cell_type"] = {2: "Triangle", 3: "Tetrahedron"}[V.mesh.topology.dim]
    return dataset


def _write_dataset(dataset: Any, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    with atomic_path(target) as temporary:
        dataset.to_netcdf(temporary, engine="h5netcdf")
    return target


def _write_xdmf(h5_path: Path, dataset: Any) -> Path:
    """Write an XDMF file that points ParaView at the node and cell arrays of ``h5_path``."""
    nodes, gdim = dataset["geometry"].shape
    cells, corners = dataset["topology"].shape
    name = h5_path.name
    geometry_type = "XY" if gdim == 2 else "XYZ"
    attributes = "".join(
        f'      <Attribute Name="{key}" AttributeType="Scalar" Center="Node">\n'
        f'        <DataItem Dimensions="{nodes}" NumberType="Float" Precision="8" '
        f'Format="HDF">{name}:/{key}</DataItem>\n'
        f"      </Attribute>\n"
        for key in dataset.data_vars
        if key not in ("geometry", "topology")
    )
    text = (
        '<?xml version="1.0"?>\n'
        '<Xdmf Version="3.0">\n'
        "  <Domain>\n"
        '    <Grid Name="mesh" GridType="Uniform">\n'
        f'      <Topology TopologyType="{dataset.attrs["cell_type"]}" '
        f'NumberOfElements="{cells}">\n'
        f'        <DataItem Dimensions="{cells} {corners}" NumberType="Int" Precision="8" '
        f'Format="HDF">{name}:/topology</DataItem>\n'
        "      </Topology>\n"
        f'      <Geometry GeometryType="{geometry_type}">\n'
        f'        <DataItem Dimensions="{nodes} {gdim}" NumberType="Float" Precision="8" '
        f'Format="HDF">{name}:/geometry</DataItem>\n'
        "      </Geometry>\n"
        f"{attributes}"
        "    </Grid>\n"
        "  </Domain>\n"
        "</Xdmf>\n"
    )
    xdmf_path = h5_path.with_suffix(".xdmf")
    with atomic_path(xdmf_path) as temporary:
        temporary.write_text(text)
    return xdmf_path
