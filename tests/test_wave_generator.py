"""Finite-element wave time stepping and the wave data set generator."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from neurosolve.data.generators.wave import (
    _step_explicit,
    assemble_wave_operators,
    export_probe_csv,
    generate_wave,
    probe_indices,
    random_pulses,
    simulate_wave,
    stability_limit,
)


def standing_wave_error(n: int, scheme: str) -> float:
    """Error at t = 0.25 of the Neumann mode cos(pi x) cos(pi y) cos(sqrt(2) pi t)."""
    y, x = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    mode = np.cos(np.pi * x) * np.cos(np.pi * y)
    steps = n - 1
    dt = 0.25 / steps
    fields = simulate_wave(mode, np.ones((n, n)), dt, steps, scheme=scheme, boundary="reflecting")
    exact = mode * np.cos(np.sqrt(2) * np.pi * 0.25)
    return float(np.abs(fields[-1] - exact).max())


@pytest.mark.parametrize("scheme", ["explicit", "newmark"])
def test_standing_wave_second_order(scheme):
    coarse, fine = standing_wave_error(33, scheme), standing_wave_error(65, scheme)
    rate = np.log2(coarse / fine)
    assert fine < 1e-3
    # Measured 1.90 (explicit) and 1.83 (Newmark) on these grids; the asymptotic order is 2.
    assert 1.75 < rate < 2.3, f"observed order {rate:.2f}, expected 2"


def test_stability_limit_is_sharp():
    n = 17
    speed = np.ones((n, n))
    operators = assemble_wave_operators(speed, boundary="reflecting")
    limit = stability_limit(operators)
    # The undamped P1 limit on right triangles is close to h / (c sqrt(2)) here.
    assert limit == pytest.approx(1 / 16 / np.sqrt(2), rel=0.1)
    rough = np.random.default_rng(0).standard_normal((1, n * n))
    stable = _step_explicit(operators, rough, 0.98 * limit, 400)
    unstable = _step_explicit(operators, rough, 1.05 * limit, 400)
    assert np.abs(stable[-1]).max() < 10 * np.abs(rough).max()
    assert np.abs(unstable[-1]).max() > 1e3 * np.abs(rough).max()


def test_unstable_dt_names_limit():
    n = 17
    speed = np.ones((n, n))
    limit = stability_limit(assemble_wave_operators(speed))
    with pytest.raises(ValueError, match=f"stability limit {limit:.6g}"):
        simulate_wave(np.zeros((n, n)), speed, 1.1 * limit, 5)
    # The Newmark scheme is unconditionally stable and accepts the same step.
    fields = simulate_wave(np.ones((n, n)), speed, 1.1 * limit, 5, scheme="newmark")
    assert np.all(np.isfinite(fields))


def test_absorbing_boundary_lets_pulse_leave():
    n = 33
    speed = np.ones((n, n))
    pulse = random_pulses(np.random.default_rng(1), (n, n), count=1)
    dt = 0.5 * stability_limit(assemble_wave_operators(speed))
    steps = int(1.5 / dt)
    absorbed = simulate_wave(pulse, speed, dt, steps, boundary="absorbing")
    reflected = simulate_wave(pulse, speed, dt, steps, boundary="reflecting")
    assert np.linalg.norm(absorbed[-1]) < 0.1 * np.linalg.norm(reflected[-1])


def test_continuation_matches_one_run():
    n = 17
    rng = np.random.default_rng(2)
    speed = 1.0 + 0.3 * rng.random((n, n))
    dt = 0.5 * stability_limit(assemble_wave_operators(speed))
    whole = simulate_wave(random_pulses(rng, (n, n)), speed, dt, 30)
    continued = simulate_wave(whole[:5], speed, dt, 30)
    np.testing.assert_allclose(continued, whole, rtol=0, atol=1e-13)


def test_initial_shape_mismatch_rejected():
    with pytest.raises(ValueError, match=r"initial has shape \(8, 9\)"):
        simulate_wave(np.zeros((8, 9)), np.ones((9, 9)), 0.01, 3)


def test_generated_file_layout(tmp_path):
    out = generate_wave(3, 17, 5, tmp_path / "wave.h5", steps=10, comm=None, progress=False)
    with xr.open_dataset(out, engine="h5netcdf") as data:
        assert data["u"].dims == ("sample", "time", "y", "x")
        assert data["u"].shape == (3, 11, 17, 17)
        assert data["probes"].shape == (3, 11, 5)
        assert data.attrs["generator"] == "wave"
        assert int(data.attrs["seed"]) == 5
        settings = json.loads(data.attrs["settings"])
        u, probes = data["u"].values, data["probes"].values
        speed, dt = data["speed"].values, data["dt"].values
    assert settings["boundary"] == "absorbing"
    index = probe_indices((17, 17))
    np.testing.assert_array_equal(probes, u[:, :, index[:, 0], index[:, 1]])
    for sample in range(3):
        limit = stability_limit(assemble_wave_operators(speed[sample].astype(np.float64)))
        assert 0.2 * limit * 0.999 <= dt[sample] <= 0.6 * limit * 1.001


def test_generation_is_reproducible(tmp_path):
    first = generate_wave(2, 9, 3, tmp_path / "a.h5", steps=4, progress=False)
    second = generate_wave(2, 9, 3, tmp_path / "b.h5", steps=4, progress=False)
    with xr.open_dataset(first, engine="h5netcdf") as a:
        u, dt = a["u"].values, a["dt"].values
    with xr.open_dataset(second, engine="h5netcdf") as b:
        np.testing.assert_array_equal(b["u"].values, u)
        np.testing.assert_array_equal(b["dt"].values, dt)


def test_unknown_setting_rejected(tmp_path):
    with pytest.raises(TypeError, match="unknown wave generator settings"):
        generate_wave(1, 9, 0, tmp_path / "w.h5", steps=2, progress=False, pulse_count=3)


def test_probe_csv_columns(tmp_path):
    out = generate_wave(2, 9, 1, tmp_path / "wave.h5", steps=6, progress=False)
    csv = export_probe_csv(out, tmp_path / "probes.csv", sample=1)
    table = pd.read_csv(csv)
    assert list(table.columns) == ["time", *(f"probe_{i}" for i in range(5))]
    with xr.open_dataset(out, engine="h5netcdf") as data:
        expected = data["probes"].values[1]
        dt = float(data["dt"].values[1])
    np.testing.assert_allclose(table["time"], dt * np.arange(7))
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="sample 2 is out of range"):
        export_probe_csv(out, tmp_path / "bad.csv", sample=2)


def test_probe_csv_reads_as_forecast_series(tmp_path):
    from neurosolve.data.timeseries import read_csv_series

    out = generate_wave(1, 9, 2, tmp_path / "wave.h5", steps=8, progress=False)
    series = read_csv_series(export_probe_csv(out, tmp_path / "probes.csv"))
    assert series.channels == [f"probe_{i}" for i in range(5)]
    assert series.values.shape == (9, 5)
