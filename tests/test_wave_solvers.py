"""Wave problems through the front door: fem time stepping and the CNN surrogates."""

import numpy as np
import pytest
import xarray as xr

from neurosolve import NeurosolveWarning, problems, solve, write_fields
from neurosolve.sciml.checkpoints import save_checkpoint
from neurosolve.sciml.wave_cnn import WaveCNN


def pulse(n: int = 64) -> np.ndarray:
    y, x = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    return np.exp(-((x - 0.45) ** 2 + (y - 0.55) ** 2) / (2 * 0.05**2))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def fem_result():
    p = problems.wave(initial=pulse(), speed=1.0, dt=0.004, steps=20)
    return solve(p, method="fem")


def untrained_checkpoint(path, boundary="absorbing", courant_range=(0.05, 0.5)):
    args = {"history": 4, "hidden": 4, "layers": 2}
    return save_checkpoint(
        path, WaveCNN(**args), model_name="wave-cnn", model_args=args,
        provenance={"boundary": boundary, "courant_range": list(courant_range)},
    )


def test_fem_series_shape(fem_result):
    assert fem_result.x.shape == (21, 64, 64)
    assert fem_result.converged
    np.testing.assert_array_equal(fem_result.x[0], pulse())
    assert fem_result.info["explicit_stability_limit"] > 0.004


def test_fem_rejects_unstable_dt():
    p = problems.wave(initial=pulse(), speed=1.0, dt=0.02, steps=5)
    with pytest.raises(ValueError, match=r"exceeds the stability limit 0\.01\d+"):
        solve(p, method="fem")


def test_fem_newmark_option(fem_result):
    p = problems.wave(initial=pulse(), speed=1.0, dt=0.004, steps=20)
    newmark = solve(p, method="fem", scheme="newmark")
    assert newmark.info["scheme"] == "newmark"
    # Both schemes are second order; with c dt / h = 0.25 they agree to a few percent.
    assert relative_error(newmark.x[-1], fem_result.x[-1]) < 0.05


def test_surrogate_starts_from_fem_steps(tmp_path, fem_result):
    path = untrained_checkpoint(tmp_path / "w.pt")
    p = problems.wave(initial=pulse(), speed=1.0, dt=0.004, steps=20)
    result = solve(p, method="wave-cnn-compressed", checkpoint=str(path))
    assert result.x.shape == (21, 64, 64)
    np.testing.assert_allclose(result.x[:4], fem_result.x[:4], rtol=0, atol=1e-12)
    # An untrained model returns the leapfrog extrapolation of the last two fields.
    np.testing.assert_allclose(result.x[4], 2 * result.x[3] - result.x[2], atol=1e-5)
    assert result.info["fem_steps"] == 3
    assert result.info["surrogate_steps"] == 17
    assert result.checkpoint == str(path)


def test_surrogate_rejects_other_boundary(tmp_path):
    path = untrained_checkpoint(tmp_path / "w.pt")
    p = problems.wave(initial=pulse(17), speed=1.0, dt=0.01, steps=5, boundary="reflecting")
    with pytest.raises(ValueError, match="trained with absorbing boundaries"):
        solve(p, method="wave-cnn", checkpoint=str(path))


def test_surrogate_warns_outside_training(tmp_path):
    path = untrained_checkpoint(tmp_path / "w.pt", courant_range=(0.05, 0.1))
    p = problems.wave(initial=pulse(17), speed=1.0, dt=0.01, steps=5)
    with pytest.warns(NeurosolveWarning, match="outside the range"):
        solve(p, method="wave-cnn", checkpoint=str(path))


@pytest.mark.parametrize("method", ["wave-cnn", "wave-cnn-compressed"])
def test_shipped_surrogates_track_fem(method, fem_result):
    p = problems.wave(initial=pulse(), speed=1.0, dt=0.004, steps=20)
    result = solve(p, method=method)
    assert result.x.shape == (21, 64, 64)
    reference = fem_result.x
    # Index 5 is the second surrogate step and index 20 the 17th. Measured errors of the
    # shipped weights: 0.0014 and 0.065 (wave-cnn), 0.0015 and 0.062 (compressed).
    assert relative_error(result.x[5], reference[5]) < 0.01
    assert relative_error(result.x[20], reference[20]) < 0.3
    # The network must beat the leapfrog extrapolation u_{n+1} = 2 u_n - u_{n-1} alone.
    leapfrog = [reference[2], reference[3]]
    for _ in range(2):
        leapfrog.append(2 * leapfrog[-1] - leapfrog[-2])
    assert relative_error(result.x[5], reference[5]) < 0.5 * relative_error(
        leapfrog[-1], reference[5]
    )


def test_write_fields_time_axis(tmp_path, fem_result):
    path = write_fields(tmp_path / "wave.h5", fem_result)
    with xr.open_dataset(path, engine="h5netcdf") as data:
        assert data["solution"].dims == ("time", "y", "x")
        np.testing.assert_allclose(data["solution"].values, fem_result.x)


def test_problem_rejects_too_many_fields():
    with pytest.raises(ValueError, match="initial contains 6 fields but steps=4"):
        problems.wave(initial=np.zeros((6, 9, 9)), speed=1.0, dt=0.01, steps=4)
