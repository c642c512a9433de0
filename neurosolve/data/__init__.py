"""Datasets: random fields, FEniCSx generators, the HDF5 layout, readers, importers, exporters.

The readers are :func:`open_dataset` (a lazy xarray view) and :class:`FieldDataset` (a
torch Dataset of ``{"x", "y"}`` pairs); torch is imported only when a FieldDataset is made.
"""

from __future__ import annotations

from .datasets import FieldDataset, open_dataset
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
