"""Validation suites: metrics against hand-computed values, runner, reports and comparison."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from neurosolve import LinearProblem
from neurosolve.cli import main
from neurosolve.validation import (
    catalogue,
    compare_results,
    metrics,
    read_hdf5,
    run_suite,
    write_report,
)
from neurosolve.validation.catalogue import Entry, MissingComponentError, Scenario


def test_relative_l2_hand_computed():
    assert metrics.relative_l2(np.array([3.0, 4.0]), np.array([0.0, 5.0])) == pytest.approx(
        np.sqrt(9 + 1) / 5
    )


def test_relative_h1_linear_field():
    # u = x on a unit-spaced 1D grid: ||u||^2 = 0+1+4+9 = 14, ||u'||^2 = 4; error e = 0.1 u.
    u = np.arange(4.0)
    assert metrics.relative_h1(1.1 * u, u) == pytest.approx(0.1)
    # a constant error c adds c^2 * 4 to the numerator and nothing to the gradient part
    value = metrics.relative_h1(u + 0.5, u)
    assert value == pytest.approx(np.sqrt(0.25 * 4 / (14 + 4)))


def test_rollout_errors_per_step():
    reference = np.ones((3, 2, 2))
    prediction = reference * np.array([1.0, 1.5, 3.0])[:, None, None]
    np.testing.assert_allclose(metrics.rollout_errors(prediction, reference), [0.0, 0.5, 2.0])


def test_mse_mae_hand_computed():
    truth = np.array([[0.0, 1.0], [2.0, 3.0]])
    prediction = np.array([[1.0, 1.0], [2.0, 1.0]])
    assert metrics.mse(prediction, truth) == pytest.approx((1 + 0 + 0 + 4) / 4)
    assert metrics.mae(prediction, truth) == pytest.approx((1 + 0 + 0 + 2) / 4)


def test_metrics_reject_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        metrics.relative_l2(np.zeros(3), np.zeros(4))


def laplacian_2d(n: int) -> sp.csr_matrix:
    one = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    return (sp.kron(one, sp.eye(n)) + sp.kron(sp.eye(n), one)).tocsr()


@pytest.fixture
def small_catalogue(monkeypatch):
    def build(n):
        def make():
            A = laplacian_2d(n)
            b = np.random.default_rng(n).standard_normal(n * n)
            return Scenario(LinearProblem(A, b, name=f"lap-{n}"), "direct", size=n, family="lap")

        return make

    def missing():
        raise MissingComponentError("needs a constructor that is not there")

    entries = {
        "lap-8": Entry("lap-8", "linear", build(8)),
        "lap-16": Entry("lap-16", "linear", build(16), known_failures={"pcg-jacobi": "planted"}),
        "absent": Entry("absent", "linear", missing),
    }
    monkeypatch.setattr(catalogue, "CATALOGUE", entries)
    monkeypatch.setattr("neurosolve.validation.runner.CATALOGUE", entries)
    return entries


def test_runner_records_every_outcome(small_catalogue):
    run = run_suite(["lap-8", "lap-16", "absent"], rtol=1e-8, progress=False)
    rows = {(c.problem, c.method): c for c in run.results}
    assert rows[("absent", "-")].outcome == "missing"
    assert rows[("lap-16", "pcg-jacobi")].outcome == "known failure"
    cg = rows[("lap-16", "cg")]
    assert cg.outcome == "ok"
    assert cg.final_residual <= 1e-8
    assert cg.relative_l2 < 1e-6
    assert cg.residuals[0] == pytest.approx(1.0)


def test_report_files_and_round_trip(small_catalogue, tmp_path):
    run = run_suite(["lap-8", "lap-16"], rtol=1e-8, progress=False)
    written = write_report(run, tmp_path, command=["neurosolve", "validate", "test"])
    for key in ("csv", "markdown", "hdf5"):
        assert written[key].is_file()
    assert any(path.suffix == ".png" for path in written.values())
    table = pd.read_csv(written["csv"])
    back = read_hdf5(written["hdf5"])
    assert list(table["method"]) == list(back["method"])
    np.testing.assert_allclose(table["iterations"], back["iterations"])
    assert "| lap-8 | cg | ok |" in written["markdown"].read_text()


def test_compare_reports_planted_regression(small_catalogue, tmp_path):
    run = run_suite(["lap-8"], rtol=1e-8, progress=False)
    written = write_report(run, tmp_path / "before")
    before = read_hdf5(written["hdf5"])
    after = before.copy()
    index = after.index[after["method"] == "cg"][0]
    after.loc[index, "iterations"] = before.loc[index, "iterations"] * 3
    after.loc[index, "outcome"] = "not converged"
    changes = compare_results(before, after)
    worse = {(c.method, c.metric) for c in changes if c.verdict == "worse"}
    assert ("cg", "iterations") in worse
    assert ("cg", "outcome") in worse
    assert compare_results(before, before) == []


def test_unknown_suite_lists_valid():
    with pytest.raises(ValueError, match="valid suites are"):
        run_suite("nope", progress=False)


def test_smoke_suite_command(tmp_path, reference_data, monkeypatch):
    monkeypatch.setenv("NEUROSOLVE_REFERENCE_DATA", str(reference_data))
    assert main(["validate", "smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "validate-smoke.csv").is_file()
    assert (tmp_path / "validate-smoke.md").is_file()
    assert (tmp_path / "validate-smoke.h5").is_file()
    assert list((tmp_path / "plots-smoke").glob("*.png"))
    table = pd.read_csv(tmp_path / "validate-smoke.csv")
    assert not (table["outcome"] == "missing").any(), table[table["outcome"] == "missing"]
