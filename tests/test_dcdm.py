"""DCDM and DCDM-MG: convergence with shipped weights, A-orthogonality, fallbacks, checkpoints."""

import argparse

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from neurosolve import ConvergenceWarning, LinearProblem, solve  # noqa: E402
from neurosolve.sciml.checkpoints import WEIGHTS_DIR as WEIGHTS  # noqa: E402
from neurosolve.sciml.checkpoints import load_model, save_checkpoint  # noqa: E402
from neurosolve.sciml.dcdm.direction import (  # noqa: E402
    NetworkDirection,
    conjugate_direction_loss,
)
from neurosolve.sciml.dcdm.grid import grid_poisson_problem, random_box_obstacles  # noqa: E402
from neurosolve.sciml.dcdm.model import DCDMNet  # noqa: E402
from neurosolve.sciml.dcdm.ritz import lanczos_ritz_vectors, ritz_right_hand_sides  # noqa: E402
from neurosolve.solvers.problems import GridGeometry  # noqa: E402


class ConstantNetwork(torch.nn.Module):
    """Stands in for a network: returns the same value at every grid point."""

    def __init__(self, value: float, dim: int = 2) -> None:
        super().__init__()
        self.value = value
        self.dim = dim

    def forward(self, x):
        return torch.full_like(x[:, :1], self.value)


def obstacle_problem(shape, seed=0):
    mask = random_box_obstacles(shape, 3, np.random.default_rng(seed))
    return grid_poisson_problem(shape, mask, seed=seed)


@pytest.mark.parametrize("method", ["dcdm", "dcdm-mg"])
def test_shipped_2d_untrained_size(method):
    problem = obstacle_problem((48, 48), seed=1)
    result = solve(problem, method=method, rtol=1e-8)
    assert result.converged
    assert result.final_residual <= 1e-8
    assert result.checkpoint.endswith(f"{method}-2d.pt")
    assert result.info["network_calls"] >= result.iterations - result.info["restarts"]


@pytest.mark.parametrize("method", ["dcdm", "dcdm-mg"])
def test_shipped_3d_untrained_size(method):
    problem = obstacle_problem((12, 12, 12), seed=2)
    result = solve(problem, method=method, rtol=1e-8)
    assert result.converged
    assert result.final_residual <= 1e-8


def test_dcdm_on_dolfinx_poisson():
    problems = pytest.importorskip("neurosolve.problems")
    problem = problems.poisson(shape=(40, 40), obstacles=4, seed=0)
    for method in ("dcdm", "dcdm-mg"):
        result = solve(problem, method=method, rtol=1e-8)
        assert result.converged, method


@pytest.mark.parametrize("memory", [1, 2, 4])
def test_directions_are_a_orthogonal(memory):
    problem = obstacle_problem((10, 10), seed=3)
    iterates = [np.zeros(problem.n)]
    network = DCDMNet(dim=2, in_channels=2, channels=4, blocks=1)
    with pytest.warns(ConvergenceWarning):
        solve(
            problem, method="dcdm", network=network, memory=memory, rtol=1e-10, maxiter=12,
            stall_window=100, callback=lambda x: iterates.append(x.copy()),
        )
    points = np.array(iterates)
    steps = np.diff(points, axis=0)
    A = problem.A
    energy = lambda v: np.sqrt(np.einsum("ij,ij->i", v, (A @ v.T).T))  # noqa: E731
    norms = energy(steps)
    gram = steps @ (A @ steps.T) / np.outer(norms, norms)
    # Steps are differences of iterates, so they carry the iterates' rounding errors.
    rounding = 100 * np.finfo(float).eps * energy(points).max()
    for i in range(len(steps)):
        for j in range(max(0, i - memory), i):
            tolerance = rounding / min(norms[i], norms[j])
            assert abs(gram[i, j]) < tolerance, (i, j, gram[i, j], tolerance)


@pytest.mark.parametrize("method", ["dcdm", "dcdm-mg"])
def test_nan_network_falls_back(method):
    problem = obstacle_problem((24, 24), seed=4)
    result = solve(problem, method=method, network=ConstantNetwork(float("nan")), rtol=1e-8,
                   maxiter=2000)
    assert result.converged
    assert result.info["fallbacks"] == result.info["network_calls"]
    assert result.info["fallbacks"] >= 1


@pytest.mark.parametrize("method", ["dcdm", "dcdm-mg"])
def test_constant_network_falls_back(method):
    problem = obstacle_problem((24, 24), seed=5)
    result = solve(problem, method=method, network=ConstantNetwork(1.0), rtol=1e-8,
                   maxiter=2000)
    assert result.converged
    assert result.info["fallbacks"] >= 1


def test_stall_triggers_restart():
    problem = obstacle_problem((24, 24), seed=6)
    # A direction that only ever touches one unknown makes almost no progress.
    single = np.zeros(problem.n)
    single[0] = 1.0
    from neurosolve.solvers.dcdm import conjugate_directions

    output = conjugate_directions(
        problem.matvec, problem.b, lambda r: single * r[0] if r[0] else single,
        lambda r: r, rtol=1e-6, maxiter=3000, stall_window=5,
    )
    assert output.status == 0
    assert output.info["restarts"] >= 1


