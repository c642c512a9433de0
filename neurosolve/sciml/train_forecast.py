"""Training and evaluation of the forecasters, and the ``neurosolve train olinear|linear`` entry.

Both models train with :class:`neurosolve.sciml.training.Trainer` on sliding windows of a
standardised series (see :mod:`neurosolve.data.timeseries`). The epoch with the lowest
validation loss is kept, as the authors' early stopping does. Test metrics are MSE and
MAE on the standardised test split over every window, with no window dropped.

torch is imported inside the functions, so the command line can list this target without it.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.timeseries import ForecastData, WindowDataset, load_forecast_csv

logger = logging.getLogger(__name__)

HELP = "train a forecaster (olinear, or the DLinear-style linear baseline) on a CSV series"
HELPS = {
    "olinear": "train the OLinear forecaster (OrthoTrans and NormLin) on a CSV series",
    "linear": "train the DLinear-style linear forecasting baseline on a CSV series",
}

# Registered model name and the authors' ETTh1 training settings for each method name.
# OLinear's ETTh1 script: batch 32, learning rate 5e-4 (1e-4 at horizon 720) halved every
# epoch, horizon-weighted L1 loss, 30 epochs with patience 8. DLinear's ETTh1 script and
# defaults: batch 32, learning rate 5e-3 halved every epoch, MSE loss, 10 epochs with
# patience 3.
MODELS: dict[str, dict[str, Any]] = {
    "olinear": {
        "model": "olinear", "learning_rate": 5e-4, "loss": "weighted_l1", "epochs": 30,
        "patience": 8,
    },
    "linear": {
        "model": "dlinear", "learning_rate": 5e-3, "loss": "mse", "epochs": 10, "patience": 3,
    },
}

# Model size of the shipped ETTh1 weights and of models trained on a history by the
# solvers. It is smaller than the authors' d_model = 512 and embed_size = 16, so training
# fits a CPU budget and the files stay small.
SMALL_OLINEAR = {"d_model": 128, "d_ff": 128, "embed_size": 2}


def default_learning_rate(method: str, pred_len: int) -> float:
    """Return the authors' learning rate for ``method`` at horizon ``pred_len``."""
    if method == "olinear" and pred_len >= 720:
        return 1e-4
    return float(MODELS[method]["learning_rate"])


@dataclass
class ForecastRun:
    """The outcome of :func:`train_forecaster`.

    Attributes
    ----------
    model : torch.nn.Module
        The model at its best validation epoch, in eval mode.
    history : list of dict
        The trainer's per-epoch records.
    best_epoch : int
    train_seconds : float
        Wall-clock seconds of all epochs, validation included.
    test : dict of str to float
        ``mse`` and ``mae`` on the test split, when one was given.
    checkpoint : Path or None
    """

    model: Any
    history: list[dict[str, float]]
    best_epoch: int
    train_seconds: float
    test: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None


def make_model(
    method: str, seq_len: int, pred_len: int, channels: int, **model_args: Any
) -> tuple[Any, dict[str, Any]]:
    """Build the model behind ``method``; return it and its full constructor arguments."""
    # Importing the model modules registers them with build_model.
    from . import dlinear, olinear  # noqa: F401
    from .checkpoints import build_model

    if method not in MODELS:
        raise ValueError(f"unknown forecaster {method!r}; valid ones are: {', '.join(MODELS)}")
    args = {"seq_len": seq_len, "pred_len": pred_len, "channels": channels, **model_args}
    return build_model(MODELS[method]["model"], **args), args


def batch_loss(method: str):
    """Return the training loss of ``method`` as ``loss(model, batch)``."""
    import torch

    from .olinear import horizon_weighted_l1

    def loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = model(batch["x"])
        if MODELS[method]["loss"] == "weighted_l1":
            return horizon_weighted_l1(pred, batch["y"], alpha=0.5)
        return torch.mean((pred - batch["y"]) ** 2)

    return loss


def evaluate_forecaster(model: Any, dataset: WindowDataset, batch_size: int = 256) -> dict:
    """Return the MSE and MAE of ``model`` over every window of ``dataset``."""
    import torch

    windows: Any = dataset  # a map-style dataset, not a torch.utils.data.Dataset subclass
    loader = torch.utils.data.DataLoader(windows, batch_size=batch_size, shuffle=False)
    model.eval()
    squared, absolute, count = 0.0, 0.0, 0
    with torch.no_grad():
        for batch in loader:
            error = model(batch["x"]) - batch["y"]
            squared += float((error**2).sum())
            absolute += float(error.abs().sum())
            count += error.numel()
    return {"mse": squared / count, "mae": absolute / count, "windows": len(dataset)}


