"""Neural operators against the finite-element solve on FEniCSx Darcy data.

For each checkpoint the script measures, on the test files: relative L2 and H1 errors of
the prediction against the stored ``fem`` solutions, the parameter count, the training time
per epoch recorded in the checkpoint, and the inference time per sample, unbatched (one
``model(x)`` call per sample) and batched. On a few test problems it also times
``problems.darcy`` plus ``solve(p, "fem")`` and ``solve(p.linear_problem, "pcg-amg")``, and
counts the ``pcg-amg`` iterations to ``rtol`` from the prediction and from zero.

Usage::

    python benchmarks/operators.py --checkpoints mgno-darcy.pt mg-tfno-darcy.pt \\
        --test darcy64-test.h5 darcy128-test.h5 --solves 10 --rtol 1e-8

Prints Markdown tables; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from neurosolve import problems, solve
from neurosolve.sciml import fno, load_model, mg_tfno, mgno  # noqa: F401  (registers models)
from neurosolve.sciml.spectral import count_parameters
from neurosolve.sciml.train_operators import load_fields, relative_errors
from neurosolve.solvers.operators import predict_fields
from neurosolve.solvers.result import ConvergenceWarning


def time_inference(model, payload, x: np.ndarray, batch_size: int, repeats: int = 1) -> float:
    """Return the seconds per sample of predicting ``x`` in batches of ``batch_size``."""
    inputs = [{"coefficient": xi[0]} for xi in x]
    predict_fields(model, payload, inputs[:1])  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(inputs), batch_size):
            predict_fields(model, payload, inputs[i:i + batch_size])
    return (time.perf_counter() - start) / (repeats * len(inputs))


def solver_timings(name: str, checkpoint: str, coefficients: np.ndarray, rtol: float) -> dict:
    """Time fem and pcg-amg and count refine iterations on the given coefficients."""
    # Warm-up: the first dolfinx assembly compiles its forms.
    solve(problems.darcy(coefficient=coefficients[0]), "fem", rtol=rtol)
    rows = []
    for a in coefficients:
        start = time.perf_counter()
        problem = problems.darcy(coefficient=a)
        assembled = time.perf_counter() - start
        fem = solve(problem, "fem", rtol=rtol)
        amg = solve(problem.linear_problem, "pcg-amg", rtol=rtol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            refined = solve(problem, name, checkpoint=checkpoint, refine="pcg-amg", rtol=rtol)
        rows.append({
            "assemble": assembled,
            "fem": assembled + fem.total_seconds,
            "pcg_amg": amg.total_seconds,
            "zero_iterations": refined.info["zero_start_iterations"],
            "refine_iterations": refined.info["refine_iterations"],
            "refine_converged": refined.converged,
            "prediction_residual": refined.info["prediction_residual"],
        })
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", required=True)
    parser.add_argument("--test", nargs="+", required=True, help="HDF5 test files")
    parser.add_argument("--solves", type=int, default=10,
                        help="test problems per file timed with fem and pcg-amg")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tests = {Path(p).name: load_fields(p, None) for p in args.test}
    results = {}
    for path in args.checkpoints:
        model, payload = load_model(path)
        name = payload["model"]
        history = payload["extra"].get("history", [])
        entry = {
            "parameters": count_parameters(model),
            "epochs": payload["training"].get("epochs_done"),
            "train_samples": payload["provenance"].get("train_samples"),
            "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])),
            "files": {},
        }
        for label, fields in tests.items():
            row = relative_errors(model, payload, fields["x"], fields["y"])
            row["grid"] = list(fields["x"].shape[2:])
            row["samples"] = len(fields["x"])
            row["unbatched_s"] = time_inference(model, payload, fields["x"][:20], 1)
            row["batched_s"] = time_inference(model, payload, fields["x"][:64], args.batch_size)
            coefficients = fields["x"][: args.solves, 0].astype(np.float64)
            row.update(solver_timings(name, path, coefficients, args.rtol))
            entry["files"][label] = row
        results[name] = entry

    print("| model | parameters | epochs | s / epoch | test file | grid | L2 | H1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, entry in results.items():
        for label, row in entry["files"].items():
            print(f"| {name} | {entry['parameters']:,} | {entry['epochs']} | "
                  f"{entry['seconds_per_epoch']:.1f} | {label} | {row['grid'][0]}^2 | "
                  f"{row['l2']:.4f} | {row['h1']:.4f} |")
    print()
    print("| model | grid | unbatched ms / sample | batched ms / sample | fem ms (assembly + "
          "solve) | pcg-amg ms | pcg-amg its from 0 | from prediction |")
    print("|---|---|---|---|---|---|---|---|")
    for name, entry in results.items():
        for row in entry["files"].values():
            print(f"| {name} | {row['grid'][0]}^2 | {1e3 * row['unbatched_s']:.1f} | "
                  f"{1e3 * row['batched_s']:.1f} | {1e3 * row['fem']:.1f} | "
                  f"{1e3 * row['pcg_amg']:.1f} | {row['zero_iterations']:.1f} | "
                  f"{row['refine_iterations']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
