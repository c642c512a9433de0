"""Importers of neuraloperator and PDEBench files, and the PDEBench exporter."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurosolve.data import FieldDataset, open_dataset
from neurosolve.data.exporters import export_pdebench
from neurosolve.data.generators.darcy import generate_darcy
from neurosolve.data.generators.heat import generate_heat
from neurosolve.data.importers import read_neuralop_darcy, read_pdebench, write_imported


@pytest.mark.parametrize("name, samples, size", [
    ("darcy_test_16.pt", 50, 16),
    ("darcy_test_32.pt", 50, 32),
    ("darcy_train_16.pt", 1000, 16),
])
def test_neuralop_files_import(reference_data, name, samples, size):
    pytest.importorskip("torch")
    ds = read_neuralop_darcy(reference_data / "neuralop-darcy" / name)
    assert ds["coefficient"].shape == (samples, size, size)
    assert ds["solution"].dims == ("sample", "y", "x")
    assert set(np.unique(ds["coefficient"].values)) == {3.0, 12.0}
    assert np.isfinite(ds["solution"].values).all()
    assert float(ds["solution"].values.std()) > 0


def test_neuralop_import_round_trip(reference_data, tmp_path):
    torch = pytest.importorskip("torch")
    source = reference_data / "neuralop-darcy" / "darcy_test_32.pt"
    raw = torch.load(source, weights_only=True)
    out = write_imported(read_neuralop_darcy(source), tmp_path / "n.h5")
    ds = open_dataset(out)
    assert ds.attrs["generator"] == "neuralop-darcy"
    assert np.array_equal(ds["solution"].values, raw["y"].numpy())
    assert np.array_equal(ds["coefficient"].values == 12.0, raw["x"].numpy())
    train = FieldDataset(out, "train")
    assert len(train) == 40
    assert train[0]["x"].shape == (1, 32, 32)


def test_pdebench_darcy_round_trip(tmp_path):
    path = generate_darcy(3, 17, 0, tmp_path / "d.h5", progress=False)
    exported = export_pdebench(path, tmp_path / "pdebench.h5")
    with h5py.File(exported) as f:
        assert f["nu"].shape == (3, 17, 17)
        assert f["tensor"].shape == (3, 1, 17, 17)
        assert f["x-coordinate"].shape == (17,)
    back = read_pdebench(exported)
    original = open_dataset(path)
    assert np.array_equal(back["coefficient"].values, original["coefficient"].values)
    assert np.array_equal(back["solution"].values, original["solution"].values)


def test_pdebench_axis_order(tmp_path):
    # A field that varies only along x: PDEBench stores it as tensor[..., x, y].
    nx, ny = 6, 4
    x = np.linspace(0, 1, nx)
    tensor = np.broadcast_to(x[:, None], (nx, ny))[None, None].astype(np.float32)
    path = tmp_path / "one.h5"
    with h5py.File(path, "w") as f:
        f["tensor"] = np.repeat(tensor, 3, axis=1)
        f["x-coordinate"] = x
        f["y-coordinate"] = np.linspace(0, 1, ny)
        f["t-coordinate"] = np.array([0.0, 0.5, 1.0])
    ds = read_pdebench(path)
    assert ds["solution"].dims == ("sample", "time", "y", "x")
    assert ds["solution"].shape == (1, 3, ny, nx)
    assert np.allclose(ds["solution"].values[0, 0, 0], x)
    assert np.allclose(ds["time"].values, [0.0, 0.5, 1.0])


def test_pdebench_time_series_export(tmp_path):
    path = generate_heat(2, 9, 0, tmp_path / "h.h5", progress=False, steps=3)
    back = read_pdebench(export_pdebench(path, tmp_path / "heat.h5"))
    original = open_dataset(path)
    assert back["solution"].shape == (2, 4, 9, 9)
    assert np.array_equal(back["solution"].values[:, 0], original["initial"].values)
    assert np.array_equal(back["solution"].values[:, 1:], original["temperature"].values)


def test_pdebench_rejects_per_sample_groups(tmp_path):
    path = tmp_path / "groups.h5"
    with h5py.File(path, "w") as f:
        f["0000/data"] = np.zeros((2, 4, 4, 1))
    with pytest.raises(ValueError, match="tensor"):
        read_pdebench(path)


def test_neuralop_high_phase_is_true(reference_data):
    pytest.importorskip("torch")
    from neurosolve.data.generators.darcy import solve_poisson_grid

    ds = read_neuralop_darcy(reference_data / "neuralop-darcy" / "darcy_test_32.pt")
    for i in range(4):
        a = ds["coefficient"].values[i].astype(np.float64)
        stored = ds["solution"].values[i, 1:-1, 1:-1].ravel()
        as_imported = solve_poisson_grid(a, 1.0, (32, 32))[1:-1, 1:-1].ravel()
        swapped = solve_poisson_grid(15.0 - a, 1.0, (32, 32))[1:-1, 1:-1].ravel()
        # The phase mapping that reproduces the stored solutions correlates far better.
        assert np.corrcoef(as_imported, stored)[0, 1] > 0.75
        assert np.corrcoef(as_imported, stored)[0, 1] > np.corrcoef(swapped, stored)[0, 1] + 0.2
