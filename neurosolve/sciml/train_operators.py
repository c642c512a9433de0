"""Training of the neural operators: ``neurosolve train fno|tfno|mg-tfno|mgno``.

Data come from an HDF5 file of ``neurosolve generate darcy`` (its train split for training,
its validation split for the per-epoch log) or from a torch file of neuraloperator's small
Darcy set (a dict with ``x`` and ``y`` of shape ``(N, s, s)``). Inputs and targets are
normalised per channel with statistics of the training samples, which the checkpoint
stores, so a model runs at any resolution. The loss is the relative H1 or L2 error of the
decoded prediction.

This module imports torch only inside its functions, but importing it imports
:mod:`neurosolve.sciml`, which imports torch.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

HELP = "train a neural operator (fno, tfno, mg-tfno, mgno) on Darcy data"
# One line per model for ``neurosolve train --help``.
HELPS = {
    "fno": "train a Fourier neural operator with dense spectral weights on Darcy data",
    "tfno": "train a Fourier neural operator with Tucker-factorised weights on Darcy data",
    "mg-tfno": "train a multi-grid tensorised FNO (padded patches with coarse context) on "
               "Darcy data",
    "mgno": "train a multigrid neural operator (layers of learned V-cycles) on Darcy data",
}

MODELS = ("fno", "tfno", "mg-tfno", "mgno")

# Constructor defaults for 64 x 64 Darcy data, by model. ``model_arguments`` shrinks the
# Fourier modes on coarser grids. The keys are also the options ``neurosolve train`` offers.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "fno": {"hidden_channels": 32, "n_layers": 4, "n_modes": 12, "domain_padding": 0.125},
    "tfno": {
        "hidden_channels": 32, "n_layers": 4, "n_modes": 12, "rank": 0.1, "domain_padding": 0.125,
    },
    "mg-tfno": {
        "hidden_channels": 32, "n_layers": 4, "n_modes": 12, "rank": 0.1, "levels": 1,
        "padding_fraction": 0.25, "stitching": "average", "domain_padding": 0.0,
        "domain_mask": True,
    },
    "mgno": {"hidden_channels": 24, "n_layers": 5, "levels": 5},
}


def load_fields(
    path: str | Path, split: str | None = "train", limit: int | None = None
) -> dict[str, Any]:
    """Read input and target fields as float32 arrays of shape ``(N, C, ny, nx)``.

    Parameters
    ----------
    path : path
        An HDF5 file in the neurosolve layout, or a ``.pt`` file of neuraloperator's Darcy
        set, whose boolean ``x`` becomes the coefficient (0 or 1).
    split : {"train", "validation", "test"} or None
        Split of an HDF5 file; ignored for ``.pt`` files, which hold one split each.
    limit : int, optional
        Keep only the first ``limit`` samples.

    Returns
    -------
    dict
        ``x``, ``y`` (arrays), ``x_variables``, ``y_variables`` (lists of names) and
        ``source`` (the constant source of the data set, or None when unknown).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no samples in ``split`` or an unknown format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} not found")
    if path.suffix == ".pt":
        fields = _load_neuralop(path)
    else:
        fields = _load_hdf5(path, split)
    if limit is not None:
        fields["x"], fields["y"] = fields["x"][:limit], fields["y"][:limit]
    if len(fields["x"]) == 0:
        raise ValueError(f"{path} has no samples in split {split!r}")
    return fields


def _load_neuralop(path: Path) -> dict[str, Any]:
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or "x" not in data or "y" not in data:
        raise ValueError(f"{path} is not a dict with 'x' and 'y' tensors")
    x = data["x"].float().numpy()[:, None]
    y = data["y"].float().numpy()[:, None]
    # neuraloperator's Darcy set solves -div(a grad u) = 1 (f = 1).
    return {"x": x, "y": y, "x_variables": ["coefficient"], "y_variables": ["solution"],
            "source": 1.0}


