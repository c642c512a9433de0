"""``neurosolve inspect FILE``: print a dataset's layout, settings and per-field statistics."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "inspect", help="print the layout, settings and field statistics of an HDF5 dataset"
    )
    parser.add_argument("file", help="HDF5 dataset written by neurosolve generate or an importer")
    parser.add_argument(
        "--plot", metavar="PNG", default=None,
        help="also write a PNG with the input and target fields of the first samples",
    )
    parser.add_argument(
        "--samples", type=int, default=4, help="samples to plot with --plot (default 4)"
    )
    parser.set_defaults(func=run)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def field_statistics(dataset: Any, done: np.ndarray) -> tuple[float, float, float, float]:
    """Return min, max, mean and standard deviation of an h5py dataset over completed samples.

    Samples are read one at a time, so the whole field never has to fit in memory.
    """
    count, total, total_sq = 0, 0.0, 0.0
    low, high = np.inf, -np.inf
    for index in np.flatnonzero(done):
        values = np.asarray(dataset[index], dtype=np.float64)
        count += values.size
        total += values.sum()
        total_sq += np.square(values).sum()
        low, high = min(low, values.min()), max(high, values.max())
    if count == 0:
        return (np.nan,) * 4
    mean = total / count
    return low, high, mean, float(np.sqrt(max(total_sq / count - mean**2, 0.0)))


def describe(path: str) -> str:
    """Return the printed report of a dataset file: attributes, variables and statistics."""
    import h5py

    from ..data.datasets import _dimension_names

    lines = [f"file: {path}"]
    with h5py.File(path, "r") as f:
        attrs = {key: _text(value) for key, value in f.attrs.items()}
        settings = attrs.pop("settings", None)
        attrs.pop("_NCProperties", None)
        for key, value in sorted(attrs.items()):
            if isinstance(value, np.ndarray):
                value = value.item() if value.size == 1 else value.tolist()
            lines.append(f"  {key}: {value}")
        if settings:
            lines.append("settings:")
            for key, value in sorted(json.loads(settings).items()):
                lines.append(f"  {key}: {value}")

        samples = f["completed"].shape[0] if "completed" in f else None
        done = f["completed"][:] == 1 if "completed" in f else None
        if samples is not None and done is not None:
            lines.append(f"samples: {int(done.sum())} of {samples} completed")
        if "split" in f:
            labels = f["split"][:]
            counts = ", ".join(
                f"{name} {int(np.sum(labels == i))}"
                for i, name in enumerate(("train", "validation", "test"))
            )
            lines.append(f"splits: {counts}")

        lines.append("variables:")
        header = f"  {'name':<14} {'dimensions':<34} {'dtype':<8} {'min':>11} {'max':>11}"
        lines.append(header + f" {'mean':>11} {'std':>11}")
        for name, dataset in f.items():
            # Dimension coordinates (sample, x, y, time, ...) are listed by their variables.
            if not isinstance(dataset, h5py.Dataset) or dataset.is_scale:
                continue
            dims = _dimension_names(dataset)
            if not any(dims):  # plain HDF5 arrays have no named dimensions
                dims = ()
            shape = "x".join(str(n) for n in dataset.shape)
            label = f"({', '.join(dims)}) {shape}" if dims else shape
            row = f"  {name:<14} {label:<34} {str(dataset.dtype):<8}"
            numeric = dataset.dtype.kind in "fiu" and dataset.size > 0
            if numeric and dims and dims[0] == "sample" and dataset.ndim > 1:
                mask = done if done is not None else np.ones(dataset.shape[0], dtype=bool)
                stats = field_statistics(dataset, mask)
                row += "".join(f" {value:>11.4g}" for value in stats)
            elif numeric and name not in ("split", "completed"):
                values = np.asarray(dataset[()], dtype=np.float64)
                # NaN marks values of samples not yet written; leave them out.
                stats = (
                    np.nanmin(values), np.nanmax(values), np.nanmean(values), np.nanstd(values)
                )
                row += "".join(f" {value:>11.4g}" for value in stats)
            lines.append(row)
    return "\n".join(lines)


def plot(path: str, out: str, samples: int = 4) -> Path:
    """Write a PNG of the input and target variables of the first completed samples.

    Each row is a sample, each column a variable. A time series shows its last time level
    and a 3D field its middle ``z`` plane. Uses matplotlib's object interface, so no global
    backend is changed.
    """
    import h5py
    from matplotlib.figure import Figure

    with h5py.File(path, "r") as f:
        names = [
            n
            for key in ("x_variables", "y_variables")
            for n in str(_text(f.attrs.get(key, ""))).split()
        ]
        if not names:
            raise ValueError(f"{path} names no x_variables or y_variables to plot")
        done = np.flatnonzero(f["completed"][:] == 1) if "completed" in f else np.arange(
            f[names[0]].shape[0]
        )
        chosen = done[: max(int(samples), 1)]
        if chosen.size == 0:
            raise ValueError(f"{path} has no completed samples to plot")
        figure = Figure(figsize=(3 * len(names), 2.6 * chosen.size), layout="constrained")
        axes = figure.subplots(chosen.size, len(names), squeeze=False)
        for row, index in enumerate(chosen):
            for column, name in enumerate(names):
                values = _plane(f[name], index)
                ax = axes[row, column]
                image = ax.imshow(values, origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
                figure.colorbar(image, ax=ax, shrink=0.8)
                ax.set_title(f"{name}, sample {index}", fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
    out_path = Path(out)
    figure.savefig(out_path, dpi=90)
    return out_path


def _plane(dataset: Any, index: int) -> np.ndarray:
    """Return a 2D view of one sample: middle ``z`` plane, last time level, first channel."""
    from ..data.datasets import _dimension_names

    values = np.asarray(dataset[index], dtype=np.float64)
    dims = list(_dimension_names(dataset)[1:])
    while values.ndim > 2:
        if dims[0] == "z":
            values = values[values.shape[0] // 2]
        elif dims[0] == "time":
            values = values[-1]
        else:
            values = values[0]
        dims.pop(0)
    return values


def run(args: argparse.Namespace) -> int:
    if not Path(args.file).exists():
        raise FileNotFoundError(f"dataset file {args.file} not found")
    print(describe(args.file))
    if args.plot:
        written = plot(args.file, args.plot, args.samples)
        print(f"plot: {written}")
    return 0