def train_forecaster(
    method: str,
    train: WindowDataset,
    val: WindowDataset | None = None,
    test: WindowDataset | None = None,
    *,
    epochs: int = 30,
    patience: int | None = 8,
    batch_size: int = 32,
    learning_rate: float | None = None,
    lr_decay: float = 0.5,
    seed: int = 0,
    train_series: np.ndarray | None = None,
    model_args: dict[str, Any] | None = None,
    normalizers: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    half_precision: bool = False,
    progress: bool = False,
) -> ForecastRun:
    """Train ``olinear`` or ``linear`` on windows of a standardised series.

    Parameters
    ----------
    method : {"olinear", "linear"}
    train, val, test : WindowDataset
        Windows of the standardised splits. Without ``val`` the last epoch is kept.
    epochs : int
        Maximum number of epochs; 30 as in the authors' ETTh1 runs.
    patience : int or None
        Stop after this many epochs without a lower validation loss (the authors use
        8); None trains all ``epochs``.
    batch_size : int
    learning_rate : float, optional
        By default the authors' rate, see :func:`default_learning_rate`.
    lr_decay : float
        Factor applied to the learning rate after every epoch; the authors halve it.
    seed : int
    train_series : ndarray, shape (time, channels), optional
        The training split for the OrthoTrans bases; by default ``train.values``.
    model_args : dict, optional
        Model options (``d_model``, ``embed_size``, ...) besides the lengths.
    normalizers, provenance : dict, optional
        Stored in the checkpoint.
    checkpoint : path-like, optional
        Where to write the model of the best epoch.
    half_precision : bool
        Round the trained weights to float16 values, evaluate that model and store its
        weights as float16, which halves the checkpoint. Loading casts them back to
        float32 exactly, so the loaded model reproduces the evaluated one.
    progress : bool
        Show a progress bar over the batches.

    Returns
    -------
    ForecastRun
    """
    import torch

    from .checkpoints import save_checkpoint
    from .olinear import OLinear, orthotrans_basis
    from .training import Trainer, TrainingConfig, seed_everything

    seed_everything(seed)
    seq_len, pred_len = train.seq_len, train.pred_len
    channels = train.values.shape[1]
    model, args = make_model(method, seq_len, pred_len, channels, **(model_args or {}))
    if isinstance(model, OLinear):
        series = train.values if train_series is None else train_series
        basis_in, _ = orthotrans_basis(series, seq_len)
        basis_out, _ = orthotrans_basis(series, pred_len)
        model.set_bases(basis_in, basis_out)

    rate = learning_rate or default_learning_rate(method, pred_len)
    config = TrainingConfig(
        epochs=epochs, learning_rate=rate, scheduler="step", step_size=1, gamma=lr_decay,
        seed=seed, progress=progress,
    )
    loss = batch_loss(method)
    trainer = Trainer(
        model, loss, config, model_name=MODELS[method]["model"], model_args=args,
        metrics={"loss": loss, "mse": lambda m, b: torch.mean((m(b["x"]) - b["y"]) ** 2)},
        normalizers=normalizers, provenance=dict(provenance or {}),
    )
    generator = torch.Generator().manual_seed(seed)
    # WindowDataset is map-style without subclassing torch's Dataset, hence Any.
    train_windows: Any = train
    val_windows: Any = val
    train_loader = torch.utils.data.DataLoader(
        train_windows, batch_size=batch_size, shuffle=True, generator=generator
    )
    val_loader = (
        torch.utils.data.DataLoader(val_windows, batch_size=256, shuffle=False)
        if val is not None
        else None
    )

    best_loss, best_epoch, best_state = float("inf"), 0, None
    start = time.perf_counter()
    while trainer.epoch < epochs:
        epoch_start = time.perf_counter()
        record: dict[str, float] = {"epoch": trainer.epoch + 1}
        record["train_loss"] = trainer.train_epoch(train_loader)
        trainer.epoch += 1
        if val_loader is not None:
            record.update({f"val_{k}": v for k, v in trainer.evaluate(val_loader).items()})
        record["seconds"] = time.perf_counter() - epoch_start
        trainer.history.append(record)
        logger.info(
            "%s epoch %d/%d: %s", method, trainer.epoch, epochs,
            ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"),
        )
        score = record.get("val_loss", -trainer.epoch)
        if score < best_loss:
            best_loss, best_epoch = score, trainer.epoch
            best_state = copy.deepcopy(model.state_dict())
        elif patience is not None and trainer.epoch - best_epoch >= patience:
            logger.info("%s: no better validation loss for %d epochs, stopping", method, patience)
            break
    train_seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    if half_precision:
        model.half().float()
    model.eval()

    run = ForecastRun(model, trainer.history, best_epoch, train_seconds)
    if test is not None:
        run.test = evaluate_forecaster(model, test)
    if checkpoint is not None:
        trainer.provenance.update(
            best_epoch=best_epoch, train_seconds=round(train_seconds, 1),
            test_mse=run.test.get("mse"), test_mae=run.test.get("mae"),
        )
        # The optimiser state is left out: it would triple the file and the best epoch
        # is not the last one, so the file is for inference, not for resuming.
        run.checkpoint = save_checkpoint(
            checkpoint, copy.deepcopy(model).half() if half_precision else model,
            model_name=MODELS[method]["model"], model_args=args,
            normalizers=trainer.normalizers,
            training={
                **asdict(config), "epochs_done": trainer.epoch, "half_precision": half_precision
            },
            provenance=trainer.provenance, extra={"history": trainer.history},
        )
    return run


