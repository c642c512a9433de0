"""``neurosolve train dcdm``: train the DCDM network on Ritz-vector right-hand sides.

For each grid size and each random obstacle layout the command assembles Poisson's
matrix with :func:`neurosolve.problems.poisson`, draws right-hand sides from its Ritz
vectors (:mod:`.ritz`), and minimises the unsupervised loss ``min_alpha ||b - alpha A
f(b)||^2`` with the package's :class:`~neurosolve.sciml.training.Trainer`. Only
:func:`run` imports torch.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

HELP = "train the DCDM network (dcdm) on Ritz vectors of 2D or 3D Poisson matrices"


def add_arguments(parser: argparse.ArgumentParser, variant: str = "dcdm") -> None:
    """Add the training options of ``dcdm`` or ``dcdm-mg`` to ``parser``."""
    parser.set_defaults(variant=variant)
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2, help="grid dimension")
    parser.add_argument(
        "--n", type=int, nargs="+", default=[64],
        help="grid points per side of the training grids; several sizes train on all of them",
    )
    parser.add_argument(
        "--obstacles", type=int, default=4, help="random box obstacles per training grid"
    )
    parser.add_argument(
        "--layouts", type=int, default=2, help="random obstacle layouts (matrices) per size"
    )
    parser.add_argument(
        "--samples", type=int, default=400, help="training right-hand sides per matrix"
    )
    parser.add_argument(
        "--ritz", type=int, default=300, help="Lanczos steps (Ritz vectors) per matrix"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, default=16, help="hidden channels")
    parser.add_argument("--blocks", type=int, default=2, help="residual blocks per stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads per process (default: torch's, which torchrun sets to 1)",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument(
        "--output", type=Path, default=None,
        help=f"checkpoint path (default: ./{variant}-<dim>d.pt), rewritten after every epoch",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from --output if it exists"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


@dataclass
class TrainingGroup:
    """One training matrix on its grid: the flat-grid operator, mask and samples."""

    A: Any
    mask: Any
    b: Any
    vcycle: Any


def _training_problem(dim: int, n: int, obstacles: int, seed: int) -> Any:
    from ... import problems

    return problems.poisson(shape=(n,) * dim, obstacles=obstacles, seed=seed)


def _build_group(args: argparse.Namespace, n: int, layout: int, rng: np.random.Generator):
    import torch

    from ...solvers.gmg import GeometricMultigrid
    from .ritz import lanczos_ritz_vectors, ritz_right_hand_sides

    seed = args.seed + 1000 * n + layout
    problem = _training_problem(args.dim, n, args.obstacles, seed)
    geometry = problem.geometry
    A = problem.A.tocoo()
    index = np.asarray(geometry.dof_to_grid)
    size = geometry.size

    _, vectors = lanczos_ritz_vectors(problem.A, args.ritz, rng)
    rhs = ritz_right_hand_sides(vectors, args.samples, rng)
    b_grid = np.zeros((args.samples, size), dtype=np.float32)
    b_grid[:, index] = rhs
    vcycle = None
    if args.variant == "dcdm-mg":
        hierarchy = GeometricMultigrid(problem.A, geometry)
        v_grid = np.zeros_like(b_grid)
        v_grid[:, index] = np.stack([hierarchy.vcycle(b) for b in rhs])
        vcycle = torch.from_numpy(v_grid).reshape(args.samples, 1, *geometry.shape)

    A_grid = torch.sparse_coo_tensor(
        torch.as_tensor(np.stack([index[A.row], index[A.col]])),
        torch.as_tensor(A.data, dtype=torch.float32), (size, size),
        check_invariants=True,
    ).coalesce()
    mask = torch.zeros(size)
    mask[index] = 1.0
    logger.info(
        "training matrix %s, obstacle seed %d: %d unknowns, %d Ritz vectors, %d samples",
        geometry.shape, seed, problem.n, vectors.shape[1], args.samples,
    )
    return TrainingGroup(
        A=A_grid, mask=mask.reshape(1, 1, *geometry.shape), b=torch.from_numpy(b_grid),
        vcycle=vcycle,
    )


class GroupBatches:
    """Batches that each come from one training matrix, in a seeded random order per epoch."""

    def __init__(self, groups, samples: slice, batch_size: int, seed: int, shuffle: bool):
        self.groups = groups
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.rng = np.random.default_rng(seed)
        self.batches = []
        for g, group in enumerate(groups):
            chosen = np.arange(group.b.shape[0])[samples]
            for start in range(0, len(chosen), batch_size):
                self.batches.append((g, chosen[start : start + batch_size]))

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        import torch

        from .direction import network_input

        order = self.rng.permutation(len(self.batches)) if self.shuffle else range(len(self))
        for i in order:
            g, rows = self.batches[i]
            group = self.groups[g]
            b = group.b[rows]
            residual = b.reshape(len(rows), 1, *group.mask.shape[2:])
            vcycle = None if group.vcycle is None else group.vcycle[rows]
            yield {
                "input": network_input(residual, group.mask, vcycle),
                "b": b,
                "group": torch.full((len(rows),), g),
            }


def run(args: argparse.Namespace) -> int:
    """Build the training data, train, and write the checkpoint; return the exit code."""
    import torch

    from ..._version import __version__
    from ..training import Trainer, TrainingConfig, seed_everything
    from .direction import conjugate_direction_loss
    from .model import DCDMNet

    if any(n < 5 for n in args.n):
        raise ValueError(f"--n must be at least 5 points per side, got {args.n}")
    if args.samples < 2:
        raise ValueError(f"--samples must be at least 2, got {args.samples}")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)
    output = args.output or Path(f"{args.variant}-{args.dim}d.pt")

    groups = [
        _build_group(args, n, layout, rng) for n in args.n for layout in range(args.layouts)
    ]
    device = torch.device(args.device)
    for group in groups:
        group.A = group.A.to(device)
        group.mask = group.mask.to(device)
    held_out = max(1, args.samples // 10)
    train_batches = GroupBatches(
        groups, slice(held_out, None), args.batch_size, args.seed, shuffle=True
    )
    val_batches = GroupBatches(groups, slice(0, held_out), args.batch_size, 0, shuffle=False)

    multigrid = args.variant == "dcdm-mg"
    model_args = {
        "dim": args.dim, "in_channels": 3 if multigrid else 2, "channels": args.channels,
        "blocks": args.blocks, "correct_channel": 2 if multigrid else None,
    }
    model = DCDMNet(**model_args)

    def loss(net: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        group = groups[int(batch["group"][0])]
        direction = (net(batch["input"]) * group.mask).flatten(1)
        return conjugate_direction_loss(direction, batch["b"], group.A)

    config = TrainingConfig(
        epochs=args.epochs, learning_rate=args.learning_rate, seed=args.seed,
        device=args.device, progress=not args.no_progress,
    )
    provenance = {
        "variant": args.variant,
        "arguments": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
            if key not in ("func", "command", "model")
        },
        "grid_sizes": list(args.n), "obstacles": args.obstacles, "layouts": args.layouts,
        "samples_per_matrix": args.samples, "ritz_steps": args.ritz,
        "problem": "neurosolve.problems.poisson", "package_version": __version__,
    }
    trainer = Trainer(
        model, loss, config, model_name="dcdm", model_args=model_args,
        metrics={"loss": loss}, provenance=provenance,
    )
    history = trainer.fit(train_batches, val_batches, checkpoint=output, resume=args.resume)
    if history:
        logger.info("final validation loss %.4g", history[-1].get("val_loss", float("nan")))
    logger.info("wrote %s", output)
    return 0
