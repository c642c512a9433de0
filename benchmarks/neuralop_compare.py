"""Compare neurosolve's TFNO with the neuraloperator library's TFNO on its small Darcy set.

Both models train in this one run with the same trainer, data, normalisers, loss (relative
H1), optimiser, schedule, batch size, seed and number of epochs; our TFNO's Tucker rank is
chosen so that its parameter count matches theirs. The two trainings alternate epoch by
epoch, so both see the same machine load, and each epoch's wall and CPU time is recorded.
The script trains at 16 x 16 and tests at 16 x 16 and 32 x 32 (zero-shot), then prints a
Markdown table.

Usage::

    python benchmarks/neuralop_compare.py --data ../shared/data/neuralop-darcy --epochs 20

neuraloperator is installed by the ``benchmark`` extra (``pip install -e '.[benchmark]'``);
it is never a dependency of the package itself.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from neurosolve.sciml.fno import TFNO
from neurosolve.sciml.losses import H1Loss, LpLoss
from neurosolve.sciml.normalizers import UnitGaussianNormalizer
from neurosolve.sciml.spectral import count_parameters
from neurosolve.sciml.train_operators import load_fields
from neurosolve.sciml.training import Trainer, TrainingConfig, seed_everything

# neuraloperator's own Darcy example: 16 modes per axis (both signs on the first axis),
# 32 hidden channels, Tucker rank 0.42.
THEIR_SETTINGS = {"n_modes": (16, 16), "hidden_channels": 32, "projection_channel_ratio": 2,
                  "factorization": "tucker", "rank": 0.42}
# The same frequencies in neurosolve's convention: 8 of each sign on the first axis and
# frequencies 0..8 of the real FFT on the last.
OUR_MODES = (8, 9)


def their_model() -> torch.nn.Module:
    from neuralop import models

    return models.TFNO(in_channels=1, out_channels=1, **THEIR_SETTINGS)


def our_model(target_parameters: int) -> tuple[torch.nn.Module, dict]:
    """Return our TFNO with the Tucker rank whose parameter count is closest to the target."""
    best = None
    for rank in np.linspace(0.05, 1.0, 96):
        args = {"n_modes": OUR_MODES, "hidden_channels": 32, "rank": float(rank),
                "lifting_channels": 64, "projection_channels": 64, "domain_padding": 0.0}
        count = count_parameters(TFNO(**args))
        if best is None or abs(count - target_parameters) < abs(best[0] - target_parameters):
            best = (count, args)
    return TFNO(**best[1]), best[1]


class Run:
    """One model's training on the shared data: trainer, loader and normalisers."""

    def __init__(self, model, fields, epochs, batch_size, seed) -> None:
        self.model = model
        self.x_norm = UnitGaussianNormalizer(dims=(0, 2, 3)).fit(torch.from_numpy(fields["x"]))
        self.y_norm = UnitGaussianNormalizer(dims=(0, 2, 3)).fit(torch.from_numpy(fields["y"]))
        h1 = H1Loss()

        def loss(model, batch):
            return h1(self.y_norm.decode(model(batch["x"])), batch["y"])

        x = self.x_norm.encode(torch.from_numpy(fields["x"]))
        data = [{"x": a, "y": b} for a, b in zip(x, torch.from_numpy(fields["y"]), strict=True)]
        self.loader = torch.utils.data.DataLoader(
            data, batch_size=batch_size, shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        config = TrainingConfig(epochs=epochs, learning_rate=2e-3, weight_decay=1e-4,
                                scheduler="cosine", seed=seed, progress=False)
        self.trainer = Trainer(model, loss, config, model_name="comparison", model_args={})
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.train_loss = float("nan")

    def epoch(self) -> None:
        """Train one epoch and record its wall and CPU time."""
        wall, cpu = time.perf_counter(), time.process_time()
        self.train_loss = self.trainer.train_epoch(self.loader)
        self.trainer.epoch += 1
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)

    def results(self, tests) -> dict:
        """Return parameter count, epoch times, final training loss and test errors."""
        h1, l2 = H1Loss(), LpLoss()
        results = {"parameters": count_parameters(self.model),
                   "seconds_per_epoch": float(np.mean(self.wall)),
                   "cpu_seconds_per_epoch": float(np.mean(self.cpu)),
                   "final_train_loss": self.train_loss}
        self.model.eval()
        for name, test in tests.items():
            with torch.no_grad():
                xt = self.x_norm.encode(torch.from_numpy(test["x"]))
                pred = self.y_norm.decode(self.model(xt))
                yt = torch.from_numpy(test["y"])
                results[f"l2_{name}"] = float(l2(pred, yt))
                results[f"h1_{name}"] = float(h1(pred, yt))
        return results


def interleaved_step_seconds(models: dict, batch_size: int, repeats: int = 12) -> dict:
    """Return the median CPU seconds of one forward and backward pass per model.

    The models alternate step by step, so both see the same load on a shared machine, and
    CPU time (not wall time) is measured. The first two steps of each are discarded.
    """
    x = torch.randn(batch_size, 1, 16, 16)
    times: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(repeats):
        for label, model in models.items():
            start = time.process_time()
            model(x).square().mean().backward()
            times[label].append(time.process_time() - start)
    return {label: float(np.median(values[2:])) for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with darcy_train_16.pt etc.")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    folder = Path(args.data)
    train = load_fields(folder / "darcy_train_16.pt")
    tests = {"16": load_fields(folder / "darcy_test_16.pt"),
             "32": load_fields(folder / "darcy_test_32.pt")}

    seed_everything(args.seed)
    theirs = their_model()
    seed_everything(args.seed)
    ours, our_args = our_model(count_parameters(theirs))

    runs = {label: Run(model, train, args.epochs, args.batch_size, args.seed)
            for label, model in (("neurosolve TFNO", ours), ("neuraloperator TFNO", theirs))}
    for epoch in range(args.epochs):
        # Alternate which model goes first, so neither always follows the other.
        order = list(runs.values()) if epoch % 2 == 0 else list(reversed(runs.values()))
        for run in order:
            run.epoch()
    rows = {label: run.results(tests) for label, run in runs.items()}

    steps = interleaved_step_seconds({label: m for label, m in
                                      (("neurosolve TFNO", ours), ("neuraloperator TFNO", theirs))},
                                     args.batch_size)
    for label, seconds in steps.items():
        rows[label]["cpu_seconds_per_step"] = seconds

    print(f"train 1000 samples at 16x16, {args.epochs} epochs, batch {args.batch_size}, "
          f"torch threads {args.threads}; our settings {our_args}; theirs {THEIR_SETTINGS}\n")
    print("| model | parameters | s / epoch (wall) | CPU s / epoch | CPU s / step | L2 test 16 | "
          "H1 test 16 | L2 test 32 | H1 test 32 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, r in rows.items():
        print(f"| {label} | {r['parameters']:,} | {r['seconds_per_epoch']:.2f} | "
              f"{r['cpu_seconds_per_epoch']:.2f} | {r['cpu_seconds_per_step']:.3f} | "
              f"{r['l2_16']:.4f} | {r['h1_16']:.4f} | {r['l2_32']:.4f} | {r['h1_32']:.4f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
