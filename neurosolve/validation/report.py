"""Write a suite's results: CSV, Markdown table, HDF5 with provenance, and PNG plots."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from .._version import __version__
from .runner import CaseResult, SuiteRun

# Columns of the Markdown table, with their headers and number formats.
TABLE_COLUMNS = [
    ("problem", "problem", "{}"),
    ("method", "method", "{}"),
    ("outcome", "outcome", "{}"),
    ("iterations", "iters", "{:.0f}"),
    ("setup_seconds", "setup s", "{:.3g}"),
    ("solve_seconds", "solve s", "{:.3g}"),
    ("final_residual", "rel. residual", "{:.2e}"),
    ("relative_l2", "rel. L2 err", "{:.2e}"),
    ("relative_h1", "rel. H1 err", "{:.2e}"),
    ("mse", "MSE", "{:.4f}"),
    ("mae", "MAE", "{:.4f}"),
]


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it only when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def provenance(run: SuiteRun, command: list[str] | None = None, seed: int = 0) -> dict[str, Any]:
    """Return where and how a suite ran: versions, machine, seed and command line."""
    versions = {
        "neurosolve": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for module in ("scipy", "pyamg", "torch", "dolfinx"):
        loaded = sys.modules.get(module)
        if loaded is not None:
            versions[module] = getattr(loaded, "__version__", "unknown")
    return {
        "suite": run.suite,
        "rtol": run.rtol,
        "seed": seed,
        "command": " ".join(command if command is not None else sys.argv),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "seconds": run.seconds,
        "versions": json.dumps(versions),
    }


def results_frame(results: list[CaseResult]) -> pd.DataFrame:
    return pd.DataFrame([case.row() for case in results], columns=list(CaseResult.SCALARS))


def markdown_table(results: list[CaseResult]) -> str:
    """Format results as a Markdown table; empty metrics print as blanks.

    The last column gives the reason for every outcome other than ``ok``.
    """
    headers = [header for _, header, _ in TABLE_COLUMNS] + ["note"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for case in results:
        cells = []
        for attribute, _, fmt in TABLE_COLUMNS:
            value = getattr(case, attribute)
            missing = value is None or (isinstance(value, float) and not np.isfinite(value))
            cells.append("" if missing else fmt.format(value))
        note = "" if case.outcome == "ok" else case.message.replace("|", "/")
        cells.append(note if len(note) <= 120 else note[:117] + "...")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_hdf5(path: Path, run: SuiteRun, info: dict[str, Any]) -> None:
    """Store every result, its residual history and rollout errors, with provenance."""
    with _atomic(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs.update({key: value for key, value in info.items()})
        group = handle.create_group("results")
        for index, case in enumerate(run.results):
            item = group.create_group(f"{index:04d}")
            for name, value in case.row().items():
                item.attrs[name] = "" if value is None else value
            item.create_dataset("residuals", data=case.residuals)
            item.create_dataset("rollout_errors", data=case.rollout_errors)


def read_hdf5(path: str | os.PathLike) -> pd.DataFrame:
    """Read the result rows of a suite's HDF5 file back into a table."""
    rows = []
    with h5py.File(path, "r") as handle:
        if "results" not in handle:
            raise ValueError(f"{path} contains no validation results (no 'results' group)")
        for key in sorted(handle["results"]):
            attrs = dict(handle["results"][key].attrs)
            rows.append({name: _plain(attrs.get(name)) for name in CaseResult.SCALARS})
    return pd.DataFrame(rows, columns=list(CaseResult.SCALARS))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_report(
    run: SuiteRun, out: str | os.PathLike, *, command: list[str] | None = None, seed: int = 0
) -> dict[str, Path]:
    """Write CSV, Markdown, HDF5 and PNG plots of a suite run under ``out``.

    Returns
    -------
    dict of str to Path
        The files written, by kind: ``csv``, ``markdown``, ``hdf5`` and one key per plot.
    """
    from .plots import write_plots

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"validate-{run.suite}"
    info = provenance(run, command, seed)
    written = {
        "csv": out / f"{stem}.csv",
        "markdown": out / f"{stem}.md",
        "hdf5": out / f"{stem}.h5",
    }
    with _atomic(written["csv"]) as tmp:
        results_frame(run.results).to_csv(tmp, index=False)
    header = (
        f"# Validation suite `{run.suite}`\n\n"
        f"Command: `{info['command']}`  \nMachine: {info['machine']}  \n"
        f"Package {__version__}, rtol {run.rtol:g}, {run.seconds:.0f} s in all, "
        f"{info['created']}\n\n"
    )
    with _atomic(written["markdown"]) as tmp:
        tmp.write_text(header + markdown_table(run.results))
    write_hdf5(written["hdf5"], run, info)
    plots = out / f"plots-{run.suite}"
    for stale in plots.glob("*.png"):  # plots of an earlier run of this suite
        stale.unlink()
    written.update(write_plots(run, plots))
    return written
