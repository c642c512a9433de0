"""Torch models of the learned methods, their losses, trainer and checkpoints.

Names are loaded on first access, so importing a submodule that does not need torch
(a command-line module, say) does not import torch through this package.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> submodule that defines it.
_EXPORTS: dict[str, str] = {
    "H1Loss": "losses",
    "LpLoss": "losses",
    "Trainer": "training",
    "TrainingConfig": "training",
    "UnitGaussianNormalizer": "normalizers",
    "build_model": "checkpoints",
    "load_checkpoint": "checkpoints",
    "load_model": "checkpoints",
    "register_model": "checkpoints",
    "save_checkpoint": "checkpoints",
    "seed_everything": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'neurosolve.sciml' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
