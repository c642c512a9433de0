"""Training of the wave CNNs: ``neurosolve train wave-cnn|wave-cnn-compressed``.

Training has two phases with the shared :class:`~neurosolve.sciml.training.Trainer`:
first a one-step loss on windows of ``history`` fields and their next fields, then a
rollout loss that feeds the model its own predictions for ``rollout_steps`` steps. Both
losses are mean squared errors in units of each window's largest input amplitude. The
checkpoint of the second phase stores the first phase's history in its provenance.

This module imports torch only inside its functions, but importing it imports
:mod:`neurosolve.sciml`, which imports torch.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

HELP = "train a wave CNN (full or a priori compressed) on a wave data set"
HELPS = {
    "wave-cnn": "train the full wave CNN surrogate on a wave data set",
    "wave-cnn-compressed": "train the a priori compressed wave CNN (1-way filters) on a wave "
                           "data set",
}


def load_wave_data(path: str | Path) -> dict[str, Any]:
    """Read a wave data set from ``neurosolve generate wave`` as float32 arrays.

    Returns a dict with ``u (sample, time, y, x)``, ``courant (sample, y, x)`` (the local
    ``c dt / h``), ``split (sample)`` (0 train, 1 validation, 2 test), ``spacing`` and
    the generator's ``settings``.
    """
    import json

    import xarray as xr

    with xr.open_dataset(path, engine="h5netcdf") as data:
        done = data["completed"].values.astype(bool)
        if not done.all():
            raise ValueError(
                f"{path} has {int((~done).sum())} unfinished samples; rerun the generate "
                f"command to complete it"
            )
        fields = data["u"].values.astype(np.float32)
        speed = data["speed"].values.astype(np.float64)
        dt = data["dt"].values.astype(np.float64)
        split = data["split"].values.astype(np.int64)
        y, x = data["y"].values, data["x"].values
        settings = json.loads(data.attrs["settings"])
    spacing = float(min(y[1] - y[0], x[1] - x[0]))
    courant = (speed * dt[:, None, None] / spacing).astype(np.float32)
    return {"u": fields, "courant": courant, "split": split, "spacing": spacing,
            "settings": settings, "seed": int(data.attrs.get("seed", -1))}


def _windows(fields: np.ndarray, length: int, stride: int) -> list[tuple[int, int]]:
    count, times = fields.shape[:2]
    return [(s, t) for s in range(count) for t in range(0, times - length + 1, stride)]


def make_dataset(fields: np.ndarray, courant: np.ndarray, history: int, future: int,
                 stride: int = 1) -> Any:
    """Return a torch dataset of ``{"states", "target", "courant"}`` windows."""
    import torch

    u = torch.from_numpy(fields)
    c = torch.from_numpy(courant)
    index = _windows(fields, history + future, stride)

    class Windows(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(index)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            s, t = index[i]
            return {
                "states": u[s, t:t + history],
                "target": u[s, t + history:t + history + future],
                "courant": c[s][None],
            }

    return Windows()


def _rollout_prediction(model: Any, batch: dict[str, Any]) -> Any:
    """Feed the model its own predictions until it has as many fields as the target."""
    import torch

    states, target, courant = batch["states"], batch["target"], batch["courant"]
    window, predicted = states, []
    produced = 0
    while produced < target.shape[1]:
        new = model(window, courant)
        predicted.append(new)
        produced += new.shape[1]
        window = torch.cat([window, new], dim=1)[:, -model.history:]
    return torch.cat(predicted, dim=1)[:, : target.shape[1]]


def rollout_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean squared error of an autoregressive rollout over the batch's target fields.

    Errors are divided by each window's largest input amplitude, so every window counts
    alike whatever its amplitude. With one target field this is the one-step loss.
    """
    states, target = batch["states"], batch["target"]
    scale = states.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    return (((_rollout_prediction(model, batch) - target) / scale) ** 2).mean()


