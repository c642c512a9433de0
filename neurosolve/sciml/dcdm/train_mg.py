"""``neurosolve train dcdm-mg``: train the network that corrects a multigrid V-cycle.

Same options as ``neurosolve train dcdm``; each right-hand side also gets one geometric
multigrid V-cycle, which the network reads as a third channel and corrects.
"""

from __future__ import annotations

import argparse

from . import train

HELP = "train the DCDM network that corrects a geometric multigrid V-cycle (dcdm-mg)"


def add_arguments(parser: argparse.ArgumentParser, model: str = "dcdm-mg") -> None:
    train.add_arguments(parser, variant=model)


def run(args: argparse.Namespace) -> int:
    return train.run(args)
