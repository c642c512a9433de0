"""Compare the wave CNNs, full and a priori compressed, with finite-element time stepping.

Reads the test split of a data set from ``neurosolve generate wave`` (simulations that the
training command never saw), rolls each surrogate out from the first ``history``
finite-element fields, and prints a Markdown table of

- the relative L2 error against ``fem`` after 1, 10 and 50 surrogate steps (mean over the
  test simulations),
- the parameter count, the model memory and the training seconds per epoch (from the
  checkpoint's history),
- the seconds per step of the rollout (one simulation, fastest of ``--repeats`` calls) and
  of the explicit finite-element step.

Usage::

    python benchmarks/wave.py --data wave.h5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def seconds_per_call(function, repeats: int) -> float:
    """Return the fastest wall-clock seconds of ``function()`` over ``repeats`` calls.

    The minimum, as ``timeit`` advises, because on a shared machine other processes only
    ever add time.
    """
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def epoch_seconds(payload: dict, phase: str) -> float:
    """Return the mean wall-clock seconds of the one-step or the rollout training epochs.

    A checkpoint trained with ``--init`` and ``--epochs 0`` has no one-step epochs of its
    own, so the one-step epochs are read from its ``init`` checkpoint when that file
    still exists. The rollout epochs are the checkpoint's own.
    """
    if phase == "one_step":
        history = payload["provenance"].get("one_step_history", [])
        init = payload["provenance"].get("init")
        if not history and init and Path(init).exists():
            from neurosolve.sciml.checkpoints import load_checkpoint

            return epoch_seconds(load_checkpoint(init), "one_step")
    else:
        history = payload["extra"].get("history", [])
    seconds = [float(h["seconds"]) for h in history]
    return statistics.mean(seconds) if seconds else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="HDF5 file from `neurosolve generate wave`")
    parser.add_argument("--checkpoints", nargs="*", default=None,
                        help="checkpoints to compare (default: the shipped weights)")
    parser.add_argument("--steps", type=int, nargs="*", default=[1, 10, 50],
                        help="surrogate steps at which the error is reported")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu", help="torch device of the surrogates")
    parser.add_argument("--repeats", type=int, default=50,
                        help="timing repeats; the fastest is reported")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()

    import torch

    from neurosolve.data.generators.wave import (
        _step_explicit,
        assemble_wave_operators,
        stability_limit,
    )
    from neurosolve.sciml.checkpoints import WEIGHTS_DIR, load_model
    from neurosolve.sciml.train_wave import load_wave_data
    from neurosolve.sciml.wave_cnn import rollout

    torch.set_num_threads(args.threads)
    data = load_wave_data(args.data)
    test_ids = np.flatnonzero(data["split"] == 2)
    if test_ids.size == 0:
        raise SystemExit(f"{args.data} has no test split (split 2)")
    checkpoints = args.checkpoints or [
        str(WEIGHTS_DIR / "wave-cnn.pt"), str(WEIGHTS_DIR / "wave-cnn-compressed.pt")
    ]
    fields = data["u"].astype(np.float64)
    horizon = max(args.steps)

    rows = []
    for path in checkpoints:
        model, payload = load_model(path, map_location=args.device)
        history = model.history
        if fields.shape[1] < history + horizon:
            raise SystemExit(
                f"the data has {fields.shape[1]} fields per simulation, fewer than "
                f"history + max step = {history + horizon}"
            )
        errors = {step: [] for step in args.steps}
        for sample in test_ids:
            courant = data["courant"][sample].astype(np.float64)
            predicted = rollout(model, fields[sample, :history], courant, horizon)
            for step in args.steps:
                errors[step].append(
                    relative_error(predicted[step - 1], fields[sample, history - 1 + step])
                )
        sample = int(test_ids[0])
        courant = data["courant"][sample].astype(np.float64)
        states = fields[sample, :history]

        def one_step(model=model, states=states, courant=courant) -> None:
            rollout(model, states, courant, 1)

        record = {
            "checkpoint": path,
            "compression": payload["model_args"].get("compression"),
            "rank": payload["model_args"].get("rank"),
            "parameters": model.parameter_count(),
            "model_bytes": model.memory_bytes(),
            "seconds_per_one_step_epoch": epoch_seconds(payload, "one_step"),
            "seconds_per_rollout_epoch": epoch_seconds(payload, "rollout"),
            "seconds_per_step": seconds_per_call(one_step, args.repeats),
            **{f"error_step_{step}": float(np.mean(errors[step])) for step in args.steps},
        }
        if record["compression"] is not None:
            for layer in model.modules():
                if hasattr(layer, "execution"):
                    layer.execution = "dense"
            record["seconds_per_step_dense_kernels"] = seconds_per_call(one_step, args.repeats)
        rows.append(record)

    # Finite-element step: the explicit update alone (50 steps, divided), on the first test
    # simulation. The Courant field is c dt / h, proportional to the speed, and the cost of
    # a step does not depend on the values.
    sample = int(test_ids[0])
    speed_grid = data["courant"][sample].astype(np.float64)
    start = time.perf_counter()
    operators = assemble_wave_operators(speed_grid)
    limit = stability_limit(operators)
    assembly = time.perf_counter() - start
    two = fields[sample, :2].reshape(2, -1)
    fem_step = seconds_per_call(
        lambda: _step_explicit(operators, two, 0.5 * limit, 51), args.repeats
    ) / 50

    print(f"test simulations: {test_ids.size} of {fields.shape[0]}, grid {fields.shape[2:]}, "
          f"torch threads {args.threads}, device {args.device}")
    header = ["model", "parameters", "memory (KiB)", "s / epoch (one-step, rollout)",
              "ms / step"]
    header += [f"error @ {step}" for step in args.steps]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        name = "wave-cnn"
        if row["compression"] is not None:
            name = f"wave-cnn-compressed ({row['compression']}, rank {row['rank']})"
        cells = [name, str(row["parameters"]), f"{row['model_bytes'] / 1024:.1f}",
                 f"{row['seconds_per_one_step_epoch']:.1f}, "
                 f"{row['seconds_per_rollout_epoch']:.1f}",
                 f"{1e3 * row['seconds_per_step']:.2f}"]
        cells += [f"{row[f'error_step_{step}']:.3g}" for step in args.steps]
        print("| " + " | ".join(cells) + " |")
        if "seconds_per_step_dense_kernels" in row:
            print(f"  (same model with kernels rebuilt densely: "
                  f"{1e3 * row['seconds_per_step_dense_kernels']:.2f} ms / step)")
    print(f"| fem explicit step | - | - | - | {1e3 * fem_step:.3f} | 0 | 0 | 0 |")
    print(f"fem assembly and stability limit: {assembly:.2f} s once per medium")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"surrogates": rows, "fem_seconds_per_step": fem_step,
                       "fem_assembly_seconds": assembly}, handle, indent=2)


if __name__ == "__main__":
    main()
