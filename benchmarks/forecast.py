"""Compare olinear, linear and naive forecasts on the test split of a CSV series.

For each horizon, OLinear and the DLinear baseline are trained with the package's own
training function (the one behind ``neurosolve train olinear|linear``), or loaded from
``--checkpoint-dir``, and scored with MSE and MAE on the standardised test split over
every window. The naive forecasts repeat the last input value (and, with ``--period``,
the last season). The Markdown table goes to stdout.

Example (the record in docs/forecasting.md)::

    python benchmarks/forecast.py --csv ../shared/data/ett/ETTh1.csv --threads 1
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch

from neurosolve.data.timeseries import WindowDataset, load_forecast_csv
from neurosolve.sciml.checkpoints import load_model
from neurosolve.sciml.train_forecast import evaluate_forecaster, train_on_data


class NaiveModel(torch.nn.Module):
    """Repeat the last input step, or with ``period`` the last season of the input."""

    def __init__(self, pred_len: int, period: int | None = None) -> None:
        super().__init__()
        self.pred_len = pred_len
        self.period = period

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.period is None:
            return x[:, -1:].expand(-1, self.pred_len, -1)
        steps = x.shape[1] - self.period + torch.arange(self.pred_len) % self.period
        return x[:, steps]


def score(model: torch.nn.Module, test: WindowDataset) -> dict[str, float]:
    start = time.perf_counter()
    metrics = evaluate_forecaster(model, test)
    metrics["eval_seconds"] = time.perf_counter() - start
    return metrics


def run_horizon(args: argparse.Namespace, pred_len: int) -> dict[str, dict[str, float]]:
    data = load_forecast_csv(args.csv, args.seq_len, pred_len, split=args.split, nan=args.nan)
    test = data.dataset("test", args.seq_len, pred_len)
    stem = Path(args.csv).stem.lower()
    rows: dict[str, dict[str, float]] = {}
    for method in ("olinear", "linear"):
        if args.checkpoint_dir:
            path = Path(args.checkpoint_dir) / f"{method}-{stem}-{pred_len}.pt"
            model, payload = load_model(path)
            rows[method] = score(model, test)
            rows[method]["train_seconds"] = payload["provenance"].get("train_seconds", np.nan)
            continue
        model_args = {}
        if method == "olinear":
            model_args = {"d_model": args.d_model, "d_ff": args.d_ff, "embed_size": args.embed_size}
        epochs = args.epochs_olinear if method == "olinear" else args.epochs_linear
        run = train_on_data(
            method, data, args.seq_len, pred_len, epochs=epochs, seed=args.seed,
            model_args=model_args,
        )
        rows[method] = score(run.model, test)
        rows[method]["train_seconds"] = run.train_seconds
    rows["naive"] = score(NaiveModel(pred_len), test)
    if args.period:
        rows[f"naive (period {args.period})"] = score(NaiveModel(pred_len, args.period), test)
    return rows


def markdown(results: dict[int, dict[str, dict[str, float]]]) -> str:
    methods = list(next(iter(results.values())))
    header = "| horizon | " + " | ".join(f"{m} MSE | {m} MAE" for m in methods) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(methods))]
    for horizon, rows in results.items():
        cells = [f"{rows[m]['mse']:.4f} | {rows[m]['mae']:.4f}" for m in methods]
        lines.append(f"| {horizon} | " + " | ".join(cells) + " |")
    means = [
        f"{np.mean([r[m]['mse'] for r in results.values()]):.4f} | "
        f"{np.mean([r[m]['mae'] for r in results.values()]):.4f}"
        for m in methods
    ]
    lines.append("| average | " + " | ".join(means) + " |")
    lines.append("")
    lines.append("| horizon | test windows | olinear train s | linear train s |")
    lines.append("|---|---|---|---|")
    for horizon, rows in results.items():
        lines.append(
            f"| {horizon} | {rows['naive']['windows']} | "
            f"{rows['olinear']['train_seconds']:.0f} | {rows['linear']['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="CSV file with a date or time column")
    parser.add_argument("--horizons", type=int, nargs="+", default=[96, 192, 336, 720])
    parser.add_argument("--seq-len", type=int, default=96)
    parser.add_argument("--split", choices=["ett", "ratio"], help="default: by file name")
    parser.add_argument("--nan", choices=["raise", "interpolate"], default="raise")
    parser.add_argument("--checkpoint-dir", help="evaluate METHOD-CSVNAME-H.pt from here")
    parser.add_argument("--epochs-olinear", type=int, default=8)
    parser.add_argument("--epochs-linear", type=int, default=10)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--d-ff", type=int, default=128)
    parser.add_argument("--embed-size", type=int, default=2)
    parser.add_argument("--period", type=int, help="also score the seasonal naive forecast")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    results = {h: run_horizon(args, h) for h in args.horizons}
    print(markdown(results))
    print(f"\ntotal wall-clock {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
