"""The darcy, poisson and heat generators against analytic solutions, and their command."""

from __future__ import annotations

import numpy as np
import pytest

from neurosolve.cli import main
from neurosolve.data import open_dataset
from neurosolve.data.generators.darcy import generate_darcy, solve_poisson_grid
from neurosolve.data.generators.heat import HeatStepper, generate_heat
from neurosolve.data.generators.poisson import (
    boundary_arguments,
    generate_poisson,
    poisson_settings,
    solve_poisson_source,
)


def darcy_series(n: int, a: float, terms: int = 201) -> np.ndarray:
    """Fourier series of -a Laplacian u = 1 on the unit square, u = 0 on the boundary."""
    x = np.linspace(0, 1, n)
    m = np.arange(1, terms, 2)
    sines = np.sin(np.pi * np.outer(x, m))
    weights = 16 / (a * np.pi**4) / (m[:, None] * m[None, :] * (m[:, None] ** 2 + m[None, :] ** 2))
    return sines @ weights @ sines.T


def test_constant_darcy_matches_series():
    errors = []
    for n in (17, 33):
        u = solve_poisson_grid(np.full((n, n), 4.0), 1.0, (n, n))
        errors.append(np.max(np.abs(u - darcy_series(n, 4.0))))
    # P1 nodal error is O(h^2): halving h divides it by about 4 (measured 3.99).
    assert errors[1] < 2e-5
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_darcy_cli_writes_dataset(tmp_path):
    out = tmp_path / "d.h5"
    code = main(
        ["generate", "darcy", "--samples", "8", "--resolution", "32", "--seed", "0",
         "--out", str(out), "--no-progress"]
    )
    assert code == 0
    ds = open_dataset(out)
    assert {"sample", "x", "y"} <= set(ds["coefficient"].dims)
    assert ds["coefficient"].shape == (8, 32, 32)
    assert ds["solution"].shape == (8, 32, 32)
    assert set(np.unique(ds["coefficient"].values)) == {3.0, 12.0}
    u = ds["solution"].values
    assert np.all(u[:, 0, :] == 0)
    assert np.all(u[:, :, -1] == 0)
    # The compliance (integral of u for f = 1) decreases as a grows, so it lies between
    # those of a = 12 and a = 3 everywhere; grid means stand in for the integrals.
    compliance = u.mean(axis=(1, 2))
    assert np.all(compliance > darcy_series(32, 12.0).mean())
    assert np.all(compliance < darcy_series(32, 3.0).mean())
    ds.close()


def test_darcy_same_seed_same_bytes(tmp_path):
    first = generate_darcy(3, 17, 11, tmp_path / "a.h5", progress=False)
    second = generate_darcy(3, 17, 11, tmp_path / "b.h5", progress=False)
    other = generate_darcy(3, 17, 12, tmp_path / "c.h5", progress=False)
    a, b, c = open_dataset(first), open_dataset(second), open_dataset(other)
    assert a["coefficient"].values.tobytes() == b["coefficient"].values.tobytes()
    assert a["solution"].values.tobytes() == b["solution"].values.tobytes()
    assert not np.array_equal(a["coefficient"].values, c["coefficient"].values)


@pytest.mark.parametrize(
    "resolution", [16, pytest.param(512, marks=pytest.mark.slow)]
)
def test_darcy_resolution_range(tmp_path, resolution):
    path = generate_darcy(1, resolution, 0, tmp_path / "d.h5", progress=False)
    ds = open_dataset(path)
    u = ds["solution"].values[0]
    assert u.shape == (resolution, resolution)
    compliance = u.mean()
    assert darcy_series(resolution, 12.0).mean() < compliance
    assert compliance < darcy_series(resolution, 3.0).mean()
    ds.close()


def test_darcy_lognormal_coefficient(tmp_path):
    path = generate_darcy(2, 17, 0, tmp_path / "l.h5", progress=False, coefficient="lognormal")
    ds = open_dataset(path)
    a = ds["coefficient"].values
    assert np.all(a > 0)
    assert np.unique(a).size > 100  # smooth, not two-valued
    assert '"coefficient": "lognormal"' in ds.attrs["settings"]


def test_darcy_rejects_bad_settings(tmp_path):
    with pytest.raises(ValueError, match="unknown darcy settings"):
        generate_darcy(2, 17, 0, tmp_path / "x.h5", progress=False, colour="red")
    with pytest.raises(ValueError, match="resolution"):
        generate_darcy(2, 2, 0, tmp_path / "x.h5", progress=False)


