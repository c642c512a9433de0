"""Shared fixtures.

Reference data from other projects (neuraloperator's small Darcy set, ETTh1) is read in
place from ``../shared/data`` beside the repository, or from the folder named by the
``NEUROSOLVE_REFERENCE_DATA`` environment variable. Tests that need it skip when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def reference_data() -> Path:
    default = REPOSITORY.parent / "shared" / "data"
    folder = Path(os.environ.get("NEUROSOLVE_REFERENCE_DATA", default))
    if not folder.is_dir():
        pytest.skip(
            f"reference data folder {folder} not found; set NEUROSOLVE_REFERENCE_DATA to the "
            f"folder holding neuralop-darcy/ and ett/"
        )
    return folder


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Keep torch to one thread so parallel CI workers do not oversubscribe the cores."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