def _load_hdf5(path: Path, split: str | None) -> dict[str, Any]:
    import h5py

    from ..data.datasets import FieldDataset

    dataset = FieldDataset(path, split=split)
    try:
        samples = [dataset[i] for i in range(len(dataset))]
    finally:
        dataset.close()
    with h5py.File(path, "r") as f:
        settings = json.loads(_text(f.attrs.get("settings", "{}")))
    source = settings.get("source")
    x = np.stack([s["x"].numpy() for s in samples]) if samples else np.zeros((0, 1, 1, 1))
    y = np.stack([s["y"].numpy() for s in samples]) if samples else np.zeros((0, 1, 1, 1))
    return {"x": x.astype(np.float32), "y": y.astype(np.float32),
            "x_variables": list(dataset.x_variables), "y_variables": list(dataset.y_variables),
            "source": float(source) if isinstance(source, int | float) else None}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check_option(key: str, value: Any, default: Any, name: str, spatial: int = 2) -> Any:
    """Return option ``key`` of model ``name`` converted to its default's type.

    Integer options must be whole numbers of at least 1, except the ``levels`` of
    ``mg-tfno`` (at least 0). ``n_modes`` may also be a sequence of ``spatial`` such
    numbers. Fractions must be finite real numbers. Raises ``ValueError`` otherwise.
    """
    def whole(item: Any, least: int) -> int:
        if isinstance(item, bool) or not isinstance(item, int | np.integer) or item < least:
            raise ValueError(f"option {key} must be an integer of at least {least}, got {item!r}")
        return int(item)

    if isinstance(default, bool):
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"option {key} must be True or False, got {value!r}")
        return bool(value)
    if key == "n_modes":
        items = value if isinstance(value, list | tuple) else [value] * spatial
        if len(items) != spatial:
            raise ValueError(f"option n_modes needs {spatial} entries for a {spatial}D grid, "
                             f"got {value!r}")
        return tuple(whole(item, 1) for item in items)
    if isinstance(default, int):
        return whole(value, 0 if (name, key) == ("mg-tfno", "levels") else 1)
    if isinstance(default, float):
        real = isinstance(value, int | float | np.integer | np.floating)
        try:
            number = float(value) if real and not isinstance(value, bool) else math.nan
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError(f"option {key} must be a finite real number, got {value!r}")
        return number
    return value


