"""Self-describing checkpoints and the registry of model classes.

A checkpoint is a dict saved with ``torch.save`` that ``torch.load(path,
weights_only=True)`` reads back: the registered model name and its constructor arguments,
the state dict, the normalisers' statistics, the training settings, the package version
and free-form provenance. :func:`load_model` rebuilds the model from it alone.
"""

from __future__ import annotations

import datetime
import importlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from .._version import __version__

FORMAT = "neurosolve-checkpoint/1"
WEIGHTS_DIR = Path(__file__).with_name("weights")

_MODELS: dict[str, type[torch.nn.Module]] = {}

# Modules whose import registers the package's models. They are loaded when a name is not yet
# known, so load_model works on any shipped checkpoint without the caller importing the model.
MODEL_MODULES: tuple[str, ...] = (
    "neurosolve.sciml.fno",
    "neurosolve.sciml.mg_tfno",
    "neurosolve.sciml.mgno",
    "neurosolve.sciml.dcdm.model",
    "neurosolve.sciml.dlinear",
    "neurosolve.sciml.olinear",
    "neurosolve.sciml.wave_cnn",
)


def register_model(name: str):
    """Class decorator that makes a model rebuildable from checkpoints under ``name``."""

    def decorate(cls: type[torch.nn.Module]) -> type[torch.nn.Module]:
        existing = _MODELS.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"model name {name!r} is already registered by {existing}")
        _MODELS[name] = cls
        return cls

    return decorate


def model_class(name: str) -> type[torch.nn.Module]:
    """Return the model class registered under ``name``."""
    if name not in _MODELS:
        for module in MODEL_MODULES:
            importlib.import_module(module)
    try:
        return _MODELS[name]
    except KeyError:
        valid = ", ".join(sorted(_MODELS)) or "none registered yet"
        raise ValueError(f"unknown model {name!r}; registered models: {valid}") from None


def build_model(name: str, **model_args: Any) -> torch.nn.Module:
    """Instantiate a registered model class."""
    return model_class(name)(**model_args)


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    model_name: str,
    model_args: dict[str, Any],
    normalizers: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically: to a temporary file, then renamed into place.

    ``normalizers`` maps names to objects with a ``state()`` method or to plain dicts of
    tensors. ``extra`` contains further tensors or plain values (optimizer state for resuming).
    """
    path = Path(path)
    module = getattr(model, "module", model)
    payload = {
        "format": FORMAT,
        "model": model_name,
        "model_args": dict(model_args),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "normalizers": {
            key: (value.state() if hasattr(value, "state") else value)
            for key, value in (normalizers or {}).items()
        },
        "training": dict(training or {}),
        "provenance": dict(provenance or {}),
        "package_version": __version__,
        "torch_version": str(torch.__version__),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "extra": dict(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        torch.save(payload, tmp)
        # mkstemp creates the file private (0600); give it the permissions of a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def resolve_checkpoint(checkpoint: str | os.PathLike | None, default_name: str) -> Path:
    """Return the checkpoint path to use: the given one, or a shipped weight file by name."""
    path = Path(checkpoint) if checkpoint is not None else WEIGHTS_DIR / default_name
    if not path.is_file():
        if checkpoint is None:
            raise FileNotFoundError(
                f"shipped weights {default_name!r} are missing from {WEIGHTS_DIR}; "
                f"reinstall neurosolve or pass checkpoint= with your own trained weights"
            )
        raise FileNotFoundError(f"checkpoint {str(path)!r} not found")
    return path


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` and check its format.

    Raises
    ------
    ValueError
        If the file cannot be read as a torch file (empty, truncated, not torch) or is not
        a complete neurosolve checkpoint.
    """
    try:
        payload = torch.load(Path(path), map_location=map_location, weights_only=True)
    except (EOFError, RuntimeError, KeyError, pickle.UnpicklingError) as err:
        raise ValueError(
            f"{path} is not a readable checkpoint (empty, truncated or not a torch file): "
            f"{type(err).__name__}: {err}"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path} is not a neurosolve checkpoint (format {FORMAT!r})")
    missing = [key for key in ("model", "model_args", "state_dict") if key not in payload]
    if missing:
        raise ValueError(f"{path} is an incomplete neurosolve checkpoint: {missing} missing")
    return payload


def load_model(
    path: str | os.PathLike, map_location: Any = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a model from a checkpoint; returns the model (in eval mode) and the payload.

    Raises
    ------
    ValueError
        If the stored weights do not fit the model that this version of neurosolve builds
        from the checkpoint's settings (for example, a checkpoint from an older version).
    """
    payload = load_checkpoint(path, map_location)
    model = build_model(payload["model"], **payload["model_args"])
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        written = payload.get("package_version", "unknown")
        advice = (
            "its settings and weights disagree, probably because the file was edited after "
            "it was written"
            if written == __version__
            else f"it was written by neurosolve {written} and this is {__version__}; retrain "
            f"it with the current version"
        )
        raise ValueError(
            f"{path}: the weights do not fit the {payload['model']!r} model; {advice}. {err}"
        ) from err
    model.eval()
    return model, payload
