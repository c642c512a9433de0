"""Time-series data: CSV loading, NaN gaps, constant channels, splits and windows."""

import numpy as np
import pandas as pd
import pytest

from neurosolve.data.timeseries import (
    ETT_HOURLY_BORDERS,
    ConstantChannelWarning,
    Standardizer,
    WindowDataset,
    fill_gaps,
    load_forecast_csv,
    read_csv_series,
    split_borders,
)


def write_csv(path, time_name="time", steps=200, channels=2):
    t = np.arange(steps, dtype=float)
    frame = pd.DataFrame({time_name: t * 0.01})
    for c in range(channels):
        frame[f"probe_{c}"] = np.sin(0.1 * (c + 1) * t)
    frame.to_csv(path, index=False)
    return frame


def test_windows_count_and_content():
    values = np.arange(30.0).reshape(15, 2)
    windows = WindowDataset(values, seq_len=4, pred_len=3)
    assert len(windows) == 15 - 4 - 3 + 1
    item = windows[len(windows) - 1]
    np.testing.assert_array_equal(item["x"], values[8:12])
    np.testing.assert_array_equal(item["y"], values[12:15])


def test_windows_reject_short_series():
    with pytest.raises(ValueError, match=r"fewer than seq_len \+ pred_len = 10 \+ 5 = 15"):
        WindowDataset(np.zeros((14, 2)), seq_len=10, pred_len=5)


def test_nan_rejected_by_default():
    values = np.ones((10, 2))
    values[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN entries in 1 rows \(rows 3\).*nan='interpolate'"):
        fill_gaps(values)


def test_nan_interpolated_linearly():
    values = np.stack([np.arange(10.0), np.arange(10.0) * 2], axis=1)
    gappy = values.copy()
    gappy[2:5, 0] = np.nan
    gappy[0, 1] = np.nan
    filled = fill_gaps(gappy, nan="interpolate")
    np.testing.assert_allclose(filled[:, 0], values[:, 0])
    # A gap at the start takes the first observed value.
    assert filled[0, 1] == 2.0


def test_nan_channel_all_missing_rejected():
    values = np.ones((5, 2))
    values[:, 1] = np.nan
    with pytest.raises(ValueError, match="channel 1 of history is NaN at every step"):
        fill_gaps(values, nan="interpolate")


def test_infinite_values_rejected():
    with pytest.raises(ValueError, match="infinite"):
        fill_gaps(np.array([[1.0], [np.inf]]))


def test_constant_channel_standardises_to_zeros():
    train = np.stack([np.full(50, 3.5), np.linspace(0, 1, 50)], axis=1)
    with pytest.warns(ConstantChannelWarning, match=r"channels \[0\]"):
        scaler = Standardizer.fit(train)
    scaled = scaler.transform(train)
    assert np.all(np.isfinite(scaled))
    np.testing.assert_array_equal(scaled[:, 0], 0.0)
    np.testing.assert_allclose(scaler.inverse(scaled), train)


def test_ett_split_borders():
    borders = split_borders(17420, seq_len=96, split="ett")
    assert borders["train"] == (0, 8640)
    assert borders["val"] == (8640 - 96, 8640 + 2880)
    assert borders["test"] == (11520 - 96, 14400)


def test_ett_split_rejects_short_series():
    with pytest.raises(ValueError, match="the ETT split needs 14400 hourly rows"):
        split_borders(10000, seq_len=96, split="ett")


def test_ratio_split_borders():
    borders = split_borders(1000, seq_len=10, split="ratio")
    assert borders == {"train": (0, 700), "val": (690, 800), "test": (790, 1000)}


def test_csv_with_time_column(tmp_path):
    path = tmp_path / "probes.csv"
    frame = write_csv(path)
    series = read_csv_series(path)
    assert series.channels == ["probe_0", "probe_1"]
    np.testing.assert_allclose(series.values, frame[["probe_0", "probe_1"]].to_numpy())
    np.testing.assert_allclose(series.times, frame["time"].to_numpy())


def test_csv_without_time_column(tmp_path):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="has no time column"):
        read_csv_series(path)


def test_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_csv_series(tmp_path / "absent.csv")


def test_csv_nan_interpolated(tmp_path):
    path = tmp_path / "gappy.csv"
    frame = write_csv(path, time_name="date")
    frame.loc[5, "probe_1"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match="NaN"):
        read_csv_series(path)
    series = read_csv_series(path, nan="interpolate")
    assert np.all(np.isfinite(series.values))


def test_csv_ratio_split_standardised(tmp_path):
    path = tmp_path / "probes.csv"
    write_csv(path, steps=400)
    data = load_forecast_csv(path, seq_len=24, pred_len=12)
    train = data.splits["train"]
    assert train.shape == (280, 2)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-12)


def test_etth1_split_keeps_every_test_window(reference_data):
    data = load_forecast_csv(reference_data / "ett" / "ETTh1.csv", seq_len=96, pred_len=96)
    assert data.channels == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    train_rows, _, _ = ETT_HOURLY_BORDERS
    assert data.splits["train"].shape == (train_rows, 7)
    np.testing.assert_allclose(data.splits["train"].mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(data.splits["train"].std(axis=0), 1.0, atol=1e-9)
    assert len(data.dataset("test", 96, 96)) == 2880 - 96 + 1
    assert len(data.dataset("val", 96, 720)) == 2880 - 720 + 1