def train_on_data(
    method: str,
    data: ForecastData,
    seq_len: int,
    pred_len: int,
    **options: Any,
) -> ForecastRun:
    """Train ``method`` on the splits of ``data``; see :func:`train_forecaster`."""
    provenance = {
        "source": data.source, "channels": data.channels, "seq_len": seq_len,
        "pred_len": pred_len, **options.pop("provenance", {}),
    }
    return train_forecaster(
        method,
        data.dataset("train", seq_len, pred_len),
        data.dataset("val", seq_len, pred_len),
        data.dataset("test", seq_len, pred_len),
        train_series=data.train_raw,
        normalizers={"scaler": data.scaler.state()},
        provenance=provenance,
        **options,
    )


def add_arguments(parser: argparse.ArgumentParser, model: str = "olinear") -> None:
    """Add the forecaster training options (the same for every ``model``) to ``parser``."""
    parser.add_argument("--csv", required=True, help="CSV file with a date or time column")
    parser.add_argument("--seq-len", type=int, default=96, help="lookback steps (default 96)")
    parser.add_argument("--pred-len", type=int, default=96, help="horizon steps (default 96)")
    parser.add_argument(
        "--split", choices=["ett", "ratio"],
        help="'ett': 12/4/4 months of hourly rows; 'ratio': 70/10/20 percent "
        "(default: 'ett' for ETTh*.csv, else 'ratio')",
    )
    parser.add_argument(
        "--nan", choices=["raise", "interpolate"], default="raise",
        help="reject NaN cells (default) or fill them linearly in time",
    )
    parser.add_argument(
        "--epochs", type=int,
        help="maximum training epochs (default: 30 for olinear, 10 for linear)",
    )
    parser.add_argument(
        "--patience", type=int,
        help="stop after this many epochs without a better validation loss "
        "(default: 8 for olinear, 3 for linear)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="windows per batch (default 32)")
    parser.add_argument(
        "--lr", type=float, help="initial learning rate, halved every epoch (default: authors')"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--d-model", type=int, help="OLinear token width (default 512, the authors')"
    )
    parser.add_argument("--d-ff", type=int, help="OLinear feed-forward width (default 512)")
    parser.add_argument("--embed-size", type=int, help="OLinear embedding size (default 16)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--out", help="checkpoint path (default MODEL-CSVNAME-PREDLEN.pt in the current folder)"
    )
    parser.add_argument(
        "--half-precision", action="store_true",
        help="store the weights rounded to float16, halving the file (metrics are of that model)",
    )
    parser.add_argument("--progress", action="store_true", help="show a progress bar")


def run(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    method = args.model
    data = load_forecast_csv(
        args.csv, args.seq_len, args.pred_len, split=args.split, nan=args.nan
    )
    model_args = {}
    if method == "olinear":
        for key in ("d_model", "d_ff", "embed_size"):
            if getattr(args, key) is not None:
                model_args[key] = getattr(args, key)
    out = args.out or f"{method}-{Path(args.csv).stem.lower()}-{args.pred_len}.pt"
    result = train_on_data(
        method, data, args.seq_len, args.pred_len,
        epochs=MODELS[method]["epochs"] if args.epochs is None else args.epochs,
        patience=MODELS[method]["patience"] if args.patience is None else args.patience,
        batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed,
        model_args=model_args, checkpoint=out, half_precision=args.half_precision,
        progress=args.progress,
        provenance={"csv": str(args.csv), "command": "neurosolve train " + method},
    )
    print(
        f"{method} {Path(args.csv).name} seq_len={args.seq_len} pred_len={args.pred_len}: "
        f"test MSE {result.test['mse']:.4f}, MAE {result.test['mae']:.4f} "
        f"({result.test['windows']} windows), best epoch {result.best_epoch}, "
        f"{result.train_seconds:.0f} s; wrote {result.checkpoint}"
    )
    return 0