def model_arguments(
    name: str, in_channels: int, grid: tuple[int, int], /, **overrides: Any
) -> dict[str, Any]:
    """Return the constructor arguments of model ``name`` for data on ``grid``.

    Defaults suit 64 x 64 Darcy data. On coarser grids the Fourier modes shrink to fit the
    grid, or for ``mg-tfno`` its padded patches after the grid is resampled to its patch
    layout. ``overrides`` with the value None are ignored.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    defaults = MODEL_DEFAULTS[name]
    args: dict[str, Any] = {"in_channels": in_channels, "out_channels": 1, **defaults}
    if "n_modes" in defaults:
        modes = min(defaults["n_modes"], min(grid) // 2)
        args["n_modes"] = (modes, modes)
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in defaults:
            owners = [model for model in MODELS if key in MODEL_DEFAULTS[model]]
            if not owners:
                known = ", ".join(defaults)
                raise ValueError(f"unknown option {key} for {name}, which takes {known}")
            listed = " and ".join([", ".join(owners[:-1]), owners[-1]] if owners[1:] else owners)
            raise ValueError(f"option {key} does not apply to {name}, only to {listed}")
        args[key] = check_option(key, value, defaults[key], name, len(grid))
    if name == "mg-tfno" and overrides.get("n_modes") is None:
        # The Fourier layers see one padded patch of the grid resampled to the layout.
        from .fno import nearest_multiples

        patch = min(nearest_multiples(grid, 2 ** (args["levels"] + 1))) // 2 ** args["levels"]
        window = patch + 2 * math.ceil(args["padding_fraction"] * patch)
        modes = max(1, min(defaults["n_modes"], window // 2))
        args["n_modes"] = (modes, modes)
    return args


def check_resumable(
    payload: dict[str, Any], path: str | Path, name: str, args: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    """Raise ``ValueError`` unless the checkpoint ``payload`` can resume this run.

    The checkpoint must contain optimiser state (an ``--export`` copy does not), the same
    model with the same constructor arguments, and the same learning-rate settings. With
    the cosine schedule the number of epochs must match too, because the schedule ends at
    the epoch count it started with.
    """
    if not payload.get("extra", {}).get("optimizer"):
        raise ValueError(
            f"{path} has no optimiser state (it is an --export copy), so it cannot resume "
            f"training; resume from the checkpoint written by --out, or start a new run"
        )
    if payload["model"] != name:
        raise ValueError(f"{path} contains a {payload['model']!r} model, not {name!r}")
    # Settings that a checkpoint predates take the constructor's default, as when loading.
    from .checkpoints import model_class

    constructor = inspect.signature(model_class(name))
    stored = {
        key: parameter.default for key, parameter in constructor.parameters.items()
        if parameter.default is not inspect.Parameter.empty and key in args
    }
    stored.update(payload["model_args"])
    changed = sorted(key for key in stored.keys() | args.keys()
                     if stored.get(key) != args.get(key))
    training = payload.get("training", {})
    keys = ["learning_rate", "weight_decay", "scheduler"]
    if training.get("scheduler") == "cosine":
        keys.append("epochs")
    changed += [key for key in keys if key in training and training[key] != settings[key]]
    if changed:
        recorded = ", ".join(f"{key}={stored.get(key, training.get(key))!r}" for key in changed)
        hint = (" (the default n_modes follows the data's grid, so data on another grid "
                "changes it)" if "n_modes" in changed else "")
        raise ValueError(
            f"{path} was trained with {recorded}{hint}; resume with the same options and "
            f"data, or start a new run with a new --out"
        )


def relative_errors(model: Any, payload: dict[str, Any], x: np.ndarray, y: np.ndarray,
                    batch_size: int = 32) -> dict[str, float]:
    """Return the mean relative L2 and H1 errors of a model on raw fields ``x``, ``y``."""
    import torch

    from .losses import H1Loss, LpLoss
    from .normalizers import UnitGaussianNormalizer

    x_norm = UnitGaussianNormalizer.from_state(payload["normalizers"]["x"])
    y_norm = UnitGaussianNormalizer.from_state(payload["normalizers"]["y"])
    l2, h1 = LpLoss(reduction="sum"), H1Loss(reduction="sum")
    totals = {"l2": 0.0, "h1": 0.0}
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[start:start + batch_size])
            yb = torch.from_numpy(y[start:start + batch_size])
            pred = y_norm.decode(model(x_norm.encode(xb)))
            totals["l2"] += float(l2(pred, yb))
            totals["h1"] += float(h1(pred, yb))
    return {key: value / len(x) for key, value in totals.items()}


def train_operator(
    name: str,
    data: str | Path,
    out: str | Path,
    *,
    validation_data: str | Path | None = None,
    test_data: list[str | Path] | None = None,
    train_samples: int | None = None,
    epochs: int = 50,
    batch_size: int = 16,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-4,
    scheduler: str = "cosine",
    loss: str = "h1",
    seed: int = 0,
    progress: bool = True,
    resume: bool = False,
    command: str | None = None,
    export: str | Path | None = None,
    **model_options: Any,
) -> dict[str, Any]:
    """Train a neural operator on Darcy data and write its checkpoint.

    Parameters
    ----------
    name : {"fno", "tfno", "mg-tfno", "mgno"}
        Registered model name.
    data : path
        Training data (see :func:`load_fields`); an HDF5 file's train split.
    out : path
        Checkpoint written after every epoch.
    validation_data : path, optional
        Data for the per-epoch validation errors; default the validation split of an HDF5
        ``data`` file, none for a ``.pt`` file.
    test_data : list of path, optional
        Files evaluated after training: every sample, except for ``data`` itself, whose
        test split is used. Their errors go into the checkpoint's provenance under
        ``"test"``.
    train_samples : int, optional
        Use only the first ``train_samples`` training samples.
    epochs, batch_size, learning_rate, weight_decay, scheduler
        Adam settings and learning-rate schedule (see
        :class:`~neurosolve.sciml.training.TrainingConfig`).
    loss : {"h1", "l2"}
        Relative error minimised in training.
    seed : int
        Seed of the weights and of the batch order.
    progress : bool
        Show a progress bar per epoch.
    resume : bool
        Continue from ``out`` if it exists, with its optimiser state and epoch count.
    command : str, optional
        The command line, stored in the checkpoint.
    export : path, optional
        Also write a copy of the final checkpoint without the optimiser and scheduler
        state, for shipping; it loads like any checkpoint but cannot resume training.
    **model_options
        Overrides of :func:`model_arguments` (``hidden_channels``, ``n_layers``,
        ``n_modes``, ``rank``, ``levels``, ``padding_fraction``, ``stitching``,
        ``domain_padding``).

    Returns
    -------
    dict
        ``history``, ``checkpoint``, ``parameters``, ``seconds_per_epoch`` and ``test``
        (errors per test file).
    """
    import torch

    from . import fno, mg_tfno, mgno  # noqa: F401  (registers the models)
    from .checkpoints import build_model, load_checkpoint, save_checkpoint
    from .losses import H1Loss, LpLoss
    from .normalizers import UnitGaussianNormalizer
    from .spectral import count_parameters
    from .training import Trainer, TrainingConfig, seed_everything

    if loss not in ("h1", "l2"):
        raise ValueError(f"loss must be 'h1' or 'l2', got {loss!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if train_samples is not None and train_samples < 1:
        raise ValueError(f"train_samples must be at least 1, got {train_samples}")
    seed_everything(seed)
    train = load_fields(data, "train", train_samples)
    if train_samples is not None and len(train["x"]) < train_samples:
        raise ValueError(
            f"{data} has {len(train['x'])} training samples, fewer than the requested "
            f"train_samples={train_samples}"
        )
    is_hdf5 = Path(data).suffix != ".pt"
    if validation_data is not None:
        val = load_fields(validation_data, "validation" if is_hdf5 else None)
    elif is_hdf5:
        val = load_fields(data, "validation")
    else:
        val = None

    args = model_arguments(name, train["x"].shape[1], train["x"].shape[2:], **model_options)
    settings = {"epochs": epochs, "learning_rate": learning_rate,
                "weight_decay": weight_decay, "scheduler": scheduler}
    previous = load_checkpoint(out) if resume and Path(out).is_file() else None
    if previous is not None:
        # A resumed run keeps the normalisers and provenance it started with.
        check_resumable(previous, out, name, args, settings)
        x_norm = UnitGaussianNormalizer.from_state(previous["normalizers"]["x"])
        y_norm = UnitGaussianNormalizer.from_state(previous["normalizers"]["y"])
    else:
        x_norm = UnitGaussianNormalizer(dims=(0, 2, 3)).fit(torch.from_numpy(train["x"]))
        y_norm = UnitGaussianNormalizer(dims=(0, 2, 3)).fit(torch.from_numpy(train["y"]))
    model = build_model(name, **args)
    objective = H1Loss() if loss == "h1" else LpLoss()
    l2, h1 = LpLoss(), H1Loss()

    def decoded(model: Any, batch: dict[str, Any]) -> Any:
        return y_norm.decode(model(batch["x"]))

    def batch_loss(model: Any, batch: dict[str, Any]) -> Any:
        return objective(decoded(model, batch), batch["y"])

    metrics = {
        "l2": lambda model, batch: l2(decoded(model, batch), batch["y"]),
        "h1": lambda model, batch: h1(decoded(model, batch), batch["y"]),
    }

    def loader(fields: dict[str, Any], shuffle: bool) -> Any:
        x = x_norm.encode(torch.from_numpy(fields["x"]))
        y = torch.from_numpy(fields["y"])
        dataset = [{"x": xi, "y": yi} for xi, yi in zip(x, y, strict=True)]
        generator = torch.Generator().manual_seed(seed)
        # A list of samples works as a map-style dataset.
        return torch.utils.data.DataLoader(
            dataset,  # type: ignore[arg-type]
            batch_size=batch_size, shuffle=shuffle, generator=generator,
        )

    if previous is not None:
        provenance = dict(previous["provenance"])
    else:
        provenance = {
            "pde": "darcy",
            "data": str(Path(data).resolve()),
            "train_samples": int(len(train["x"])),
            "grid": list(train["x"].shape[2:]),
            "x_variables": train["x_variables"],
            "y_variables": train["y_variables"],
            "source": train["source"] if train["source"] is not None else 1.0,
            "loss": loss,
            "command": command or "",
        }
    config = TrainingConfig(
        epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay,
        scheduler=scheduler, seed=seed, progress=progress,
    )
    trainer = Trainer(
        model, batch_loss, config, model_name=name, model_args=args, metrics=metrics,
        normalizers={"x": x_norm, "y": y_norm}, provenance=provenance,
    )
    history = trainer.fit(
        loader(train, True), loader(val, False) if val is not None else None,
        checkpoint=out, resume=resume,
    )

    test_results = {}
    payload = {"normalizers": {"x": x_norm.state(), "y": y_norm.state()}}
    for path in test_data or []:
        # The training file contributes its test split; any other file is all test data.
        same = Path(path).resolve() == Path(data).resolve()
        test = load_fields(path, "test" if same else None)
        test_results[str(path)] = {
            "samples": int(len(test["x"])), "grid": list(test["x"].shape[2:]),
            **relative_errors(trainer.model, payload, test["x"], test["y"]),
        }
        logger.info("test %s: %s", path, test_results[str(path)])
    if test_results or previous is None:
        trainer.provenance["test"] = test_results
    trainer.save(out)
    if export is not None:
        save_checkpoint(
            export, trainer.model, model_name=name, model_args=args,
            normalizers=trainer.normalizers,
            training={**asdict(config), "epochs_done": trainer.epoch},
            provenance=trainer.provenance, extra={"history": [dict(h) for h in history]},
        )

    seconds = [h["seconds"] for h in history]
    return {
        "history": history,
        "checkpoint": str(out),
        "parameters": count_parameters(model),
        "seconds_per_epoch": float(np.mean(seconds)) if seconds else float("nan"),
        "test": test_results,
    }


def add_arguments(parser: argparse.ArgumentParser, model: str = "fno") -> None:
    """Add the options for training ``model`` to a ``neurosolve train`` sub-parser."""
    parser.add_argument("--data", required=True,
                        help="HDF5 file from `neurosolve generate darcy`, or a neuraloperator "
                             "Darcy .pt file")
    parser.add_argument("--out", help="checkpoint to write (default: <model>-darcy.pt)")
    parser.add_argument("--validation-data", help="file for per-epoch validation errors "
                                                  "(default: the validation split of --data)")
    parser.add_argument("--test-data", nargs="*", default=[],
                        help="files evaluated after training (all samples; the test split "
                             "when the file is --data)")
    parser.add_argument("--train-samples", type=int, help="use the first N training samples")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs (default 50)")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per step (default 16)")
    parser.add_argument("--learning-rate", type=float, default=2e-3,
                        help="initial Adam rate (default 2e-3)")
    parser.add_argument("--weight-decay", type=float, default=1e-4,
                        help="Adam weight decay (default 1e-4)")
    parser.add_argument("--scheduler", choices=["cosine", "step", "none"], default="cosine",
                        help="learning-rate schedule (default cosine)")
    parser.add_argument("--loss", choices=["h1", "l2"], default="h1",
                        help="relative error minimised (default h1)")
    # Model options: only those the model takes, each with the model's default.
    helps = {
        "hidden_channels": "width of the hidden layers",
        "n_layers": "number of layers",
        "n_modes": "Fourier modes per axis; the default is lowered to half the "
                   + ("padded patch" if model == "mg-tfno" else "grid")
                   + " where that is smaller",
        "rank": "Tucker parameters as a fraction of the dense ones",
        "levels": ("patch levels L: 2^L x 2^L patches" if model == "mg-tfno"
                   else "grids per V-cycle"),
        "padding_fraction": "padding of each patch, as a fraction of its size",
        "stitching": "how patch outputs are put back together",
        "domain_padding": ("zero padding inside the Fourier layers, as a fraction of each "
                           "axis" + (" of a padded patch" if model == "mg-tfno" else "")),
        "domain_mask": "add a channel marking the domain inside each patch and window",
    }
    # Other models' options are parsed but hidden, so that train_operator can name the
    # models they apply to instead of argparse calling them unrecognised.
    options = {key: value for name in MODELS for key, value in MODEL_DEFAULTS[name].items()}
    for key, default in {**options, **MODEL_DEFAULTS[model]}.items():
        if isinstance(default, bool):
            kind: dict[str, Any] = {"action": argparse.BooleanOptionalAction}
        elif key == "stitching":
            kind = {"choices": ["crop", "average"]}
        else:
            kind = {"type": type(default)}
        own = key in MODEL_DEFAULTS[model]
        parser.add_argument("--" + key.replace("_", "-"), **kind,
                            help=f"{helps[key]} (default {default})" if own else argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads per process (default: torch's, which torchrun sets to 1)",
    )
    parser.add_argument("--export",
                        help="also write the final checkpoint without optimiser state here")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --out if it exists")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``neurosolve train fno|tfno|mg-tfno|mgno`` from parsed arguments."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = args.out or f"{args.model}-darcy.pt"
    start = time.perf_counter()
    summary = train_operator(
        args.model, args.data, out, validation_data=args.validation_data,
        test_data=args.test_data, train_samples=args.train_samples, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        weight_decay=args.weight_decay, scheduler=args.scheduler, loss=args.loss,
        seed=args.seed, progress=not args.no_progress, resume=args.resume, export=args.export,
        command=" ".join(["neurosolve", *map(shlex.quote, sys.argv[1:])]),
        **{key: getattr(args, key) for name in MODELS for key in MODEL_DEFAULTS[name]
           if getattr(args, key, None) is not None},
    )
    last = summary["history"][-1] if summary["history"] else {}
    logger.info(
        "%s: %d parameters, %.2f s per epoch, %.1f s in all, last epoch %s, wrote %s",
        args.model, summary["parameters"], summary["seconds_per_epoch"],
        time.perf_counter() - start, last, out,
    )
    for path, errors in summary["test"].items():
        print(f"{path}: relative L2 {errors['l2']:.4f}, H1 {errors['h1']:.4f} "
              f"({errors['samples']} samples at {errors['grid']})")
    return 0