def test_checkpoint_round_trip_identical(tmp_path):
    torch.manual_seed(0)
    args = {"dim": 2, "in_channels": 2, "channels": 6, "blocks": 1, "correct_channel": None}
    network = DCDMNet(**args)
    path = save_checkpoint(tmp_path / "net.pt", network, model_name="dcdm", model_args=args)
    payload = torch.load(path, weights_only=True)
    assert payload["model_args"] == args
    assert "package_version" in payload
    loaded, _ = load_model(path)

    problem = obstacle_problem((20, 20), seed=7)
    r = np.random.default_rng(0).standard_normal(problem.n)
    before = NetworkDirection(network, problem.geometry)(r)
    after = NetworkDirection(loaded, problem.geometry)(r)
    np.testing.assert_array_equal(before, after)

    with pytest.warns(ConvergenceWarning):
        first = solve(problem, method="dcdm", checkpoint=str(path), rtol=1e-12, maxiter=15)
    with pytest.warns(ConvergenceWarning):
        second = solve(problem, method="dcdm", network=loaded, rtol=1e-12, maxiter=15)
    np.testing.assert_array_equal(first.x, second.x)
    assert first.checkpoint == str(path)


def test_loss_zero_for_exact_inverse():
    problem = obstacle_problem((12, 12), seed=8)
    A = problem.A.tocoo()
    A_torch = torch.sparse_coo_tensor(
        np.stack([A.row, A.col]), A.data, A.shape, check_invariants=True
    ).coalesce()
    b = torch.from_numpy(np.random.default_rng(1).standard_normal((3, problem.n)))
    exact = torch.from_numpy(
        np.stack([sp.linalg.spsolve(problem.A.tocsc(), v) for v in b.numpy()])
    )
    assert conjugate_direction_loss(2.5 * exact, b, A_torch).item() < 1e-12
    assert conjugate_direction_loss(b, b, A_torch).item() > 0.1


def test_ritz_vectors_orthonormal_and_accurate():
    problem = grid_poisson_problem((20, 20))
    values, vectors = lanczos_ritz_vectors(problem.A, 120, np.random.default_rng(0))
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(vectors.shape[1]), atol=1e-12)
    smallest = sp.linalg.eigsh(problem.A, k=1, sigma=0)[0][0]
    assert values[0] == pytest.approx(smallest, rel=1e-8)
    residual = problem.A @ vectors[:, 0] - values[0] * vectors[:, 0]
    assert np.linalg.norm(residual) < 1e-6

    rhs = ritz_right_hand_sides(vectors, 50, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(rhs, axis=1), 1.0)
    low = np.abs(rhs @ vectors[:, :20]).mean()
    high = np.abs(rhs @ vectors[:, -5:]).mean()
    assert low > 4 * high


def test_training_lowers_loss(tmp_path):
    from neurosolve.sciml.dcdm import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    output = tmp_path / "tiny.pt"
    args = parser.parse_args([
        "--n", "12", "--samples", "40", "--ritz", "40", "--epochs", "6", "--layouts", "1",
        "--channels", "6", "--blocks", "1", "--batch-size", "8", "--threads", "1",
        "--learning-rate", "3e-3", "--output", str(output), "--no-progress",
    ])
    assert train.run(args) == 0
    payload = torch.load(output, weights_only=True)
    history = payload["extra"]["history"]
    assert history[-1]["val_loss"] < 0.8 * history[0]["val_loss"]
    assert payload["provenance"]["arguments"]["n"] == [12]


def test_rejects_problem_without_grid():
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10), format="csr")
    for method in ("dcdm", "dcdm-mg"):
        with pytest.raises(ValueError, match="structured grid"):
            solve(LinearProblem(A, np.ones(10)), method=method)


def test_rejects_mask_of_wrong_size():
    problem = grid_poisson_problem((9, 9))
    free = np.ones((9, 9), dtype=bool)
    geometry = GridGeometry(shape=(9, 9), free=free)
    bad = LinearProblem(problem.A, problem.b, geometry=geometry, spd=True)
    with pytest.raises(ValueError, match="unknowns but A has"):
        solve(bad, method="dcdm")
    with pytest.raises(ValueError, match="expected"):
        GridGeometry(shape=(9, 9), free=np.ones((8, 8), dtype=bool))


def test_rejects_checkpoint_of_other_dimension(tmp_path):
    args = {"dim": 3, "in_channels": 2, "channels": 4, "blocks": 1, "correct_channel": None}
    path = save_checkpoint(tmp_path / "3d.pt", DCDMNet(**args), model_name="dcdm",
                           model_args=args)
    with pytest.raises(ValueError, match="3D network but the problem grid is 2D"):
        solve(grid_poisson_problem((9, 9)), method="dcdm", checkpoint=str(path))


def test_rejects_missing_cuda():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        solve(grid_poisson_problem((9, 9)), method="dcdm", device="cuda")


def test_rejects_checkpoint_of_other_method():
    checkpoint = str(WEIGHTS / "dcdm-2d.pt")
    with pytest.raises(ValueError, match="2 input channels, but dcdm-mg needs 3"):
        solve(grid_poisson_problem((9, 9)), method="dcdm-mg", checkpoint=checkpoint)
