"""``problems.forecast``: a forecasting problem from an array or a DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data.timeseries import check_series, fill_gaps, find_time_column
from ..solvers.problems import ForecastProblem


def _from_frame(frame: Any, time_column: str | None) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    if time_column is None:
        time_column = find_time_column(columns)
        if time_column is None:
            dates = [c for c in columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
            time_column = dates[0] if dates else None
    elif time_column not in columns:
        raise ValueError(f"time_column {time_column!r} is not a column: {columns}")
    channels = [c for c in columns if c != time_column]
    non_numeric = [c for c in channels if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise TypeError(
            f"history columns {non_numeric} are not numeric; drop them or name the time "
            f"column with time_column="
        )
    return frame[channels].to_numpy(dtype=np.float64), channels


def forecast(
    history: Any,
    horizon: int,
    *,
    channels: list[str] | None = None,
    time_column: str | None = None,
    nan: str = "raise",
    name: str = "forecast",
) -> ForecastProblem:
    """Build a :class:`ForecastProblem` from past values of a multivariate series.

    Parameters
    ----------
    history : array-like of shape (time, channels), or pandas.DataFrame
        Observed values, oldest first. A 1D array is one channel. A DataFrame's date or
        time column (named ``date``, ``time``, ``timestamp``, ``datetime`` or ``t``, or
        the first datetime column) is dropped and the other columns are the channels.
    horizon : int
        Number of future steps to forecast.
    channels : list of str, optional
        Channel names; by default the DataFrame's column names.
    time_column : str, optional
        Name of the DataFrame's time column when it is not found by name.
    nan : {"raise", "interpolate"}
        Reject NaN values (default), or fill each gap linearly in time.
    name : str
        Label for tables and files.

    Returns
    -------
    ForecastProblem
        ``solve(problem, method=...)`` returns ``x`` of shape ``(horizon, channels)``.

    Raises
    ------
    TypeError
        If the history is not numeric.
    ValueError
        If it is not 1D or 2D, is empty, has infinite values, or has NaN with
        ``nan="raise"``; if ``horizon`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from neurosolve import problems, solve
    >>> p = problems.forecast(np.arange(20.0).reshape(10, 2), horizon=3)
    >>> solve(p, method="naive").x.shape
    (3, 2)
    """
    names = None
    if hasattr(history, "columns") and hasattr(history, "to_numpy"):
        values, names = _from_frame(history, time_column)
    else:
        values = history
    values = check_series(values, "history")
    values = fill_gaps(values, nan=nan, name="history")
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return ForecastProblem(
        history=values,
        horizon=int(horizon),
        channels=channels if channels is not None else names,
        name=name,
        provenance={
            "constructor": "forecast", "horizon": int(horizon), "nan": nan,
            "time_steps": int(values.shape[0]), "channels": int(values.shape[1]),
        },
    )
