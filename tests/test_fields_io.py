"""HDF5 fields: round trips through h5py and xarray, XDMF for meshes, atomic replacement."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree

import h5py
import numpy as np
import pytest
import xarray as xr

import neurosolve
from neurosolve import problems, solve, write_fields
from neurosolve.cli import main
from neurosolve.data.io import atomic_path


@pytest.fixture(scope="module")
def obstacle_result():
    mask = np.zeros((16, 16), dtype=bool)
    mask[6:10, 6:10] = True
    problem = problems.poisson(shape=(17, 17), obstacles=mask, dirichlet={"all": 0, "ymax": 1})
    return solve(problem, "pcg-amg", rtol=1e-9)


def test_result_round_trip_h5py(tmp_path, obstacle_result):
    path = write_fields(tmp_path / "result.h5", obstacle_result)
    problem = obstacle_result.problem
    with h5py.File(path, "r") as handle:
        np.testing.assert_array_equal(handle["solution"][...], problem.to_grid(obstacle_result.x))
        np.testing.assert_array_equal(handle["free"][...], problem.geometry.free)
        assert handle.attrs["method"] == "pcg-amg"
        assert handle.attrs["iterations"] == obstacle_result.iterations
        np.testing.assert_array_equal(handle.attrs["residuals"], obstacle_result.residuals)


def test_result_round_trip_xarray(tmp_path, obstacle_result):
    path = write_fields(tmp_path / "result.h5", obstacle_result)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        assert dataset["solution"].dims == ("y", "x")
        np.testing.assert_allclose(dataset["x"].values, np.linspace(0, 1, 17))
        assert dataset.attrs["rtol"] == 1e-9
        assert dataset.attrs["converged"] == 1
        assert dataset.attrs["neurosolve_version"] == neurosolve.__version__
        provenance = json.loads(dataset.attrs["provenance"])
        assert provenance["shape"] == [17, 17]
        assert provenance["dirichlet"] == {"all": 0, "ymax": 1}
        np.testing.assert_allclose(dataset["solution"].values[-1], 1.0)


def test_fields_3d_and_time_axes(tmp_path):
    fields = {"u": np.random.default_rng(0).random((4, 5, 6)), "v": np.zeros((3, 4, 5, 6))}
    path = write_fields(tmp_path / "fields.h5", fields, attrs={"settings": {"seed": 3}})
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        assert dataset["u"].dims == ("z", "y", "x")
        assert dataset["v"].dims == ("time", "z", "y", "x")
        np.testing.assert_array_equal(dataset["u"].values, fields["u"])
        assert json.loads(dataset.attrs["settings"]) == {"seed": 3}


def test_field_shape_mismatch_rejected(tmp_path, obstacle_result):
    with pytest.raises(ValueError, match="does not fit the grid"):
        write_fields(tmp_path / "bad.h5", obstacle_result, fields={"other": np.zeros((3, 3))})
    assert not (tmp_path / "bad.h5").exists()


def test_mesh_fields_get_xdmf(tmp_path):
    problem = problems.poisson(mesh="unit-square", resolution=0.25)
    result = solve(problem, "direct")
    path = write_fields(tmp_path / "mesh.h5", result)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        nodes = dataset.sizes["node"]
        cells = dataset.sizes["cell"]
        np.testing.assert_array_equal(dataset["solution"].values, problem.to_space(result.x))
    root = ElementTree.parse(tmp_path / "mesh.xdmf").getroot()
    topology = root.find(".//Topology")
    assert topology.get("NumberOfElements") == str(cells)
    assert root.find(".//Geometry/DataItem").text == "mesh.h5:/geometry"
    assert root.find(".//Attribute/DataItem").get("Dimensions") == str(nodes)
    with h5py.File(path, "r") as handle:
        assert handle["topology"].shape == (cells, 3)
        assert handle["topology"][...].max() == nodes - 1


def test_failed_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.h5"
    write_fields(target, {"u": np.ones((3, 3))})
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"partial")
        raise RuntimeError("interrupted")
    with xr.open_dataset(target, engine="h5netcdf") as dataset:
        np.testing.assert_array_equal(dataset["u"].values, np.ones((3, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.h5"]


def test_killed_write_keeps_old_file(tmp_path):
    target = tmp_path / "f.h5"
    write_fields(target, {"u": np.ones((3, 3))})
    # A child process writes new fields and is killed with SIGKILL before the rename.
    script = textwrap.dedent(
        f"""
        import contextlib
        import time
        import numpy as np
        import neurosolve.data.io as io

        original = io.atomic_path

        @contextlib.contextmanager
        def hang_before_rename(path):
            with original(path) as temporary:
                yield temporary
                print("written", flush=True)
                time.sleep(60)

        io.atomic_path = hang_before_rename
        io.write_fields({str(target)!r}, {{"u": np.zeros((50, 50))}})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "written"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with xr.open_dataset(target, engine="h5netcdf") as dataset:
        np.testing.assert_array_equal(dataset["u"].values, np.ones((3, 3)))
    leftovers = [p for p in tmp_path.iterdir() if p.name != "f.h5"]
    assert all(p.name.startswith("f.h5.tmp-") for p in leftovers)
    assert leftovers, "the killed writer should have left its temporary file"


