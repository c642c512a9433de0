"""``neurosolve train MODEL ...``: train a learned method with the package's own code.

Each trainable model has a module that defines ``add_arguments(parser)`` and
``run(args) -> int``; :data:`TRAIN_TARGETS` maps the model name to that module. The
modules import torch only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib

# Model name -> module defining add_arguments(parser) and run(args).
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
        sub = targets.add_parser(name, help=getattr(target, "HELP", f"train {name}"))
        target.add_arguments(sub)
        sub.set_defaults(func=target.run)