def relative_error(model: Any, batch: dict[str, Any]) -> Any:
    """Relative L2 error of the rollout over the batch's target fields, averaged."""
    target = batch["target"]
    diff = (_rollout_prediction(model, batch) - target).flatten(1).norm(dim=1)
    return (diff / target.flatten(1).norm(dim=1).clamp_min(1e-12)).mean()


def train_wave_cnn(
    data: str | Path,
    out: str | Path,
    *,
    compression: str | None = None,
    rank: int = 4,
    hidden: int = 32,
    layers: int = 4,
    kernel_size: int = 5,
    history: int = 4,
    epochs: int = 8,
    rollout_epochs: int = 2,
    rollout_steps: int = 3,
    batch_size: int = 16,
    windows_per_epoch: int | None = 384,
    learning_rate: float = 1e-3,
    seed: int = 0,
    init: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train a :class:`~neurosolve.sciml.wave_cnn.WaveCNN` and write its checkpoint.

    Parameters
    ----------
    data : path
        HDF5 file from ``neurosolve generate wave``. The model trains on its train split;
        the one-step relative L2 error on the validation split is logged each epoch.
    out : path
        Checkpoint to write (after every epoch of the rollout phase).
    compression, rank, hidden, layers, kernel_size, history
        Model settings; see :class:`~neurosolve.sciml.wave_cnn.WaveCNN`.
    epochs : int
        Epochs of the one-step phase.
    rollout_epochs, rollout_steps : int
        Epochs of the rollout phase and the number of fields each of its windows predicts.
    batch_size : int
    windows_per_epoch : int or None
        Windows drawn at random per epoch, or None for all of them.
    learning_rate : float
        Initial Adam learning rate of both phases (cosine schedule).
    seed : int
        Seed of the initial weights and the window order.
    init : path, optional
        Checkpoint of a model with the same settings to start from instead of random
        weights, for example to continue with longer rollouts.
    progress : bool

    Returns
    -------
    dict
        ``"history"`` (per-epoch records of both phases), ``"checkpoint"`` and
        ``"seconds_per_epoch"`` (mean over both phases).
    """
    import torch

    from .training import Trainer, TrainingConfig, seed_everything
    from .wave_cnn import WaveCNN

    seed_everything(seed)
    loaded = load_wave_data(data)
    fields, courant = loaded["u"], loaded["courant"]
    split = loaded["split"]
    train_ids, val_ids = np.flatnonzero(split == 0), np.flatnonzero(split == 1)
    if train_ids.size == 0:
        raise ValueError(f"{data} has no training samples (split 0); generate more samples")

    model_args: dict[str, Any] = {
        "history": history, "outputs": 1, "hidden": hidden, "layers": layers,
        "kernel_size": kernel_size, "compression": compression, "rank": rank,
    }
    model = WaveCNN(**model_args)
    if init is not None:
        from .checkpoints import load_checkpoint

        start_payload = load_checkpoint(init)
        if start_payload["model_args"] != model_args:
            raise ValueError(
                f"init checkpoint {str(init)!r} has model settings "
                f"{start_payload['model_args']}, which differ from {model_args}"
            )
        model.load_state_dict(start_payload["state_dict"])
    provenance = {
        "data": str(Path(data).resolve()),
        "data_seed": loaded["seed"],
        "boundary": str(loaded["settings"].get("boundary", "absorbing")),
        "courant_range": [float(courant[train_ids].min()), float(courant[train_ids].max())],
        "init": None if init is None else str(Path(init).resolve()),
        "train_samples": train_ids.tolist(),
        "validation_samples": val_ids.tolist(),
    }

    def loader(ids: np.ndarray, future: int, shuffle: bool) -> Any:
        dataset = make_dataset(fields[ids], courant[ids], history, future)
        generator = torch.Generator().manual_seed(seed)
        if shuffle and windows_per_epoch is not None and windows_per_epoch < len(dataset):
            sampler = torch.utils.data.RandomSampler(
                dataset, num_samples=windows_per_epoch, generator=generator
            )
            return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler)
        return torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle, generator=generator
        )

    metrics: dict[str, Any] = {"relative_l2_one_step": relative_error}
    val_loader = loader(val_ids, 1, False) if val_ids.size else None
    one_step = Trainer(
        model, rollout_loss, TrainingConfig(epochs=epochs, learning_rate=learning_rate,
                                            seed=seed, progress=progress),
        model_name="wave-cnn", model_args=model_args, metrics=metrics, provenance=provenance,
    )
    start = time.perf_counter()
    first = one_step.fit(loader(train_ids, 1, True), val_loader)

    rollout_phase = Trainer(
        model, rollout_loss,
        TrainingConfig(epochs=rollout_epochs, learning_rate=learning_rate / 4, seed=seed,
                       progress=progress),
        model_name="wave-cnn", model_args=model_args, metrics=metrics,
        provenance={**provenance, "one_step_history": first, "rollout_steps": rollout_steps},
    )
    second = rollout_phase.fit(loader(train_ids, rollout_steps, True), val_loader, checkpoint=out)
    if rollout_epochs == 0:
        rollout_phase.save(out)
    seconds = time.perf_counter() - start
    history_all = [{**h, "phase": 1.0} for h in first] + [{**h, "phase": 2.0} for h in second]
    epochs_done = max(len(history_all), 1)
    return {"history": history_all, "checkpoint": str(out), "seconds": seconds,
            "seconds_per_epoch": sum(h["seconds"] for h in history_all) / epochs_done,
            "parameters": model.parameter_count()}


def add_arguments(parser: argparse.ArgumentParser, model: str = "wave-cnn") -> None:
    """Add the options for training ``model`` to a ``neurosolve train`` sub-parser."""
    parser.add_argument("--data", required=True, help="HDF5 file from `neurosolve generate wave`")
    parser.add_argument("--out", help="checkpoint to write (default: <model>.pt)")
    if model == "wave-cnn-compressed":
        parser.add_argument("--rank", type=int, default=4,
                            help="rank of the compressed kernels (default 4)")
        parser.add_argument("--form", choices=["cp", "2way", "2way-shared"], default="cp",
                            help="compressed kernel form (default cp)")
    else:
        parser.set_defaults(rank=4, form=None)
    parser.add_argument("--hidden", type=int, default=32, help="hidden channels")
    parser.add_argument("--layers", type=int, default=4, help="convolution layers")
    parser.add_argument("--kernel-size", type=int, default=5, help="odd kernel width")
    parser.add_argument("--history", type=int, default=4, help="past fields read per step")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of one-step training")
    parser.add_argument("--rollout-epochs", type=int, default=2,
                        help="epochs of rollout training")
    parser.add_argument("--rollout-steps", type=int, default=3,
                        help="fields predicted per window in rollout training")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--windows-per-epoch", type=int, default=384,
                        help="training windows drawn per epoch (0: all)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="initial Adam learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", help="checkpoint with the same settings to start from")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``neurosolve train wave-cnn`` or ``wave-cnn-compressed`` from parsed arguments."""
    import torch

    torch.set_num_threads(args.threads)
    compression = args.form if args.model == "wave-cnn-compressed" else None
    summary = train_wave_cnn(
        args.data, args.out or f"{args.model}.pt", compression=compression, rank=args.rank,
        hidden=args.hidden, layers=args.layers, kernel_size=args.kernel_size,
        history=args.history, epochs=args.epochs, rollout_epochs=args.rollout_epochs,
        rollout_steps=args.rollout_steps, batch_size=args.batch_size,
        windows_per_epoch=args.windows_per_epoch or None, learning_rate=args.learning_rate,
        seed=args.seed, init=args.init, progress=not args.no_progress,
    )
    last = summary["history"][-1]
    validation = last.get("val_relative_l2_one_step", float("nan"))
    print(
        f"{args.model}: {summary['parameters']} parameters, "
        f"{summary['seconds_per_epoch']:.1f} s per epoch, final loss {last['train_loss']:.4g}, "
        f"validation one-step relative L2 {validation:.4g}; wrote {summary['checkpoint']}"
    )
    return 0
