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