def test_missing_folder_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_fields(tmp_path / "no" / "f.h5", {"u": np.ones((3, 3))})


def test_cli_solve_writes_fields(tmp_path, capsys):
    out = tmp_path / "result.h5"
    code = main(["solve", "--n", "17", "--method", "pcg-amg", "--out", str(out)])
    assert code == 0
    assert "converged True" in capsys.readouterr().out
    with xr.open_dataset(out, engine="h5netcdf") as dataset:
        assert dataset["solution"].shape == (17, 17)
        assert dataset.attrs["method"] == "pcg-amg"


def test_cli_solve_reports_failure(capsys):
    with pytest.warns(neurosolve.ConvergenceWarning):
        code = main(["solve", "--n", "17", "--method", "cg", "--maxiter", "2"])
    assert code == 1
    assert "converged False" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mesh", "unit-disk", "--n", "33"], "--n only applies to the structured grid"),
        (["--mesh", "unit-disk", "--dim", "3", "--n", "9"], "--n, --dim only apply to the"),
        (["--n", "33", "--resolution", "0.1"], "--resolution only applies to --mesh"),
        (["--problem", "pyamg:airfoil", "--n", "33"], "--n only applies to --problem poisson"),
    ],
)
def test_cli_solve_rejects_mixed_geometry(argv, message, capsys):
    assert main(["solve", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_demo_writes_outputs(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path), "--n2", "17", "--n3", "6"])
    table = capsys.readouterr().out
    assert code == 0
    for method in ("direct", "cg", "pcg-jacobi", "amg", "pcg-amg", "petsc"):
        assert f"| {method} |" in table
    assert (tmp_path / "convergence.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "fields" / "poisson-2d-obstacle-17_pcg-amg.h5").exists()
    assert (tmp_path / "fields" / "poisson-3d-6_petsc.h5").exists()


def test_wave_result_has_time_axis(tmp_path):
    geometry = neurosolve.GridGeometry((12, 12))
    initial = np.zeros((12, 12))
    initial[6, 6] = 1.0
    speed = np.ones((12, 12))
    problem = neurosolve.WaveProblem(initial, speed, dt=0.01, steps=3, geometry=geometry)
    result = solve(problem, "fem")
    path = write_fields(tmp_path / "wave.h5", result)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        assert dataset["solution"].dims == ("time", "y", "x")
        np.testing.assert_allclose(dataset["time"].values, [0.0, 0.01, 0.02, 0.03])
        np.testing.assert_array_equal(dataset["solution"].values, result.x)


def test_forecast_result_has_channels(tmp_path):
    history = np.random.default_rng(1).random((40, 2))
    problem = neurosolve.ForecastProblem(history, horizon=5, channels=["load", "temperature"])
    result = solve(problem, "naive")
    path = write_fields(tmp_path / "forecast.h5", result)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        assert dataset["solution"].dims == ("time", "channel")
        assert dataset["channel"].values.tolist() == ["load", "temperature"]
        np.testing.assert_array_equal(dataset["history"].values, history)
        np.testing.assert_array_equal(dataset["solution"].values, result.x)


def test_operator_result_keeps_inputs(tmp_path):
    coefficient = np.where(np.random.default_rng(2).random((17, 17)) > 0.5, 12.0, 3.0)
    problem = problems.darcy(coefficient=coefficient)
    result = solve(problem, "fem")
    path = write_fields(tmp_path / "darcy.h5", result)
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        np.testing.assert_array_equal(dataset["coefficient"].values, coefficient)
        np.testing.assert_array_equal(dataset["solution"].values, result.x)
        assert dataset.attrs["problem_kind"] == "operator"


def test_cli_solve_on_mesh_writes_xdmf(tmp_path):
    out = tmp_path / "plate.h5"
    code = main([
        "solve", "--mesh", "plate-with-holes", "--resolution", "0.1", "--method", "petsc",
        "--out", str(out), "--no-progress",
    ])
    assert code == 0
    assert (tmp_path / "plate.xdmf").exists()
    with xr.open_dataset(out, engine="h5netcdf") as dataset:
        assert dataset["solution"].dims == ("node",)
        assert dataset.attrs["problem"] == "poisson-plate-with-holes"
