"""Obstacle masks over the cells of a structured grid (True marks an obstacle cell)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_cell_mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Validate an obstacle mask over the cells of a grid with ``shape`` points.

    Parameters
    ----------
    mask : array_like of bool, shape ``tuple(n - 1 for n in shape)``
        True for obstacle cells.
    shape : tuple of int
        Grid points per axis.

    Returns
    -------
    ndarray of bool
        A copy of the mask.

    Raises
    ------
    ValueError
        If the mask has the wrong shape or covers every cell.
    """
    mask = np.array(mask, copy=True)
    expected = tuple(n - 1 for n in shape)
    if mask.shape != expected:
        raise ValueError(
            f"obstacles mask has shape {mask.shape}, expected {expected}: one entry per grid "
            f"cell, i.e. one fewer than the grid points {shape} along each axis"
        )
    if mask.dtype != bool:
        if not np.all(np.isin(mask, (0, 1))):
            raise ValueError("obstacles mask must be boolean (True marks an obstacle cell)")
        mask = mask.astype(bool)
    if mask.all():
        raise ValueError("obstacles mask covers every cell; no domain is left")
    return mask


def random_box_obstacles(
    shape: tuple[int, ...], count: int, seed: int | None = None,
    max_fraction: float = 0.25,
) -> np.ndarray:
    """Place ``count`` axis-aligned boxes of obstacle cells at random.

    Each box spans between 2 cells and ``max_fraction`` of the cells along each axis and
    lies anywhere inside the grid; boxes may overlap.

    Parameters
    ----------
    shape : tuple of int
        Grid points per axis; the mask has one cell fewer per axis.
    count : int
        Number of boxes, non-negative.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same mask.
    max_fraction : float
        Largest box side as a fraction of the grid's cells along that axis.

    Returns
    -------
    ndarray of bool, shape ``tuple(n - 1 for n in shape)``
    """
    if int(count) != count or count < 0:
        raise ValueError(f"obstacles count must be a non-negative integer, got {count}")
    cells = tuple(n - 1 for n in shape)
    rng = np.random.default_rng(seed)
    mask = np.zeros(cells, dtype=bool)
    for _ in range(int(count)):
        box = []
        for size in cells:
            side = int(rng.integers(min(2, size), max(2, int(max_fraction * size)) + 1))
            side = min(side, size)
            start = int(rng.integers(0, size - side + 1))
            box.append(slice(start, start + side))
        mask[tuple(box)] = True
    return mask
