"""OLinear and DLinear: OrthoTrans bases, NormLin, losses, overfitting and checkpoints."""

import numpy as np
import pytest
import torch

from neurosolve.data.timeseries import WindowDataset
from neurosolve.sciml.checkpoints import load_model
from neurosolve.sciml.dlinear import DLinear, moving_average
from neurosolve.sciml.olinear import NormLin, OLinear, horizon_weighted_l1, orthotrans_basis
from neurosolve.sciml.train_forecast import evaluate_forecaster, train_forecaster


def ar_series(steps: int, channels: int, seed: int = 0) -> np.ndarray:
    """An AR(1) series per channel with different coefficients, so lags correlate."""
    rng = np.random.default_rng(seed)
    series = np.zeros((steps, channels))
    phi = np.linspace(0.5, 0.95, channels)
    for t in range(1, steps):
        series[t] = phi * series[t - 1] + rng.standard_normal(channels)
    return series


def sine_mixture(steps: int) -> np.ndarray:
    t = np.arange(steps)
    return np.stack(
        [
            np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 8),
            np.cos(2 * np.pi * t / 12),
            0.7 * np.sin(2 * np.pi * t / 24 + 1.0) - 0.3 * np.cos(2 * np.pi * t / 6),
        ],
        axis=1,
    )


def test_orthotrans_basis_orthonormal():
    basis, _ = orthotrans_basis(ar_series(2000, 3), 32)
    np.testing.assert_allclose(basis @ basis.T, np.eye(32), atol=1e-10)


def test_orthotrans_diagonalises_correlation():
    series = ar_series(2000, 3)
    basis, correlation = orthotrans_basis(series, 32)
    projected = basis @ correlation @ basis.T
    off_diagonal = projected - np.diag(np.diag(projected))
    assert np.abs(off_diagonal).max() < 1e-10
    eigenvalues = np.diag(projected)
    assert np.all(np.diff(eigenvalues) <= 1e-12), "eigenvalues must decrease"
    # A Pearson correlation matrix has a unit diagonal.
    np.testing.assert_allclose(np.diag(correlation), 1.0, atol=1e-12)


def test_orthotrans_correlation_matches_corrcoef():
    series = ar_series(500, 2)
    _, correlation = orthotrans_basis(series, 8)
    windows = [np.lib.stride_tricks.sliding_window_view(series[:, c], 8) for c in range(2)]
    expected = np.mean([np.corrcoef(w, rowvar=False) for w in windows], axis=0)
    np.testing.assert_allclose(correlation, expected, atol=1e-12)


def test_orthotrans_rejects_short_series():
    with pytest.raises(ValueError, match="at least 33 training steps"):
        orthotrans_basis(ar_series(20, 2), 32)


def test_normlin_rows_positive_sum_one():
    torch.manual_seed(0)
    block = NormLin(channels=5, d_model=8, d_ff=8)
    with torch.no_grad():
        block.weight.mul_(10.0)
    mixing = block.mixing_matrix()
    assert torch.all(mixing > 0)
    torch.testing.assert_close(mixing.sum(dim=1), torch.ones(5), rtol=0, atol=1e-6)


def test_horizon_weighted_l1_weights():
    pred = torch.zeros(1, 4, 1)
    target = torch.ones(1, 4, 1)
    assert horizon_weighted_l1(pred, target, alpha=0.0).item() == pytest.approx(1.0)
    expected = np.mean([1.0, 2**-0.5, 3**-0.5, 4**-0.5])
    assert horizon_weighted_l1(pred, target, alpha=0.5).item() == pytest.approx(expected)


def test_moving_average_keeps_ramp():
    ramp = torch.arange(30, dtype=torch.float32)[None, :, None]
    trend = moving_average(ramp, 5)
    assert trend.shape == ramp.shape
    # Away from the padded ends, the centred average of a ramp is the ramp.
    torch.testing.assert_close(trend[0, 2:-2, 0], ramp[0, 2:-2, 0])


def test_olinear_output_shape():
    model = OLinear(24, 12, 3, d_model=16, d_ff=16, embed_size=2)
    assert model(torch.randn(5, 24, 3)).shape == (5, 12, 3)


