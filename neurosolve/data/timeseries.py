"""Multivariate time series for forecasting: CSV loading, gaps, splits, scaling and windows.

The conventions follow the long-horizon forecasting literature (Informer, Autoformer,
DLinear, OLinear). A model reads ``seq_len`` past steps and predicts the next
``pred_len``. The ETT data sets split into 12 months of training, 4 of validation and 4
of test at one row per hour, and other data sets split 70 / 10 / 20 percent. Validation
and test windows start ``seq_len`` rows before their split boundary, so the first target
step is the first row of the split. Every split is standardised with the mean and
standard deviation of the training split.

Nothing here imports torch. :class:`WindowDataset` returns numpy arrays, which a torch
``DataLoader`` collates into tensors.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..solvers.result import NeurosolveWarning

logger = logging.getLogger(__name__)

# Rows of the hourly ETT splits: 12, 4 and 4 months of 30 days.
ETT_HOURLY_BORDERS = (12 * 30 * 24, 16 * 30 * 24, 20 * 30 * 24)

# Column names read as the time stamp of a row, compared case-insensitively.
TIME_COLUMN_NAMES = ("date", "time", "timestamp", "datetime", "t")

NAN_POLICIES = ("raise", "interpolate")


class ConstantChannelWarning(NeurosolveWarning):
    """A channel has zero standard deviation over the training split."""


def check_series(values: Any, name: str = "history") -> np.ndarray:
    """Return ``values`` as a float64 array of shape ``(time, channels)``.

    Raises
    ------
    TypeError
        If the values are not numeric.
    ValueError
        If the array is not 1D or 2D, or is empty.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} must be numeric, got dtype {array.dtype}; drop or convert the "
            f"non-numeric columns first"
        )
    array = array.astype(np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (time, channels), got {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    return array


def fill_gaps(values: np.ndarray, nan: str = "raise", name: str = "history") -> np.ndarray:
    """Reject or fill the NaN entries of a ``(time, channels)`` series.

    Parameters
    ----------
    values : ndarray, shape (time, channels)
    nan : {"raise", "interpolate"}
        ``"raise"`` rejects any NaN. ``"interpolate"`` fills each gap linearly in time
        between its neighbours in the same channel and extends the first and last
        observed values over gaps at the ends.
    name : str
        Name of the series in error messages.

    Returns
    -------
    ndarray, shape (time, channels)
        A copy without NaN.

    Raises
    ------
    ValueError
        If ``nan="raise"`` and the series has NaN, if a channel is NaN throughout, if the
        series has infinite entries, or if ``nan`` is not a valid policy.
    """
    if nan not in NAN_POLICIES:
        raise ValueError(f"nan must be one of {NAN_POLICIES}, got {nan!r}")
    values = np.array(values, dtype=np.float64, copy=True)
    if np.isinf(values).any():
        raise ValueError(f"{name} contains infinite entries; replace them with finite values")
    missing = np.isnan(values)
    if not missing.any():
        return values
    rows = np.flatnonzero(missing.any(axis=1))
    if nan == "raise":
        listed_rows = ", ".join(str(r) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
        raise ValueError(
            f"{name} has {int(missing.sum())} NaN entries in {rows.size} rows "
            f"(rows {listed_rows}); pass nan='interpolate' to fill the gaps linearly in "
            f"time, or clean the data"
        )
    steps = np.arange(values.shape[0])
    for channel in range(values.shape[1]):
        gaps = missing[:, channel]
        if gaps.all():
            raise ValueError(
                f"channel {channel} of {name} is NaN at every step and cannot be interpolated"
            )
        if gaps.any():
            values[gaps, channel] = np.interp(
                steps[gaps], steps[~gaps], values[~gaps, channel]
            )
    logger.info("filled %d NaN entries of %s by interpolation", int(missing.sum()), name)
    return values


def find_time_column(columns: list[str]) -> str | None:
    """Return the first column whose name marks a time stamp, or None."""
    for column in columns:
        if str(column).strip().lower() in TIME_COLUMN_NAMES:
            return column
    return None


@dataclass
class CSVSeries:
    """A multivariate series read from a CSV file.

    Attributes
    ----------
    values : ndarray, shape (time, channels)
    channels : list of str
        Column names of the channels.
    times : ndarray, shape (time,)
        The time column as read (datetimes, or numbers for simulation output).
    path : str
    """

    values: np.ndarray
    channels: list[str]
    times: np.ndarray
    path: str


def read_csv_series(
    path: str | os.PathLike,
    *,
    time_column: str | None = None,
    channels: list[str] | None = None,
    nan: str = "raise",
) -> CSVSeries:
    """Read a CSV file with a date or time column and one column per channel.

    Parameters
    ----------
    path : path-like
    time_column : str, optional
        Name of the time column. By default the first column named ``date``, ``time``,
        ``timestamp``, ``datetime`` or ``t`` (any case).
    channels : list of str, optional
        Channel columns to keep, in this order. By default every other column.
    nan : {"raise", "interpolate"}
        What to do with empty or NaN cells, see :func:`fill_gaps`.

    Returns
    -------
    CSVSeries

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If no time column is found, a channel is missing or not numeric, or the series
        has NaN and ``nan="raise"``.
    """
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"CSV file {path!r} not found")
    frame = pd.read_csv(path)
    columns = [str(c) for c in frame.columns]
    if time_column is None:
        time_column = find_time_column(columns)
        if time_column is None:
            raise ValueError(
                f"{path} has no time column (looked for {', '.join(TIME_COLUMN_NAMES)} in "
                f"columns {columns}); pass time_column= with its name"
            )
    elif time_column not in columns:
        raise ValueError(f"time_column {time_column!r} is not a column of {path}: {columns}")
    if channels is None:
        channels = [c for c in columns if c != time_column]
    missing = [c for c in channels if c not in columns]
    if missing:
        raise ValueError(f"channels {missing} are not columns of {path}: {columns}")
    if not channels:
        raise ValueError(f"{path} has no channel column besides {time_column!r}")
    data = frame[channels]
    non_numeric = [c for c in channels if not pd.api.types.is_numeric_dtype(data[c])]
    if non_numeric:
        raise ValueError(f"columns {non_numeric} of {path} are not numeric")
    values = fill_gaps(data.to_numpy(dtype=np.float64), nan=nan, name=os.path.basename(path))
    return CSVSeries(values, list(channels), frame[time_column].to_numpy(), path)


@dataclass
class Standardizer:
    """Per-channel standardisation with statistics of a training split.

    A channel that is constant over the training split gets unit scale, so it
    standardises to zeros instead of NaN, and a :class:`ConstantChannelWarning` is issued.

    Attributes
    ----------
    mean, std : ndarray, shape (channels,)
    """

    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    std: np.ndarray = field(default_factory=lambda: np.ones(0))

    @classmethod
    def fit(cls, train: np.ndarray, name: str = "series") -> Standardizer:
        mean = train.mean(axis=0)
        std = train.std(axis=0)
        constant = std <= 1e-12 * np.maximum(np.abs(mean), 1.0)
        if constant.any():
            warnings.warn(
                f"channels {np.flatnonzero(constant).tolist()} of {name} are constant over "
                f"the training split; they are standardised to zeros",
                ConstantChannelWarning,
                stacklevel=2,
            )
            std = np.where(constant, 1.0, std)
        return cls(mean, std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean

    def state(self) -> dict[str, list[float]]:
        """Return the statistics as plain lists, for checkpoints."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardizer:
        return cls(np.asarray(state["mean"], dtype=np.float64), np.asarray(state["std"]))


def split_borders(n_rows: int, seq_len: int, split: str = "ett") -> dict[str, tuple[int, int]]:
    """Return the row range ``[start, stop)`` of the train, val and test splits.

    Parameters
    ----------
    n_rows : int
        Length of the whole series.
    seq_len : int
        Lookback length. Validation and test ranges start ``seq_len`` rows before their
        boundary so that their first window predicts the boundary row.
    split : {"ett", "ratio"}
        ``"ett"``: 12 / 4 / 4 months of hourly rows (8640 / 2880 / 2880), the ETTh
        convention. ``"ratio"``: 70 % train, 20 % test, the rest validation, the
        convention for other data sets.

    Raises
    ------
    ValueError
        If the series is too short for the split.
    """
    if split == "ett":
        train_end, val_end, test_end = ETT_HOURLY_BORDERS
        if n_rows < test_end:
            raise ValueError(
                f"the ETT split needs {test_end} hourly rows, the series has {n_rows}; "
                f"use split='ratio' for other data"
            )
    elif split == "ratio":
        train_end = int(n_rows * 0.7)
        test_len = int(n_rows * 0.2)
        val_end = n_rows - test_len
        test_end = n_rows
    else:
        raise ValueError(f"split must be 'ett' or 'ratio', got {split!r}")
    if train_end - seq_len < 0:
        raise ValueError(
            f"the training split has {train_end} rows, fewer than seq_len={seq_len}"
        )
    return {
        "train": (0, train_end),
        "val": (train_end - seq_len, val_end),
        "test": (val_end - seq_len, test_end),
    }


def window_count(length: int, seq_len: int, pred_len: int) -> int:
    """Return the number of (input, target) windows in a series of ``length`` steps."""
    return max(length - seq_len - pred_len + 1, 0)


def check_length(length: int, seq_len: int, pred_len: int, name: str = "series") -> None:
    """Raise ``ValueError`` when a series is shorter than ``seq_len + pred_len``."""
    if length < seq_len + pred_len:
        raise ValueError(
            f"{name} has {length} steps, fewer than seq_len + pred_len = {seq_len} + "
            f"{pred_len} = {seq_len + pred_len}, so it holds no training window; use a "
            f"longer series or shorter seq_len / pred_len"
        )


class WindowDataset:
    """Sliding (input, target) windows over a standardised series.

    Item ``i`` is ``{"x": values[i : i + seq_len], "y": values[i + seq_len : i +
    seq_len + pred_len]}`` as float32 arrays of shape ``(seq_len, channels)`` and
    ``(pred_len, channels)``.

    Raises
    ------
    ValueError
        If the series is shorter than ``seq_len + pred_len``.
    """

    def __init__(self, values: np.ndarray, seq_len: int, pred_len: int, name: str = "series"):
        values = check_series(values, name)
        if seq_len < 1 or pred_len < 1:
            raise ValueError(
                f"seq_len and pred_len must be positive, got {seq_len} and {pred_len}"
            )
        check_length(values.shape[0], seq_len, pred_len, name)
        self.values = values.astype(np.float32)
        self.seq_len = seq_len
        self.pred_len = pred_len

    def __len__(self) -> int:
        return window_count(self.values.shape[0], self.seq_len, self.pred_len)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        stop = index + self.seq_len
        return {
            "x": self.values[index:stop],
            "y": self.values[stop : stop + self.pred_len],
        }


@dataclass
class ForecastData:
    """A series split, standardised and ready for windowing.

    Attributes
    ----------
    splits : dict of str to ndarray
        ``"train"``, ``"val"``, ``"test"``: standardised rows of each split (validation and
        test include the ``seq_len`` rows before their boundary).
    scaler : Standardizer
        Statistics of the training split.
    channels : list of str
    train_raw : ndarray
        Training rows before standardisation, for statistics such as OrthoTrans bases.
    source : str
    """

    splits: dict[str, np.ndarray]
    scaler: Standardizer
    channels: list[str]
    train_raw: np.ndarray
    source: str = ""

    def dataset(self, split: str, seq_len: int, pred_len: int) -> WindowDataset:
        return WindowDataset(self.splits[split], seq_len, pred_len, name=f"{split} split")


def prepare_series(
    values: np.ndarray,
    seq_len: int,
    pred_len: int,
    *,
    split: str = "ratio",
    channels: list[str] | None = None,
    source: str = "",
) -> ForecastData:
    """Split and standardise a gap-free series; see :func:`split_borders`.

    Raises
    ------
    ValueError
        If any split is shorter than ``seq_len + pred_len``.
    """
    values = check_series(values, source or "series")
    borders = split_borders(values.shape[0], seq_len, split)
    train_raw = values[slice(*borders["train"])]
    scaler = Standardizer.fit(train_raw, name=source or "series")
    splits = {}
    for name, (start, stop) in borders.items():
        check_length(stop - start, seq_len, pred_len, f"the {name} split of {source or 'series'}")
        splits[name] = scaler.transform(values[start:stop])
    names = channels or [f"channel_{i}" for i in range(values.shape[1])]
    return ForecastData(splits, scaler, names, train_raw, source)


def load_forecast_csv(
    path: str | os.PathLike,
    seq_len: int,
    pred_len: int,
    *,
    split: str | None = None,
    time_column: str | None = None,
    nan: str = "raise",
) -> ForecastData:
    """Read a CSV series and split it for forecasting.

    Parameters
    ----------
    path : path-like
        CSV file with a date or time column, see :func:`read_csv_series`.
    seq_len, pred_len : int
    split : {"ett", "ratio"}, optional
        By default ``"ett"`` for files named ``ETTh*.csv`` and ``"ratio"`` otherwise.
    time_column : str, optional
    nan : {"raise", "interpolate"}

    Returns
    -------
    ForecastData
    """
    series = read_csv_series(path, time_column=time_column, nan=nan)
    if split is None:
        split = "ett" if os.path.basename(series.path).startswith("ETTh") else "ratio"
    return prepare_series(
        series.values, seq_len, pred_len, split=split, channels=series.channels,
        source=os.path.basename(series.path),
    )
