"""Readers of generated datasets: a lazy xarray view and a torch Dataset of input/target pairs."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .layout import GRID_DIMS, SPLIT_NAMES, split_indices


def open_dataset(path: str | os.PathLike[str], *, completed_only: bool = False) -> Any:
    """Open a dataset file as a lazily loaded :class:`xarray.Dataset`.

    Parameters
    ----------
    path : str or PathLike
        A file written by a neurosolve generator or importer.
    completed_only : bool
        Keep only the samples whose ``completed`` flag is set (useful on a file whose run was
        interrupted; unwritten samples otherwise read as NaN).

    Returns
    -------
    xarray.Dataset
        Variables over named dimensions (``sample``, ``time``, ``channel``, ``z``, ``y``,
        ``x``); values are read from disk only when accessed. The ``settings`` attribute
        is a JSON string: ``json.loads(ds.attrs["settings"])`` gives the generator's settings.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    import xarray as xr

    if not os.path.exists(path):
        raise FileNotFoundError(f"dataset file {path} not found")
    ds = xr.open_dataset(path, engine="h5netcdf", chunks=None, cache=False)
    if completed_only and "completed" in ds:
        done = np.flatnonzero(ds["completed"].values == 1)
        ds = ds.isel(sample=done)
    return ds


def _grid_ndim(dims: tuple[str, ...]) -> int:
    """Number of trailing grid axes (z, y, x) in a variable's dimensions."""
    count = 0
    for dim in reversed(dims):
        if dim not in GRID_DIMS:
            break
        count += 1
    return count


class FieldDatasetBase:
    """A torch Dataset of ``{"x": tensor(C, *grid), "y": tensor(C', *grid)}`` from a dataset file.

    Use it as :class:`FieldDataset`, which adds :class:`torch.utils.data.Dataset` as a base
    class when first accessed, so importing this module does not import torch.

    Parameters
    ----------
    path : str or PathLike
        A file in the neurosolve layout.
    split : {"train", "validation", "test"} or None
        Which samples to serve; None serves all. Only completed samples are served.
    x_variables, y_variables : sequence of str, optional
        Variables stacked into the input and target; by default the file's
        ``x_variables`` and ``y_variables`` attributes.
    dtype : torch.dtype, optional
        Tensor dtype, ``torch.float32`` by default.

    Notes
    -----
    Each variable contributes its non-grid dimensions after ``sample`` (``time``,
    ``channel``) flattened into channels, in file order, so a time series of ``T`` steps
    gives ``T`` channels and a single field gives one. All variables of ``x`` (and of ``y``)
    must share one grid. The HDF5 file is opened on first access in each process, so the
    dataset works with ``DataLoader(num_workers > 0)``.

    Raises
    ------
    ValueError
        If ``split`` is unknown, a variable is missing, or the variables' grids differ.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        split: str | None = "train",
        *,
        x_variables: list[str] | tuple[str, ...] | None = None,
        y_variables: list[str] | tuple[str, ...] | None = None,
        dtype: Any = None,
    ) -> None:
        import h5py
        import torch

        if not os.path.exists(path):
            raise FileNotFoundError(f"dataset file {path} not found")
        if split is not None and split not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES} or None, got {split!r}")
        self.path = os.fspath(path)
        self.split = split
        self.dtype = torch.float32 if dtype is None else dtype
        with h5py.File(self.path, "r") as f:
            attrs = {k: _text(v) for k, v in f.attrs.items()}
            self.x_variables = tuple(x_variables or attrs.get("x_variables", "").split())
            self.y_variables = tuple(y_variables or attrs.get("y_variables", "").split())
            for role, names in (("x", self.x_variables), ("y", self.y_variables)):
                if not names:
                    raise ValueError(f"{path} names no {role} variables; pass {role}_variables=")
                for name in names:
                    if name not in f:
                        raise ValueError(
                            f"variable {name!r} not found in {path}; it has {sorted(f.keys())}"
                        )
            self._grid_shapes = {
                role: self._grid_shape(f, names)
                for role, names in (("x", self.x_variables), ("y", self.y_variables))
            }
            samples = f[self.x_variables[0]].shape[0]
            labels = f["split"][:] if "split" in f else np.zeros(samples, dtype=np.int8)
            done = f["completed"][:] == 1 if "completed" in f else np.ones(samples, dtype=bool)
        chosen = split_indices(labels, split)
        self.indices = chosen[done[chosen]].astype(np.int64)
        self._file: Any = None

    @staticmethod
    def _grid_shape(f: Any, names: tuple[str, ...]) -> tuple[int, ...]:
        shapes = set()
        for name in names:
            dims = _dimension_names(f[name])
            n = _grid_ndim(dims)
            if n == 0:
                raise ValueError(f"variable {name!r} has no grid dimensions (dims {dims})")
            shapes.add(f[name].shape[-n:])
        if len(shapes) != 1:
            raise ValueError(f"variables {names} lie on different grids {sorted(shapes)}")
        return shapes.pop()

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def _stack(self, names: tuple[str, ...], index: int, grid: tuple[int, ...]) -> Any:
        import torch

        parts = [np.asarray(self._file[name][index]).reshape(-1, *grid) for name in names]
        return torch.from_numpy(np.concatenate(parts, axis=0)).to(self.dtype)

    def __getitem__(self, item: int) -> dict[str, Any]:
        import h5py

        if not -len(self) <= item < len(self):
            raise IndexError(f"index {item} out of range for {len(self)} samples")
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        index = int(self.indices[item])
        return {
            "x": self._stack(self.x_variables, index, self._grid_shapes["x"]),
            "y": self._stack(self.y_variables, index, self._grid_shapes["y"]),
        }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"] = None
        return state

    def close(self) -> None:
        """Close the HDF5 file if this process opened it."""
        if self._file is not None:
            self._file.close()
            self._file = None


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _dimension_names(dataset: Any) -> tuple[str, ...]:
    """Names of an h5py dataset's dimensions from its attached netCDF dimension scales."""
    names = []
    for dim in dataset.dims:
        scales = list(dim.values())
        names.append(scales[0].name.rsplit("/", 1)[-1] if scales else "")
    return tuple(names)


_field_dataset_class: type | None = None


def _make_field_dataset_class() -> type:
    global _field_dataset_class
    if _field_dataset_class is None:
        from torch.utils.data import Dataset

        class FieldDataset(FieldDatasetBase, Dataset):
            __doc__ = FieldDatasetBase.__doc__

        FieldDataset.__module__ = __name__
        FieldDataset.__qualname__ = "FieldDataset"
        _field_dataset_class = FieldDataset
    return _field_dataset_class


def __getattr__(name: str) -> Any:
    # FieldDataset subclasses torch's Dataset, so it is created on first access; pickling
    # (DataLoader workers) finds it here by name.
    if name == "FieldDataset":
        return _make_field_dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
