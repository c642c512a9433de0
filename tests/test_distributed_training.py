"""Training under torchrun: two processes follow the one-process loss curve."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("scripts") / "ddp_train.py"


def run_torchrun(processes: int, out: Path) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={processes}", str(SCRIPT), str(out),
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.mpi
def test_two_processes_match_one(tmp_path):
    one = run_torchrun(1, tmp_path / "one.json")
    two = run_torchrun(2, tmp_path / "two.json")
    assert len(one) == len(two) == 3
    for epoch_one, epoch_two in zip(one, two, strict=True):
        assert epoch_two["train_loss"] == pytest.approx(epoch_one["train_loss"], rel=1e-5)
        assert epoch_two["val_mse"] == pytest.approx(epoch_one["val_mse"], rel=1e-5)
    assert one[-1]["train_loss"] < one[0]["train_loss"]


@pytest.mark.mpi
def test_train_command_under_torchrun(tmp_path):
    from neurosolve.cli import main
    from neurosolve.sciml.checkpoints import load_model

    data = tmp_path / "darcy.h5"
    generate = ["generate", "darcy", "--samples", "8", "--resolution", "17", "--out", str(data)]
    assert main([*generate, "--seed", "0"]) == 0
    out = tmp_path / "fno.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "neurosolve", "train", "fno", "--data", str(data), "--epochs", "1",
        "--batch-size", "2", "--hidden-channels", "4", "--n-modes", "3", "--out", str(out),
        "--no-progress",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    model, payload = load_model(out)
    assert payload["training"]["epochs_done"] == 1
