"""Datasets: random fields, FEniCSx generators, the HDF5 layout, readers, importers, exporters.

The readers are :func:`open_dataset` (a lazy xarray view) and :class:`FieldDataset` (a
torch Dataset of ``{"x", "y"}`` pairs); torch is imported only when FieldDataset is first
accessed.
"""

from __future__ import annotations

from typing import Any

from .datasets import open_dataset
from .layout import DatasetSpec, SampleWriter, Variable, open_writer, sample_rng

__all__ = [
    "DatasetSpec",
    "FieldDataset",
    "SampleWriter",
    "Variable",
    "open_dataset",
    "open_writer",
    "sample_rng",
]


def __getattr__(name: str) -> Any:
    # FieldDataset imports torch, so it is looked up only when first used.
    if name == "FieldDataset":
        from . import datasets

        return datasets.FieldDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
