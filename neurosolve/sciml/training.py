"""One trainer for every learned model of the package.

:class:`Trainer` runs Adam with an optional learning-rate schedule over a torch
``DataLoader`` of dict batches, logs each epoch, shows a progress bar, evaluates named
validation metrics, and writes resumable, self-describing checkpoints. Under torchrun it
wraps the model in ``DistributedDataParallel``, reduces logged losses over the ranks and
writes checkpoints from rank 0 only (see :mod:`neurosolve.sciml.distributed`).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .checkpoints import load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

Batch = dict[str, torch.Tensor]
LossFn = Callable[[torch.nn.Module, Batch], torch.Tensor]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainingConfig:
    """Optimiser and schedule settings; stored in every checkpoint.

    Attributes
    ----------
    epochs : int
    learning_rate : float
    weight_decay : float
    scheduler : {"cosine", "step", "none"}
    step_size : int
        Epochs between learning-rate drops, for ``scheduler="step"``.
    gamma : float
        Factor of each drop, for ``scheduler="step"``.
    grad_clip : float or None
        Maximum gradient norm, or None for no clipping.
    seed : int
    device : str
    progress : bool
        Show a progress bar over the batches of each epoch.
    """

    epochs: int = 10
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    step_size: int = 100
    gamma: float = 0.5
    grad_clip: float | None = None
    seed: int = 0
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be non-negative, got {self.epochs}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.scheduler not in ("cosine", "step", "none"):
            raise ValueError(
                f"scheduler must be 'cosine', 'step' or 'none', got {self.scheduler!r}"
            )


def supervised_loss(loss: torch.nn.Module) -> LossFn:
    """Return a batch loss ``loss(model(batch["x"]), batch["y"])``."""

    def batch_loss(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        return loss(model(batch["x"]), batch["y"])

    return batch_loss


class Trainer:
    """Train a model with Adam and write checkpoints that :func:`load_model` rebuilds.

    Parameters
    ----------
    model : torch.nn.Module
    loss : callable
        ``loss(model, batch) -> scalar tensor``; :func:`supervised_loss` wraps a plain
        ``loss(pred, target)``.
    config : TrainingConfig
    model_name, model_args : str, dict
        Registered model name and constructor arguments, written into checkpoints.
    metrics : dict of str to callable, optional
        Validation metrics ``metric(model, batch) -> tensor`` averaged over the
        validation loader each epoch (weighted by batch size).
    normalizers : dict, optional
        Fitted normalisers stored beside the weights.
    provenance : dict, optional
        Data set path, settings and seed, stored in checkpoints.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss: LossFn,
        config: TrainingConfig,
        *,
        model_name: str,
        model_args: dict[str, Any],
        metrics: dict[str, LossFn] | None = None,
        normalizers: dict[str, Any] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.device = torch.device(distributed.local_device(config.device))
        model = model.to(self.device)
        if distributed.is_distributed():
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        self.model = model
        self.loss = loss
        self.model_name = model_name
        self.model_args = model_args
        self.metrics = metrics or {}
        self.normalizers = normalizers or {}
        self.provenance = provenance or {}
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scheduler = self._make_scheduler()
        self.epoch = 0
        self.history: list[dict[str, float]] = []

    def _make_scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        if self.config.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=max(self.config.epochs, 1)
            )
        if self.config.scheduler == "step":
            return torch.optim.lr_scheduler.StepLR(
                self.optimizer, step_size=self.config.step_size, gamma=self.config.gamma
            )
        return None

    def _to_device(self, batch: Batch) -> Batch:
        return {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in batch.items()}

    def train_epoch(self, loader: Iterable[Batch]) -> float:
        """Run one epoch of optimisation; return the mean training loss per sample."""
        self.model.train()
        set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
        if set_epoch is not None:
            set_epoch(self.epoch)
        total, count = 0.0, 0.0
        bar = tqdm(
            loader, desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            disable=not (self.config.progress and distributed.is_main_process()), leave=False,
        )
        for batch in bar:
            batch = self._to_device(batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss(self.model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {loss.item()} at epoch {self.epoch + 1}; "
                    f"lower learning_rate or check the data for NaN"
                )
            loss.backward()
            if self.config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.optimizer.step()
            size = len(next(iter(batch.values())))
            total += loss.item() * size
            count += size
            bar.set_postfix(loss=f"{loss.item():.4g}")
        if self.scheduler is not None:
            self.scheduler.step()
        total, count = distributed.all_reduce_sum([total, count], self.device)
        return total / max(count, 1)

    @torch.no_grad()
    def evaluate(self, loader: Iterable[Batch]) -> dict[str, float]:
        """Average each validation metric over a loader, weighting batches by size."""
        self.model.eval()
        sums = dict.fromkeys(self.metrics, 0.0)
        count = 0.0
        for batch in loader:
            batch = self._to_device(batch)
            size = len(next(iter(batch.values())))
            for name, metric in self.metrics.items():
                sums[name] += float(metric(self.model, batch)) * size
            count += size
        names = list(sums)
        reduced = distributed.all_reduce_sum([sums[k] for k in names] + [count], self.device)
        total = max(reduced[-1], 1.0)
        return {name: value / total for name, value in zip(names, reduced[:-1], strict=True)}

    def fit(
        self,
        train_loader: Iterable[Batch],
        val_loader: Iterable[Batch] | None = None,
        *,
        checkpoint: str | Path | None = None,
        resume: bool = False,
    ) -> list[dict[str, float]]:
        """Train for ``config.epochs`` epochs; return the per-epoch history.

        With ``checkpoint`` set, the model is saved there after every epoch. With
        ``resume=True`` and an existing checkpoint, training continues from its epoch with
        its optimiser and scheduler state.
        """
        if distributed.is_distributed():
            train_loader = _distributed(train_loader, self.config.seed)
            val_loader = _distributed(val_loader, self.config.seed) if val_loader else None
        if resume and checkpoint is not None and Path(checkpoint).is_file():
            self.load_state(checkpoint)
            logger.info("resumed from %s at epoch %d", checkpoint, self.epoch)
        while self.epoch < self.config.epochs:
            start = time.perf_counter()
            train_loss = self.train_epoch(train_loader)
            seconds = time.perf_counter() - start
            self.epoch += 1
            record = {"epoch": self.epoch, "train_loss": train_loss, "seconds": seconds}
            if val_loader is not None and self.metrics:
                record.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            self.history.append(record)
            if distributed.is_main_process():
                logger.info(
                    "epoch %d/%d: %s", self.epoch, self.config.epochs,
                    ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"),
                )
            if checkpoint is not None:
                self.save(checkpoint)
        return self.history

    def save(self, path: str | Path) -> Path:
        """Write a resumable checkpoint; under torchrun only rank 0 writes, then all ranks wait."""
        if not distributed.is_main_process():
            distributed.barrier()
            return Path(path)
        saved = save_checkpoint(
            path, self.model, model_name=self.model_name, model_args=self.model_args,
            normalizers=self.normalizers,
            training={**asdict(self.config), "epochs_done": self.epoch},
            provenance=self.provenance,
            extra={
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else {},
                "history": [dict(h) for h in self.history],
            },
        )
        distributed.barrier()
        return saved

    def load_state(self, path: str | Path) -> None:
        payload = load_checkpoint(path, map_location=self.device)
        module = getattr(self.model, "module", self.model)
        module.load_state_dict(payload["state_dict"])
        extra = payload.get("extra", {})
        if extra.get("optimizer"):
            self.optimizer.load_state_dict(extra["optimizer"])
        if self.scheduler is not None and extra.get("scheduler"):
            self.scheduler.load_state_dict(extra["scheduler"])
        self.history = list(extra.get("history", []))
        self.epoch = int(payload["training"].get("epochs_done", 0))


def _distributed(loader: Any, seed: int) -> Any:
    """Shard a torch ``DataLoader`` over the ranks; other iterables are used as they are."""
    if isinstance(loader, torch.utils.data.DataLoader):
        return distributed.distribute_loader(loader, seed)
    return loader
