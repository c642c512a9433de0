"""Random fields, the HDF5 dataset layout, its readers, reproducibility and resuming."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from neurosolve.data import FieldDataset, open_dataset
from neurosolve.data.layout import DatasetSpec, Variable, open_writer, sample_rng
from neurosolve.data.random_fields import (
    covariance_eigenvalues,
    gaussian_random_field,
    threshold_coefficient,
)


def test_cosine_field_variance_matches_spectrum():
    shape = (24, 24)
    fields = np.array([gaussian_random_field(shape, np.random.default_rng(i)) for i in range(600)])
    k = np.arange(24)
    eigenvalues = covariance_eigenvalues([k, k], alpha=2.0, tau=3.0, scale=np.pi)
    # Pointwise variance of sum_k sqrt(lambda_k) xi_k phi_k(x) is sum_k lambda_k phi_k(x)^2.
    x = np.linspace(0, 1, 24)
    phi = np.cos(np.pi * np.outer(x, k)) * np.where(k == 0, 1.0, np.sqrt(2.0))
    expected = np.einsum("ik,jl,kl->ij", phi**2, phi**2, eigenvalues)
    measured = fields.var(axis=0)
    # 600 draws: the sample variance has a relative standard error of about sqrt(2/600) = 6 %.
    assert np.mean(measured) == pytest.approx(np.mean(expected), rel=0.05)
    assert np.max(np.abs(measured / expected - 1)) < 0.3


def test_fourier_field_zero_mean_and_variance():
    shape = (32, 32)
    fields = np.array(
        [
            gaussian_random_field(shape, np.random.default_rng(i), basis="fourier")
            for i in range(300)
        ]
    )
    k = np.fft.fftfreq(32, d=1 / 32)
    total = covariance_eigenvalues([k, k], alpha=2.0, tau=3.0, scale=2 * np.pi).sum()
    assert np.max(np.abs(fields.mean(axis=(1, 2)))) < 1e-12
    assert fields.var() == pytest.approx(total, rel=0.05)


def test_random_field_same_seed_same_array():
    a = gaussian_random_field((20, 30), np.random.default_rng(7))
    b = gaussian_random_field((20, 30), np.random.default_rng(7))
    c = gaussian_random_field((20, 30), np.random.default_rng(8))
    assert a.shape == (20, 30)
    assert a.tobytes() == b.tobytes()
    assert not np.allclose(a, c)


def test_random_field_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shape"):
        gaussian_random_field((1, 5), rng)
    with pytest.raises(ValueError, match="alpha"):
        gaussian_random_field((8, 8), rng, alpha=-1.0)
    with pytest.raises(ValueError, match="basis"):
        gaussian_random_field((8, 8), rng, basis="wavelet")


def test_threshold_statistics_match_neuralop(reference_data):
    torch = pytest.importorskip("torch")
    data = torch.load(
        reference_data / "neuralop-darcy" / "darcy_test_32.pt", weights_only=True
    )
    theirs = data["x"].numpy().astype(bool)
    ours = np.array(
        [
            threshold_coefficient(gaussian_random_field((32, 32), np.random.default_rng(i))) > 5
            for i in range(200)
        ]
    )
    # Fraction of the high phase, and how often neighbours differ along x and y.
    for stat in (
        lambda a: a.mean(),
        lambda a: (a[:, :, 1:] != a[:, :, :-1]).mean(),
        lambda a: (a[:, 1:, :] != a[:, :-1, :]).mean(),
    ):
        assert stat(ours) == pytest.approx(stat(theirs), rel=0.3)


def small_spec(samples: int = 6, seed: int = 0, **settings) -> DatasetSpec:
    grid = np.linspace(0, 1, 5)
    return DatasetSpec(
        generator="test",
        samples=samples,
        coords={"time": np.array([0.1, 0.2]), "y": grid, "x": grid},
        variables={
            "a": Variable(("y", "x"), role="x"),
            "u": Variable(("time", "y", "x"), role="y"),
        },
        settings={"kind": "test", **settings},
        seed=seed,
    )


def fill(path, spec, indices=None):
    with open_writer(path, spec) as writer:
        for index in writer.missing() if indices is None else indices:
            rng = sample_rng(spec.seed, int(index))
            writer.write_sample(
                int(index),
                {"a": rng.standard_normal((5, 5)), "u": np.full((2, 5, 5), float(index))},
            )


def test_layout_xarray_dims_and_attributes(tmp_path):
    path = tmp_path / "d.h5"
    spec = small_spec()
    fill(path, spec)
    ds = open_dataset(path)
    assert ds["a"].dims == ("sample", "y", "x")
    assert ds["u"].dims == ("sample", "time", "y", "x")
    assert ds["a"].dtype == np.float32
    assert ds.attrs["generator"] == "test"
    assert ds.attrs["x_variables"] == "a"
    assert ds.attrs["y_variables"] == "u"
    assert "neurosolve_version" in ds.attrs
    assert "dolfinx_version" in ds.attrs
    assert ds["completed"].values.tolist() == [1] * 6
    with h5py.File(path) as f:
        assert f["a"].chunks == (1, 5, 5)
        assert f["a"].compression == "gzip"
    ds.close()


def test_field_dataset_splits_and_shapes(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "d.h5"
    fill(path, small_spec(samples=10))
    train = FieldDataset(path, "train")
    validation = FieldDataset(path, "validation")
    test = FieldDataset(path, "test")
    assert (len(train), len(validation), len(test)) == (8, 1, 1)
    item = test[0]
    assert item["x"].shape == (1, 5, 5)
    assert item["y"].shape == (2, 5, 5)
    assert item["y"].dtype == torch.float32
    assert float(item["y"][0, 0, 0]) == 9.0
    loader = torch.utils.data.DataLoader(train, batch_size=4)
    batch = next(iter(loader))
    assert batch["x"].shape == (4, 1, 5, 5)
    with pytest.raises(ValueError, match="split"):
        FieldDataset(path, "holdout")


def test_field_dataset_skips_unwritten_samples(tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "d.h5"
    fill(path, small_spec(samples=10), indices=[0, 2, 4])
    everything = FieldDataset(path, None)
    assert everything.indices.tolist() == [0, 2, 4]
    ds = open_dataset(path, completed_only=True)
    assert ds.sizes["sample"] == 3
    assert np.isnan(open_dataset(path)["a"].values[1]).all()


def test_writer_rejects_bad_fields(tmp_path):
    spec = small_spec()
    with open_writer(tmp_path / "d.h5", spec) as writer:
        with pytest.raises(ValueError, match="shape"):
            writer.write_sample(0, {"a": np.zeros((4, 4)), "u": np.zeros((2, 5, 5))})
        with pytest.raises(ValueError, match="missing"):
            writer.write_sample(0, {"a": np.zeros((5, 5))})
        with pytest.raises(ValueError, match="NaN"):
            writer.write_sample(0, {"a": np.full((5, 5), np.nan), "u": np.zeros((2, 5, 5))})
        with pytest.raises(ValueError, match="outside"):
            writer.write_sample(6, {"a": np.zeros((5, 5)), "u": np.zeros((2, 5, 5))})
        assert writer.missing().tolist() == list(range(6))


def test_resume_rejects_other_settings(tmp_path):
    path = tmp_path / "d.h5"
    fill(path, small_spec(), indices=[0])
    with pytest.raises(ValueError, match="seed"):
        open_writer(path, small_spec(seed=1))
    with pytest.raises(ValueError, match="settings"):
        open_writer(path, small_spec(extra=2))
    with open_writer(path, small_spec(seed=1), overwrite=True) as writer:
        assert len(writer.missing()) == 6


def test_resume_rejects_foreign_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a neurosolve dataset"):
        open_writer(path, small_spec())
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="cannot be read"):
        open_writer(garbage, small_spec())


KILLED_RUN = textwrap.dedent(
    """
    import os, sys
    from neurosolve.data import layout
    from neurosolve.data.generators.darcy import generate_darcy

    original = layout.SampleWriter.write_sample
    written = []

    def write_then_die(self, index, fields):
        if len(written) == 3:
            # Write the fields of the fourth sample, flush, and die before its flag is set.
            for name, values in fields.items():
                self._file[name][index] = values
            self._file.flush()
            os._exit(9)
        written.append(index)
        original(self, index, fields)

    layout.SampleWriter.write_sample = write_then_die
    generate_darcy(7, 17, 3, sys.argv[1], progress=False)
    """
)


def test_killed_run_resumes_without_gaps(tmp_path):
    from neurosolve.data.generators.darcy import generate_darcy

    path = tmp_path / "killed.h5"
    run = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(path)], capture_output=True, text=True,
        timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 9, run.stderr
    interrupted = open_dataset(path)
    assert interrupted["completed"].values.tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert np.isfinite(interrupted["solution"].values[3]).all()  # written but not flagged
    interrupted.close()

    generate_darcy(7, 17, 3, path, progress=False)
    clean = generate_darcy(7, 17, 3, tmp_path / "clean.h5", progress=False)
    resumed_ds, clean_ds = open_dataset(path), open_dataset(clean)
    assert resumed_ds["completed"].values.tolist() == [1] * 7
    for name in ("coefficient", "solution"):
        assert resumed_ds[name].values.tobytes() == clean_ds[name].values.tobytes()


def test_failed_sample_keeps_earlier_ones(tmp_path):
    from neurosolve.data.generators.base import run_generator

    spec = small_spec(samples=6)

    def solve(index, rng):
        if index == 3:
            raise ArithmeticError("sample three is broken")
        return {"a": np.zeros((5, 5)), "u": np.full((2, 5, 5), float(index))}

    path = tmp_path / "d.h5"
    with pytest.raises(RuntimeError, match="sample 3 failed: ArithmeticError"):
        run_generator(path, spec, solve, progress=False)
    ds = open_dataset(path)
    assert ds["completed"].values.tolist() == [1, 1, 1, 0, 0, 0]
    ds.close()


def test_field_dataset_is_torch_dataset(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "d.h5"
    fill(path, small_spec(samples=10))
    train = FieldDataset(path, "train")
    assert isinstance(train, torch.utils.data.Dataset)
    # DataLoader workers receive the dataset pickled; the class must be found by name.
    copy = pickle.loads(pickle.dumps(train))
    assert type(copy) is type(train)
    assert copy[3]["y"].equal(train[3]["y"])
    batches = list(torch.utils.data.DataLoader(train, batch_size=4))
    assert [b["y"].shape[0] for b in batches] == [4, 4]
    assert sorted(float(v) for b in batches for v in b["y"][:, 0, 0, 0]) == list(range(8))


def test_generate_imports_no_torch():
    code = (
        "import sys, neurosolve.data, neurosolve.commands.generate, "
        "neurosolve.data.generators.darcy; print('torch' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
