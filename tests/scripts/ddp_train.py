"""Train a small convolutional model for a few steps and write the loss history as JSON.

Run under ``torchrun --nproc_per_node N``; the global batch stays the same for every N, so
the histories of different N must agree to floating-point tolerance.
"""

import json
import sys

import torch

from neurosolve.sciml.distributed import (
    init_distributed,
    is_main_process,
    make_loader,
    shutdown_distributed,
)
from neurosolve.sciml.training import Trainer, TrainingConfig, seed_everything, supervised_loss


def main(out: str) -> None:
    init_distributed()
    torch.set_num_threads(1)
    seed_everything(0)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(32, 1, 8, 8, generator=generator)
    y = torch.roll(x, 1, dims=-1) - 0.5 * x
    dataset = [{"x": x[i], "y": y[i]} for i in range(len(x))]
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(4, 1, 3, padding=1)
    )
    config = TrainingConfig(epochs=3, learning_rate=1e-2, scheduler="none", progress=False)
    trainer = Trainer(
        model, supervised_loss(torch.nn.MSELoss()), config,
        model_name="test-conv", model_args={},
        metrics={"mse": supervised_loss(torch.nn.MSELoss())},
    )
    loader = make_loader(dataset, batch_size=8, shuffle=True, seed=0)
    history = trainer.fit(loader, make_loader(dataset, batch_size=8, shuffle=False))
    if is_main_process():
        with open(out, "w") as handle:
            json.dump(history, handle)
    del trainer
    shutdown_distributed()


if __name__ == "__main__":
    main(sys.argv[1])
