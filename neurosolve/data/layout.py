"""The one HDF5 layout of generated datasets: creating, resuming and appending samples.

Every generator writes through :class:`SampleWriter`, so all datasets share this layout
(docs/data-format.md describes it for readers outside Python):

- netCDF-4 compatible HDF5 that ``xarray.open_dataset(path, engine="h5netcdf")`` reads, with
  named dimensions: ``sample`` first, then any of ``time``, ``channel``, ``probe``, and the
  grid axes in C order (``z``, ``y``, ``x``). Each dimension has a coordinate variable.
- Field variables are float32, one chunk per sample, gzip-compressed with byte shuffling, and
  filled with NaN until their sample is written. Masks are uint8 without a fill value.
- ``completed`` (uint8 per sample) is set to 1 only after the sample's fields are flushed to
  disk, so a killed run never leaves a half-written sample marked as done.
- ``split`` (int8 per sample) assigns samples to train (0), validation (1) and test (2) in
  contiguous blocks.
- File attributes store the generator name, its full settings (JSON), the seed, the package,
  dolfinx, numpy and h5py versions, and which variables are model inputs (``x_variables``) and
  targets (``y_variables``).

Writers call :func:`open_writer` with a :class:`DatasetSpec`. A file that already exists with
the same generator, seed, sample count and settings is resumed: :meth:`SampleWriter.missing`
lists the samples still to do.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .._version import __version__
from .io import atomic_path

logger = logging.getLogger(__name__)

FORMAT_NAME = "neurosolve.fields"
FORMAT_VERSION = 1
SPLIT_NAMES = ("train", "validation", "test")
# Grid axes in C order; a variable's trailing dimensions drawn from these are its grid.
GRID_DIMS = ("z", "y", "x")
# Settings that must match for an existing file to be resumed.
_IDENTITY_ATTRIBUTES = ("generator", "seed", "samples", "settings")


@dataclass(frozen=True)
class Variable:
    """A per-sample variable of a dataset.

    Attributes
    ----------
    dims : tuple of str
        Dimensions after ``sample``, for example ``("y", "x")`` or ``("time", "y", "x")``.
    role : {"x", "y", None}
        ``"x"`` for model inputs, ``"y"`` for targets, None for variables a model does not
        read (masks, probe series).
    long_name : str
        Human-readable description, stored as the ``long_name`` attribute.
    units : str
        Physical units, stored as the ``units`` attribute ("1" for dimensionless).
    dtype : str
        Stored dtype; fields are float32.
    """

    dims: tuple[str, ...]
    role: str | None = None
    long_name: str = ""
    units: str = "1"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.role not in ("x", "y", None):
            raise ValueError(f"role must be 'x', 'y' or None, got {self.role!r}")
        if "sample" in self.dims:
            raise ValueError(f"dims {self.dims} must not contain 'sample'; it is added first")


@dataclass
class DatasetSpec:
    """Description of a dataset file: its dimensions, variables, settings and seed.

    Attributes
    ----------
    generator : str
        Generator name, such as ``"darcy"``.
    samples : int
        Number of samples in the complete file.
    coords : dict of str to ndarray
        Coordinate values of every dimension other than ``sample`` (grid coordinates in
        their physical units, times in the generator's time unit, channel or probe indices).
    variables : dict of str to Variable
        The per-sample variables.
    settings : dict
        The generator's full settings; JSON-serialisable values only.
    seed : int
        Seed of the whole dataset; sample ``i`` is drawn from :func:`sample_rng(seed, i)`.
    split_fractions : tuple of float
        Fractions of samples in train, validation and test; they must sum to 1.
    attrs : dict
        Extra file attributes (strings or numbers), for example the dolfinx version.
    """

    generator: str
    samples: int
    coords: dict[str, np.ndarray]
    variables: dict[str, Variable]
    settings: dict[str, Any]
    seed: int
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.samples) < 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")
        fractions = np.asarray(self.split_fractions, dtype=float)
        if fractions.shape != (3,) or np.any(fractions < 0) or abs(fractions.sum() - 1) > 1e-9:
            raise ValueError(
                f"split_fractions must be three non-negative numbers summing to 1 "
                f"(train, validation, test), got {self.split_fractions}"
            )
        for name, variable in self.variables.items():
            unknown = [d for d in variable.dims if d not in self.coords]
            if unknown:
                raise ValueError(
                    f"variable {name!r} uses dimensions {unknown} that have no coordinates; "
                    f"add them to coords (known: {sorted(self.coords)})"
                )
        if "sample" in self.coords:
            raise ValueError("coords must not contain 'sample'; it is created from samples")

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Return the shape of one sample of variable ``name``."""
        return tuple(len(self.coords[d]) for d in self.variables[name].dims)

    def split_labels(self) -> np.ndarray:
        """Return the split of each sample: 0 train, 1 validation, 2 test, in contiguous blocks."""
        train, validation, _ = self.split_fractions
        n_train = int(round(train * self.samples))
        n_validation = int(round(validation * self.samples))
        labels = np.full(self.samples, 2, dtype=np.int8)
        labels[:n_train] = 0
        labels[n_train : n_train + n_validation] = 1
        return labels

    def settings_json(self) -> str:
        return json.dumps(self.settings, sort_keys=True)


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """Return the random generator of sample ``index`` of a dataset with ``seed``.

    Each sample has its own stream (child ``index`` of ``numpy.random.SeedSequence(seed)``),
    so a sample's values do not depend on the order, the number of ranks or how many other
    samples are generated.
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(index),)))


def _software_versions() -> dict[str, str]:
    versions = {
        "neurosolve_version": __version__,
        "numpy_version": np.__version__,
        "h5py_version": h5py.__version__,
        "hdf5_version": h5py.version.hdf5_version,
    }
    try:
        import dolfinx_solver  # noqa: F401, I001  (must be imported before dolfinx)
        import dolfinx  # noqa: I001

        versions["dolfinx_version"] = dolfinx.__version__
    except ImportError:
        versions["dolfinx_version"] = "not installed"
    return versions


def _create_file(path: Path, spec: DatasetSpec) -> None:
    """Create the complete skeleton of a dataset file: dimensions, empty variables, attributes."""
    import h5netcdf

    with atomic_path(path) as tmp, h5netcdf.File(tmp, "w") as f:
        f.dimensions["sample"] = spec.samples
        for dim, values in spec.coords.items():
            f.dimensions[dim] = len(values)
        sample = f.create_variable("sample", ("sample",), "i8")
        sample[:] = np.arange(spec.samples)
        for dim, values in spec.coords.items():
            values = np.asarray(values)
            f.create_variable(dim, (dim,), values.dtype)[:] = values

        for name, variable in spec.variables.items():
            shape = spec.shape_of(name)
            v = f.create_variable(
                name,
                ("sample", *variable.dims),
                variable.dtype,
                chunks=(1, *shape),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                fillvalue=np.nan if np.dtype(variable.dtype).kind == "f" else None,
            )
            v.attrs["long_name"] = variable.long_name or name
            v.attrs["units"] = variable.units
            v.attrs["role"] = variable.role or "none"

        split = f.create_variable("split", ("sample",), "i1")
        split[:] = spec.split_labels()
        split.attrs["flag_values"] = np.arange(3, dtype=np.int8)
        split.attrs["flag_meanings"] = " ".join(SPLIT_NAMES)
        completed = f.create_variable("completed", ("sample",), "u1")
        completed[:] = np.zeros(spec.samples, dtype=np.uint8)
        completed.attrs["long_name"] = "1 once every field of the sample is written"

        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["generator"] = spec.generator
        f.attrs["seed"] = int(spec.seed)
        f.attrs["samples"] = int(spec.samples)
        f.attrs["settings"] = spec.settings_json()
        f.attrs["split_fractions"] = np.asarray(spec.split_fractions, dtype=float)
        roles = {r: [n for n, v in spec.variables.items() if v.role == r] for r in "xy"}
        f.attrs["x_variables"] = " ".join(roles["x"])
        f.attrs["y_variables"] = " ".join(roles["y"])
        f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        for key, value in {**_software_versions(), **spec.attrs}.items():
            f.attrs[key] = value


def _check_resumable(path: Path, spec: DatasetSpec) -> None:
    try:
        with h5py.File(path, "r") as f:
            stored = {key: f.attrs.get(key) for key in _IDENTITY_ATTRIBUTES}
            stored_format = f.attrs.get("format")
    except OSError as err:
        raise ValueError(
            f"{path} exists but cannot be read as HDF5 ({err}); remove it or choose another "
            f"output path"
        ) from err
    if isinstance(stored_format, bytes):
        stored_format = stored_format.decode()
    if stored_format != FORMAT_NAME:
        raise ValueError(
            f"{path} exists and is not a neurosolve dataset (format={stored_format!r}); "
            f"remove it or choose another output path"
        )
    expected = {
        "generator": spec.generator,
        "seed": int(spec.seed),
        "samples": int(spec.samples),
        "settings": spec.settings_json(),
    }
    for key, value in expected.items():
        found = stored[key]
        if isinstance(found, bytes):
            found = found.decode()
        if isinstance(found, np.generic):
            found = found.item()
        if found != value:
            raise ValueError(
                f"{path} exists with {key}={found!r}, but this run has {key}={value!r}; "
                f"rerun with the same arguments to resume it, or pass overwrite=True "
                f"(--overwrite) to start again"
            )


class SampleWriter:
    """Appends samples to a dataset file created by :func:`open_writer`.

    Each :meth:`write_sample` writes the sample's fields, flushes them, then sets the
    sample's ``completed`` flag and flushes again. Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, path: Path, spec: DatasetSpec) -> None:
        self.path = path
        self.spec = spec
        self._file = h5py.File(path, "r+")

    def missing(self) -> np.ndarray:
        """Return the indices of the samples not yet completed, in increasing order."""
        return np.flatnonzero(self._file["completed"][:] == 0)

    def write_sample(self, index: int, fields: Mapping[str, np.ndarray]) -> None:
        """Write every variable of sample ``index`` and then mark it completed.

        Parameters
        ----------
        index : int
            Sample index, ``0 <= index < spec.samples``.
        fields : mapping of str to ndarray
            One array per variable of the spec, each of the shape :meth:`DatasetSpec.shape_of`
            returns; cast to the variable's dtype.

        Raises
        ------
        ValueError
            If ``index`` is out of range, a variable is missing or unknown, or an array has
            the wrong shape or contains NaN or infinite values.
        """
        if not 0 <= int(index) < self.spec.samples:
            raise ValueError(f"sample index {index} is outside 0..{self.spec.samples - 1}")
        missing = sorted(set(self.spec.variables) - set(fields))
        unknown = sorted(set(fields) - set(self.spec.variables))
        if missing or unknown:
            raise ValueError(
                f"sample {index}: fields must be exactly {sorted(self.spec.variables)}; "
                f"missing {missing}, unknown {unknown}"
            )
        arrays = {}
        for name, values in fields.items():
            values = np.asarray(values)
            expected = self.spec.shape_of(name)
            if values.shape != expected:
                raise ValueError(
                    f"sample {index}: field {name!r} has shape {values.shape}, expected {expected}"
                )
            if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
                raise ValueError(f"sample {index}: field {name!r} contains NaN or infinite values")
            arrays[name] = values.astype(self.spec.variables[name].dtype, copy=False)

        # NOTE: the flushes make a kill between writes safe. HDF5 can still evict metadata
        # during a write, so a kill in the middle of one is not proven harmless.
        for name, values in arrays.items():
            self._file[name][index] = values
        self._file.flush()
        self._file["completed"][index] = 1
        self._file.flush()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_writer(
    path: str | os.PathLike[str], spec: DatasetSpec, *, overwrite: bool = False
) -> SampleWriter:
    """Create a dataset file, or reopen a matching one to resume it.

    Parameters
    ----------
    path : str or PathLike
        Output file. Its folder must exist.
    spec : DatasetSpec
        Dimensions, variables, settings and seed of the dataset.
    overwrite : bool
        Replace an existing file instead of resuming it.

    Returns
    -------
    SampleWriter
        Open for appending; :meth:`SampleWriter.missing` lists the samples still to write.

    Raises
    ------
    ValueError
        If ``path`` exists but is not a neurosolve dataset, cannot be read, or was written
        with a different generator, seed, sample count or settings (and ``overwrite`` is
        False).
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    The skeleton is written through :func:`neurosolve.data.io.atomic_path` (a temporary
    file in the same folder, then renamed), so ``path`` never contains a partly created
    skeleton. Samples are then written in place, each
    followed by an HDF5 flush. After a killed run the file opens normally and contains every
    sample whose ``completed`` flag is set.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"output folder {path.parent} does not exist; create it first")
    if path.exists() and not overwrite:
        _check_resumable(path, spec)
        writer = SampleWriter(path, spec)
        done = spec.samples - len(writer.missing())
        logger.info("resuming %s: %d of %d samples already written", path, done, spec.samples)
        return writer
    _create_file(path, spec)
    return SampleWriter(path, spec)


def split_indices(labels: Sequence[int] | np.ndarray, split: str | None) -> np.ndarray:
    """Return the sample indices of ``split`` ("train", "validation", "test", or None for all)."""
    labels = np.asarray(labels)
    if split is None or split == "all":
        return np.arange(labels.shape[0])
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES} or None, got {split!r}")
    return np.flatnonzero(labels == SPLIT_NAMES.index(split))
