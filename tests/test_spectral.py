"""Spectral layers, FNO, TFNO, MG-TFNO and MgNO on synthetic tensors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosolve.sciml import load_model, save_checkpoint  # noqa: E402
from neurosolve.sciml.fno import FNO, TFNO  # noqa: E402
from neurosolve.sciml.mg_tfno import MGTFNO, make_patches, patch_layout  # noqa: E402
from neurosolve.sciml.mgno import MgNO  # noqa: E402
from neurosolve.sciml.spectral import SpectralConv, count_parameters, tucker_rank  # noqa: E402


def test_full_rank_tucker_matches_dense():
    torch.manual_seed(0)
    dense = SpectralConv(3, 4, (5, 6))
    tucker = SpectralConv(3, 4, (5, 6), factorization="tucker", rank=1.0)
    tucker.set_dense_weight(dense.weight.detach())
    tucker.bias.data.copy_(dense.bias.data)
    x = torch.randn(2, 3, 17, 20)
    assert torch.allclose(dense(x), tucker(x), atol=1e-5)


def test_full_rank_tucker_matches_dense_3d():
    torch.manual_seed(1)
    dense = SpectralConv(2, 3, (3, 2, 4))
    tucker = SpectralConv(2, 3, (3, 2, 4), factorization="tucker", rank=1.0)
    tucker.set_dense_weight(dense.weight.detach())
    tucker.bias.data.copy_(dense.bias.data)
    x = torch.randn(1, 2, 9, 6, 7)
    assert torch.allclose(dense(x), tucker(x), atol=1e-5)


def test_spectral_conv_matches_numpy():
    """One mode pair multiplied by a known weight, checked against numpy's FFT."""
    layer = SpectralConv(1, 1, (2, 2), bias=False)
    weight = torch.zeros(layer.weight_shape, dtype=torch.cfloat)
    weight[0, 0, 1, 1] = 2.0 - 1.0j
    layer.set_dense_weight(weight)
    x = torch.randn(1, 1, 8, 9)
    spectrum = np.fft.rfft2(x[0, 0].numpy(), norm="ortho")
    kept = np.zeros_like(spectrum)
    kept[1, 1] = spectrum[1, 1] * (2.0 - 1.0j)
    expected = np.fft.irfft2(kept, s=(8, 9), norm="ortho")
    assert np.allclose(layer(x)[0, 0].detach().numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("shape, modes", [((16, 16), (8, 9)), ((6, 10, 8), (3, 5, 5))])
def test_all_modes_identity_weight(shape, modes):
    """Keeping every frequency with a unit weight reproduces the input."""
    layer = SpectralConv(1, 1, modes, bias=False)
    weight = torch.zeros(layer.weight_shape, dtype=torch.cfloat)
    weight[0, 0] = 1.0
    layer.set_dense_weight(weight)
    x = torch.randn(2, 1, *shape)
    assert torch.allclose(layer(x), x, atol=1e-5)


def test_tucker_rank_fraction():
    shape = (32, 32, 24, 12)
    ranks = tucker_rank(shape, 0.05)
    count = np.prod(ranks) + sum(d * r for d, r in zip(shape, ranks, strict=True))
    assert count <= 0.05 * np.prod(shape)
    assert count >= 0.025 * np.prod(shape)


def test_tfno_tenth_of_fno_parameters():
    fno = FNO(hidden_channels=32, n_modes=(12, 12))
    tfno = TFNO(hidden_channels=32, n_modes=(12, 12), rank=0.05)
    assert count_parameters(tfno) <= 0.1 * count_parameters(fno)


@pytest.mark.parametrize("shape", [(16, 16), (17, 23), (31, 12)])
def test_fno_odd_and_nonsquare_grids(shape):
    model = FNO(hidden_channels=8, n_layers=2, n_modes=(4, 4))
    out = model(torch.randn(2, 1, *shape))
    assert out.shape == (2, 1, *shape)


def test_tfno_3d_grid():
    model = TFNO(hidden_channels=8, n_layers=2, n_modes=(3, 3, 3), rank=0.3)
    out = model(torch.randn(2, 1, 8, 9, 10))
    assert out.shape == (2, 1, 8, 9, 10)


def test_modes_larger_than_grid_rejected():
    model = TFNO(hidden_channels=8, n_layers=1, n_modes=(12, 12))
    with pytest.raises(ValueError, match="too small for n_modes"):
        model(torch.randn(1, 1, 16, 16))


def test_wrong_channel_count_rejected():
    for model in (FNO(hidden_channels=8, n_modes=(4, 4)), MGTFNO(hidden_channels=8,
                  n_modes=(4, 4)), MgNO(hidden_channels=4, levels=3)):
        with pytest.raises(ValueError, match="input channels"):
            model(torch.randn(1, 3, 32, 32))


def test_mg_tfno_grid_too_small_rejected():
    with pytest.raises(ValueError, match="too small for levels=2"):
        MGTFNO(hidden_channels=4, levels=2, n_modes=(1, 1))(torch.randn(1, 1, 7, 16))


def test_mgno_grid_too_small_rejected():
    with pytest.raises(ValueError, match="too small for levels"):
        MgNO(hidden_channels=4, levels=5)(torch.randn(1, 1, 8, 8))


def test_mg_patches_context_windows():
    """Patch 0 at level 0 is the padded top-left corner; level 1 subsamples twice as wide."""
    x = torch.arange(16 * 16, dtype=torch.float32).reshape(1, 1, 16, 16)
    layout = patch_layout(16, 16, levels=1, padding_fraction=0.25)
    patches = make_patches(x, 1, layout)
    assert patches.shape == (4, 2, 12, 12)
    # Patch (1, 1) covers rows 8..15; padded by 2 it spans rows 6..17, zero past the edge.
    assert torch.equal(patches[3, 0, :10, :10], x[0, 0, 6:16, 6:16])
    assert torch.all(patches[3, 0, 10:] == 0)
    # Its level-1 window is centred on the patch centre (12, 12), stride 2, 24 points wide.
    rows = np.arange(12 - 12, 12 + 12, 2)
    inside = rows < 16
    expected = x[0, 0][np.ix_(rows[inside], rows[inside])]
    assert torch.equal(patches[3, 1][np.ix_(inside, inside)], expected)


class FirstChannel(torch.nn.Module):
    def forward(self, x):
        return x[:, :1]


class Capture(FirstChannel):
    def forward(self, x):
        self.seen = x
        return super().forward(x)


@pytest.mark.parametrize("stitching", ["crop", "average"])
def test_mg_tfno_identity_stitching(stitching):
    """With the backbone replaced by a crop of channel 0, stitching rebuilds the input."""
    model = MGTFNO(levels=2, padding_fraction=0.25, stitching=stitching, n_modes=(2, 2))
    model.backbone = FirstChannel()
    x = torch.randn(2, 1, 32, 32)
    assert torch.allclose(model(x), x)


def test_mg_tfno_domain_mask():
    model = MGTFNO(levels=1, padding_fraction=0.25, n_modes=(2, 2), domain_mask=True)
    assert model.backbone.in_channels == 2 * (1 + 3)
    model.backbone = Capture()
    model(torch.randn(1, 1, 16, 16))
    # Channels per level: field, two coordinates, mask. Patch (1, 1) spans rows and
    # columns 6..17 at level 0 (inside: 6..15) and 0..22 by 2 at level 1 (inside: 0..14).
    level0 = (torch.arange(6, 18) < 16).float()
    level1 = (torch.arange(0, 24, 2) < 16).float()
    patches = model.backbone.seen
    assert torch.equal(patches[3, 3], torch.outer(level0, level0))
    assert torch.equal(patches[3, 7], torch.outer(level1, level1))
    corner = (torch.arange(-2, 10) >= 0).float()
    assert torch.equal(patches[0, 3], torch.outer(corner, corner))


def test_mg_tfno_uneven_grid():
    model = MGTFNO(levels=1, hidden_channels=8, n_layers=1, n_modes=(4, 4))
    assert model(torch.randn(1, 1, 30, 21)).shape == (1, 1, 30, 21)


@pytest.mark.parametrize(
    "name, build",
    [
        ("fno", lambda: FNO(hidden_channels=16, n_layers=2, n_modes=(6, 6))),
        ("mg-tfno", lambda: MGTFNO(hidden_channels=16, n_layers=2, n_modes=(5, 5), rank=1.0)),
        ("mgno", lambda: MgNO(hidden_channels=12, n_layers=2, levels=3)),
    ],
)
def test_seeded_overfit_four_samples(name, build):
    torch.manual_seed(0)
    model = build()
    x = torch.randn(4, 1, 16, 16)
    grid = torch.linspace(0, 1, 16)
    y = torch.sin(torch.pi * grid)[None, None, :, None] * torch.sin(torch.pi * grid) * (
        1 + 0.3 * x.mean(dim=(2, 3), keepdim=True)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=400)
    for _ in range(400):
        optimizer.zero_grad()
        error = (model(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)
        error.mean().backward()
        optimizer.step()
        schedule.step()
    final = ((model(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).max()
    assert final < 0.01, f"{name} reached relative L2 {final:.3g}"


def test_save_load_identical_outputs(tmp_path):
    model = MGTFNO(hidden_channels=8, n_layers=2, n_modes=(4, 4), levels=1)
    args = {"hidden_channels": 8, "n_layers": 2, "n_modes": (4, 4), "levels": 1}
    path = save_checkpoint(tmp_path / "m.pt", model, model_name="mg-tfno", model_args=args)
    loaded, payload = load_model(path)
    x = torch.randn(2, 1, 24, 24)
    model.eval()
    assert torch.equal(model(x), loaded(x))
    assert payload["model"] == "mg-tfno"


def test_checkpoint_of_other_architecture_rejected(tmp_path):
    args = {"hidden_channels": 8, "n_layers": 2, "n_modes": (4, 4)}
    path = save_checkpoint(tmp_path / "m.pt", TFNO(**args), model_name="tfno", model_args=args)
    payload = torch.load(path, weights_only=True)
    del payload["state_dict"]["blocks.0.gate"]
    payload["package_version"] = "0.0.1"
    torch.save(payload, path)
    with pytest.raises(ValueError, match="neurosolve 0.0.1.*retrain"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"not a torch file\n", "truncated"])
def test_unreadable_checkpoint_rejected(tmp_path, content):
    path = tmp_path / "m.pt"
    if content == "truncated":
        args = {"hidden_channels": 8, "n_layers": 1, "n_modes": (4, 4)}
        save_checkpoint(path, TFNO(**args), model_name="tfno", model_args=args)
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_model(path)
