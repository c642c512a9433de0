"""DistributedDataParallel plumbing for the trainer.

Under ``torchrun --nproc_per_node N`` the environment carries ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` joins the process group (gloo
on the CPU, NCCL when every rank has a GPU). Without them everything runs in one process.

Data loaders made by :func:`make_loader` use a ``DistributedSampler`` even in one process,
so a run on N processes with per-rank batch ``B / N`` draws the same global batches, in the
same order, as a run on one process with batch ``B``.
"""

from __future__ import annotations

import gc
import logging
import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

logger = logging.getLogger(__name__)


def init_distributed() -> bool:
    """Join the process group that torchrun describes; return True when more than one rank runs."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        logger.info("rank %d of %d joined (%s)", dist.get_rank(), world_size, backend)
    return True


def shutdown_distributed() -> None:
    """Leave the process group after collecting every object that still references it.

    A ``DistributedDataParallel`` wrapper sits in a reference cycle, so it outlives
    ``destroy_process_group`` unless it is collected here. A gloo group freed later, during
    interpreter shutdown, can abort the process with SIGABRT. Callers should drop their
    trainers before calling this.
    """
    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()
        gc.collect()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def local_device(requested: str) -> str:
    """Return the device this rank should use: its own GPU under NCCL, else ``requested``."""
    if requested.startswith("cuda") and is_distributed():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return requested


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """Build a loader whose global batch is ``batch_size`` across all ranks.

    Raises
    ------
    ValueError
        If ``batch_size`` is not divisible by the number of ranks.
    """
    replicas = world_size()
    if batch_size < 1 or batch_size % replicas:
        raise ValueError(
            f"batch_size {batch_size} must be a positive multiple of the {replicas} ranks"
        )
    sampler: DistributedSampler = DistributedSampler(
        dataset, num_replicas=replicas, rank=rank(), shuffle=shuffle, seed=seed, drop_last=False
    )
    return DataLoader(
        dataset, batch_size=batch_size // replicas, sampler=sampler, num_workers=num_workers
    )


def distribute_loader(loader: DataLoader, seed: int = 0) -> DataLoader:
    """Return a loader that gives this rank its share of ``loader``'s data.

    Under torchrun, a plain loader would feed every rank the whole data set. Its batch size
    is split over the ranks, so the global batch stays the same. Shuffling is kept unless
    the loader read its data in order. A loader that already uses a
    ``DistributedSampler``, and every loader in a one-process run, is returned as is.

    Raises
    ------
    ValueError
        If the batch size is not divisible by the number of ranks.
    """
    if not is_distributed() or isinstance(loader.sampler, DistributedSampler):
        return loader
    replicas = world_size()
    batch_size = loader.batch_size or 1
    if batch_size % replicas:
        raise ValueError(
            f"batch size {batch_size} is not divisible by the {replicas} ranks; choose a "
            f"multiple of {replicas} so every rank gets the same share of each batch"
        )
    sampler: DistributedSampler = DistributedSampler(
        loader.dataset, num_replicas=replicas, rank=rank(),
        shuffle=not isinstance(loader.sampler, SequentialSampler), seed=seed, drop_last=False,
    )
    return DataLoader(
        loader.dataset, batch_size=batch_size // replicas, sampler=sampler,
        num_workers=loader.num_workers, collate_fn=loader.collate_fn,
    )


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum a list of numbers over all ranks (a no-op in one process)."""
    if not is_distributed():
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()