def test_olinear_overfits_sine_mixture():
    series = sine_mixture(400)
    windows = WindowDataset(series, 48, 24)
    run = train_forecaster(
        "olinear", windows, epochs=30, learning_rate=2e-3, lr_decay=0.9, seed=0,
        model_args={"d_model": 32, "d_ff": 32, "embed_size": 2, "dropout": 0.0},
    )
    mse = run.history[-1]["train_loss"]
    first = run.history[0]["train_loss"]
    assert mse < 0.1 * first
    x = torch.as_tensor(series[None, -72:-24], dtype=torch.float32)
    with torch.no_grad():
        forecast = run.model(x)[0].numpy()
    error = np.mean((forecast - series[-24:]) ** 2) / np.mean(series[-24:] ** 2)
    assert error < 0.03


def test_dlinear_overfits_sine_mixture():
    series = sine_mixture(400)
    run = train_forecaster(
        "linear", WindowDataset(series, 48, 24), epochs=30, lr_decay=0.9, seed=0
    )
    assert run.history[-1]["train_loss"] < 1e-3


@pytest.mark.parametrize("method", ["olinear", "linear"])
def test_save_load_same_forecast(tmp_path, method):
    windows = WindowDataset(ar_series(300, 3), 32, 8)
    path = tmp_path / f"{method}.pt"
    run = train_forecaster(
        method, windows, epochs=1, seed=0, checkpoint=path,
        model_args={"d_model": 16, "d_ff": 16, "embed_size": 2} if method == "olinear" else {},
    )
    loaded, payload = load_model(path)
    x = torch.as_tensor(ar_series(32, 3, seed=1)[None], dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), run.model(x), rtol=0, atol=0)
    assert payload["model_args"]["pred_len"] == 8
    assert "optimizer" not in payload["extra"]


def test_checkpoint_keeps_bases(tmp_path):
    series = ar_series(300, 3)
    windows = WindowDataset(series, 32, 8)
    path = tmp_path / "olinear.pt"
    train_forecaster(
        "olinear", windows, epochs=1, checkpoint=path, train_series=series,
        model_args={"d_model": 16, "d_ff": 16, "embed_size": 2},
    )
    loaded, _ = load_model(path)
    expected, _ = orthotrans_basis(series, 32)
    np.testing.assert_allclose(loaded.basis_in.numpy(), expected, atol=1e-6)


def test_dlinear_rejects_bad_kernel():
    with pytest.raises(ValueError, match="kernel_size must be positive"):
        DLinear(24, 12, 3, kernel_size=0)


def test_evaluation_keeps_last_partial_batch():
    class Zeros(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0], 4, x.shape[2])

    series = ar_series(50, 2)
    windows = WindowDataset(series, 10, 4)
    assert len(windows) == 37
    metrics = evaluate_forecaster(Zeros(), windows, batch_size=8)
    targets = np.stack([windows[i]["y"] for i in range(len(windows))]).astype(np.float64)
    assert metrics["windows"] == 37
    assert metrics["mse"] == pytest.approx(np.mean(targets**2), rel=1e-6)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(targets)), rel=1e-6)


def test_half_precision_checkpoint_round_trip(tmp_path):
    windows = WindowDataset(ar_series(300, 3), 32, 8)
    small = {"d_model": 16, "d_ff": 16, "embed_size": 2}
    full = train_forecaster(
        "olinear", windows, epochs=1, seed=0, checkpoint=tmp_path / "full.pt", model_args=small
    )
    half = train_forecaster(
        "olinear", windows, epochs=1, seed=0, checkpoint=tmp_path / "half.pt",
        model_args=small, half_precision=True,
    )
    loaded, payload = load_model(tmp_path / "half.pt")
    assert payload["state_dict"]["encode.weight"].dtype == torch.float16
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.as_tensor(ar_series(32, 3, seed=1)[None], dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), half.model(x), rtol=0, atol=0)
        # Rounding to float16 moves the forecast by about its relative precision.
        torch.testing.assert_close(loaded(x), full.model(x), rtol=1e-2, atol=1e-2)
    assert (tmp_path / "half.pt").stat().st_size < 0.7 * (tmp_path / "full.pt").stat().st_size
