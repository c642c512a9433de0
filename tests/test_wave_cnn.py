"""Wave CNNs: compressed convolutions, parameter counts, training and rollout."""

import numpy as np
import pytest
import torch

from neurosolve.data.generators.wave import random_pulses, simulate_wave
from neurosolve.sciml.checkpoints import load_model, save_checkpoint
from neurosolve.sciml.compressed_conv import (
    CompressedConv2d,
    compressed_parameter_count,
    full_rank,
)
from neurosolve.sciml.train_wave import make_dataset, rollout_loss
from neurosolve.sciml.training import Trainer, TrainingConfig
from neurosolve.sciml.wave_cnn import WaveCNN, rollout


@pytest.mark.parametrize("form", ["cp", "2way", "2way-shared"])
@pytest.mark.parametrize("in_channels", [3, 8])
def test_full_rank_reproduces_kernel(form, in_channels):
    torch.manual_seed(0)
    dense = torch.nn.Conv2d(in_channels, 6, 5, padding=2).double()
    layer = CompressedConv2d.from_dense(dense.weight, dense.bias, form=form)
    assert layer.rank == full_rank(form, 5, in_channels, 6)
    torch.testing.assert_close(layer.to_dense(), dense.weight, rtol=0, atol=1e-13)
    x = torch.randn(2, in_channels, 11, 9, dtype=torch.float64)
    layer.execution = "factored"
    torch.testing.assert_close(layer(x), dense(x), rtol=0, atol=1e-12)


def test_low_rank_2way_is_svd_truncation():
    torch.manual_seed(1)
    weight = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    layer = CompressedConv2d.from_dense(weight, rank=2, form="2way")
    singular = torch.linalg.svdvals(weight)
    expected = singular[..., 2:].pow(2).sum().sqrt()
    error = (layer.to_dense() - weight).norm()
    torch.testing.assert_close(error, expected, rtol=1e-10, atol=0)


def test_low_rank_shared_is_svd_truncation():
    torch.manual_seed(1)
    weight = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    layer = CompressedConv2d.from_dense(weight, rank=6, form="2way-shared")
    # Shared filters truncate the kernel unfolded over (in, row) x (out, column).
    singular = torch.linalg.svdvals(weight.permute(1, 2, 0, 3).reshape(15, 20))
    expected = singular[6:].pow(2).sum().sqrt()
    error = (layer.to_dense() - weight).norm()
    torch.testing.assert_close(error, expected, rtol=1e-10, atol=0)


def test_shared_full_rank_needs_channels():
    assert full_rank("2way-shared", 5, 3, 8) == 15
    with pytest.raises(ValueError, match="in_channels and out_channels"):
        full_rank("2way-shared", 5)


@pytest.mark.parametrize("form", ["cp", "2way", "2way-shared"])
def test_factored_and_dense_paths_agree(form):
    torch.manual_seed(2)
    layer = CompressedConv2d(4, 5, 3, rank=2, form=form).double()
    x = torch.randn(1, 4, 10, 10, dtype=torch.float64)
    layer.execution = "dense"
    dense = layer(x)
    layer.execution = "factored"
    torch.testing.assert_close(layer(x), dense, rtol=0, atol=1e-12)


def test_compressed_parameter_count_formula():
    model = WaveCNN(history=4, hidden=8, layers=3, kernel_size=5, compression="cp", rank=2)
    # Layers 9 -> 8 -> 8 -> 1 channels; each has out * rank * (in + 2 k) + out parameters.
    by_hand = (8 * 2 * (9 + 10) + 8) + (8 * 2 * (8 + 10) + 8) + (1 * 2 * (8 + 10) + 1)
    assert model.parameter_count() == by_hand
    assert model.expected_parameter_count() == by_hand
    assert model.memory_bytes() == 4 * by_hand
    assert compressed_parameter_count(8, 8, 5, 1, "2way") == 8 * 8 * 1 * 10 + 8


def test_shared_parameter_count_formula():
    model = WaveCNN(history=4, hidden=8, layers=3, kernel_size=5, compression="2way-shared",
                    rank=3)
    # Each layer has rank * k * (in + out) + out parameters: a (k, 1) convolution from in
    # to rank channels and a (1, k) convolution from rank to out channels.
    by_hand = (3 * 5 * (9 + 8) + 8) + (3 * 5 * (8 + 8) + 8) + (3 * 5 * (8 + 1) + 1)
    assert model.parameter_count() == by_hand
    assert model.expected_parameter_count() == by_hand
    assert model.memory_bytes() == 4 * by_hand


