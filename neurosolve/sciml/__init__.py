"""Torch models of the learned methods, their losses, trainer and checkpoints.

Importing this package imports torch; the rest of neurosolve does not.
"""

from .checkpoints import build_model, load_checkpoint, load_model, register_model, save_checkpoint
from .losses import H1Loss, LpLoss
from .normalizers import UnitGaussianNormalizer
from .training import Trainer, TrainingConfig, seed_everything

__all__ = [
    "H1Loss",
    "LpLoss",
    "Trainer",
    "TrainingConfig",
    "UnitGaussianNormalizer",
    "build_model",
    "load_checkpoint",
    "load_model",
    "register_model",
    "save_checkpoint",
    "seed_everything",
]
