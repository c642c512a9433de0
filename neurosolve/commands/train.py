"""``neurosolve train MODEL ...``: train a learned method with the package's own code.

Each trainable model has a module that defines ``add_arguments(parser, model)`` and
``run(args) -> int``; :data:`TRAIN_TARGETS` maps the model name to that module. The
modules import torch only inside ``run``. Under ``torchrun --nproc_per_node N`` every target
trains data-parallel over the N processes.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
from collections.abc import Callable

# Model name -> module defining add_arguments(parser, model) and run(args).
TRAIN_TARGETS: dict[str, str] = {
    "fno": "neurosolve.sciml.train_operators",
    "tfno": "neurosolve.sciml.train_operators",
    "mg-tfno": "neurosolve.sciml.train_operators",
    "mgno": "neurosolve.sciml.train_operators",
    "wave-cnn": "neurosolve.sciml.train_wave",
    "wave-cnn-compressed": "neurosolve.sciml.train_wave",
    "olinear": "neurosolve.sciml.train_forecast",
    "linear": "neurosolve.sciml.train_forecast",
    "dcdm": "neurosolve.sciml.dcdm.train",
    "dcdm-mg": "neurosolve.sciml.dcdm.train_mg",
}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a learned method and write a checkpoint")
    targets = parser.add_subparsers(dest="model", metavar="MODEL", required=True)
    for name, module in TRAIN_TARGETS.items():
        target = importlib.import_module(module)
        # A module that trains several models may give each its own line in HELPS.
        text = getattr(target, "HELPS", {}).get(name) or getattr(target, "HELP", f"train {name}")
        sub = targets.add_parser(name, help=text, description=text)
        target.add_arguments(sub, name)
        sub.set_defaults(func=functools.partial(_run_target, target.run))


def _run_target(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a training target, inside a torch process group when torchrun started several ranks.

    The shared trainer then wraps the model in DistributedDataParallel, gives each rank its
    share of every batch and writes checkpoints from rank 0.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return run(args)
    from ..sciml.distributed import init_distributed, shutdown_distributed

    init_distributed()
    try:
        return run(args)
    finally:
        shutdown_distributed()