def test_poisson_sample_resolves_identically(tmp_path):
    from scipy.sparse.linalg import spsolve

    from neurosolve.problems.poisson import poisson

    path = generate_poisson(
        2, 17, 4, tmp_path / "p.h5", progress=False, obstacles=3, boundary="mixed"
    )
    ds = open_dataset(path)
    arguments = boundary_arguments("mixed", 2)
    for i in range(2):
        domain = ds["domain"].values[i].astype(bool)
        assert not domain.all()  # three boxes left some obstacle cells
        problem = poisson(
            (17, 17), source=ds["source"].values[i].astype(np.float64), obstacles=~domain,
            **arguments,
        )
        u = problem.to_grid(spsolve(problem.A.tocsc(), problem.b))
        stored = ds["solution"].values[i]
        # The stored source is float32, so the re-solve agrees to single precision.
        assert np.max(np.abs(stored - u)) < 1e-5 * np.max(np.abs(u))
        assert np.all(stored[0, :] == 0)
        assert np.all(stored[:, 0] == 0)
        assert np.array_equal(ds["free"].values[i].astype(bool), problem.geometry.free)


@pytest.mark.parametrize("dimension", [2, 3])
def test_mixed_boundary_manufactured_solution(dimension):
    # u = prod sin(pi x_i / 2) is 0 on the min sides, has zero normal derivative on the
    # max sides and solves -Laplacian u = d (pi / 2)^2 u.
    sizes = (9, 17) if dimension == 3 else (17, 33)
    rms, worst = [], []
    for n in sizes:
        axis = np.sin(np.pi * np.linspace(0, 1, n) / 2)
        exact = axis
        for _ in range(dimension - 1):
            exact = np.multiply.outer(exact, axis)
        source = dimension * (np.pi / 2) ** 2 * exact
        u = solve_poisson_source(source, boundary="mixed")["solution"]
        rms.append(np.sqrt(np.mean((u - exact) ** 2)))
        worst.append(np.max(np.abs(u - exact)))
    # The grid RMS error is second order (ratio about 4 per halving). The maximum sits at
    # the corner where two zero-flux sides meet and converges more slowly (ratio about 3
    # in 2D), so it only gets a bound.
    assert 3.5 < rms[0] / rms[1] < 4.5
    assert worst[1] < (5e-3 if dimension == 3 else 1e-3)


def test_poisson_three_dimensional_shapes(tmp_path):
    path = generate_poisson(1, 9, 0, tmp_path / "p3.h5", progress=False, dimension=3)
    ds = open_dataset(path)
    assert ds["solution"].dims == ("sample", "z", "y", "x")
    assert ds["solution"].shape == (1, 9, 9, 9)
    assert ds["domain"].shape == (1, 8, 8, 8)
    assert float(np.abs(ds["solution"]).max()) > 0


def test_poisson_rejects_bad_settings():
    with pytest.raises(ValueError, match="dimension"):
        poisson_settings(17, dimension=4)
    with pytest.raises(ValueError, match="boundary"):
        poisson_settings(17, boundary="periodic")


def test_heat_mode_decay_first_order():
    n, T = 65, 0.04
    x = np.linspace(0, 1, n)
    mode = np.outer(np.sin(np.pi * x), np.sin(np.pi * x))
    exact = np.exp(-2 * np.pi**2 * T) * mode
    errors = []
    for dt in (2e-3, 1e-3, 5e-4):
        states = HeatStepper((n, n), dt, 1.0).run(mode, int(round(T / dt)))
        errors.append(np.max(np.abs(states[-1] - exact)))
    # Implicit Euler is first order in dt: halving dt halves the error (measured 2.05, 2.13).
    assert 1.8 < errors[0] / errors[1] < 2.3
    assert 1.8 < errors[1] / errors[2] < 2.3
    assert errors[2] < 2e-3


def test_heat_dataset_time_series(tmp_path):
    path = generate_heat(2, 17, 0, tmp_path / "h.h5", progress=False, steps=5, dt=0.01)
    ds = open_dataset(path)
    assert ds["temperature"].dims == ("sample", "time", "y", "x")
    assert np.allclose(ds["time"].values, [0.01, 0.02, 0.03, 0.04, 0.05])
    energy = (ds["temperature"].values ** 2).sum(axis=(2, 3))
    assert np.all(np.diff(energy, axis=1) < 0)  # the heat equation dissipates energy
    assert np.all(ds["initial"].values[:, 0, :] == 0)


def test_inspect_prints_and_plots(tmp_path, capsys):
    path = generate_darcy(3, 17, 0, tmp_path / "d.h5", progress=False)
    png = tmp_path / "d.png"
    assert main(["inspect", str(path), "--plot", str(png)]) == 0
    output = capsys.readouterr().out
    assert "generator: darcy" in output
    assert "samples: 3 of 3 completed" in output
    assert "coefficient" in output
    assert "solution" in output
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_inspect_file_without_samples(tmp_path, capsys):
    import h5py

    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["field"] = np.arange(12.0).reshape(3, 4)
    assert main(["inspect", str(path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if "field" in line][0]
    assert row.split()[1:] == ["3x4", "float64", "0", "11", "5.5", "3.452"]