@pytest.mark.parametrize(("form", "rank"), [("cp", 4), ("2way-shared", 16)])
def test_default_compression_saves_3x(form, rank):
    full = WaveCNN()
    compressed = WaveCNN(compression=form, rank=rank)
    assert full.parameter_count() == full.expected_parameter_count()
    assert full.parameter_count() >= 3 * compressed.parameter_count()


def test_untrained_model_extrapolates():
    model = WaveCNN(history=3, hidden=4, layers=2)
    states = torch.randn(2, 3, 8, 8)
    courant = torch.full((2, 1, 8, 8), 0.3)
    expected = 2 * states[:, -1:] - states[:, -2:-1]
    torch.testing.assert_close(model(states, courant), expected)


def wave_windows(n: int = 17, steps: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    speed = np.ones((n, n))
    fields = simulate_wave(random_pulses(rng, (n, n)), speed, 0.02, steps)
    courant = speed * 0.02 * (n - 1)
    return fields[None].astype(np.float32), courant[None].astype(np.float32)


def train_small(seed: int, compression: str | None, epochs: int) -> tuple[WaveCNN, dict]:
    torch.manual_seed(seed)
    fields, courant = wave_windows()
    dataset = make_dataset(fields, courant, 3, 1)
    model = WaveCNN(history=3, hidden=8, layers=3, kernel_size=3, compression=compression)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    config = TrainingConfig(epochs=epochs, learning_rate=3e-3, seed=seed, progress=False)
    trainer = Trainer(model, rollout_loss, config, model_name="wave-cnn", model_args={})
    everything = next(iter(torch.utils.data.DataLoader(dataset, batch_size=len(dataset))))
    with torch.no_grad():
        before = rollout_loss(model, everything).item()
    trainer.fit(loader)
    with torch.no_grad():
        after = rollout_loss(model, everything).item()
    return model, {"before": before, "after": after}


@pytest.mark.parametrize("compression", [None, "cp", "2way-shared"])
def test_seeded_model_overfits_few_steps(compression):
    _, losses = train_small(0, compression, epochs=40)
    # Training starts from the leapfrog extrapolation and must beat it by far; measured
    # ratios were 0.010 (dense), 0.032 (cp) and 0.027 (2way-shared).
    assert losses["after"] < 0.1 * losses["before"]


def test_seeded_training_repeats():
    first, _ = train_small(4, "cp", epochs=2)
    second, _ = train_small(4, "cp", epochs=2)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_rollout_rejects_wrong_shape():
    model = WaveCNN(history=4, hidden=4, layers=2)
    with pytest.raises(ValueError, match=r"shape \(3, 16, 16\).*\(4, ny, nx\)"):
        rollout(model, np.zeros((3, 16, 16)), np.ones((16, 16)), 5)
    with pytest.raises(ValueError, match="courant has shape"):
        rollout(model, np.zeros((4, 16, 16)), np.ones((8, 8)), 5)


def test_rollout_step_count():
    model = WaveCNN(history=2, hidden=4, layers=2)
    states = np.random.default_rng(0).standard_normal((2, 9, 9))
    predicted = rollout(model, states, np.full((9, 9), 0.2), 4)
    assert predicted.shape == (4, 9, 9)
    # Untrained, the model extrapolates linearly: u_{n+1} = 2 u_n - u_{n-1}.
    np.testing.assert_allclose(predicted[0], 2 * states[1] - states[0], atol=1e-5)
    np.testing.assert_allclose(predicted[1], 2 * predicted[0] - states[1], atol=1e-5)


@pytest.mark.parametrize("compression", [None, "cp"])
def test_checkpoint_round_trip(tmp_path, compression):
    torch.manual_seed(3)
    args = {"history": 3, "hidden": 6, "layers": 3, "compression": compression, "rank": 2}
    model = WaveCNN(**args)
    torch.nn.init.normal_(model.convs[-1].bias)
    path = save_checkpoint(tmp_path / "w.pt", model, model_name="wave-cnn", model_args=args)
    loaded, payload = load_model(path)
    assert payload["model_args"]["compression"] == compression
    model.eval()
    states, courant = torch.randn(1, 3, 12, 12), torch.full((1, 1, 12, 12), 0.3)
    torch.testing.assert_close(loaded(states, courant), model(states, courant), rtol=0, atol=0)
