"""``neurosolve generate {darcy,poisson,heat,wave}``: write a dataset of FEniCSx solves to HDF5.

Runs under MPI as ``mpiexec -n N neurosolve generate ...``: the samples are split over the
ranks, and rank 0 writes the file. dolfinx is imported only when a generator runs.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Generator name -> (module, function, help text).
GENERATORS: dict[str, tuple[str, str, str]] = {
    "darcy": (
        "neurosolve.data.generators.darcy",
        "generate_darcy",
        "-div(a grad u) = 1 on the unit square with random two-phase or log-normal a",
    ),
    "poisson": (
        "neurosolve.data.generators.poisson",
        "generate_poisson",
        "-div grad u = f with random sources, optional obstacles and mixed boundaries, 2D or 3D",
    ),
    "heat": (
        "neurosolve.data.generators.heat",
        "generate_heat",
        "u_t = kappa Laplacian u from random initial states, implicit Euler, stored in time",
    ),
    "wave": (
        "neurosolve.data.generators.wave",
        "generate_wave",
        "u_tt = div(c^2 grad u) with random pulses and speeds, stored in time and at probes",
    ),
}


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, required=True, help="number of samples")
    parser.add_argument(
        "--resolution", type=int, required=True,
        help="grid points per side, boundary included (for example 64 for a 64x64 grid)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the dataset (default 0)")
    parser.add_argument("--out", required=True, help="output HDF5 file")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="start a new file even if OUT contains an unfinished dataset with the same "
        "settings (by default such a file is resumed)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _darcy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--coefficient", choices=["threshold", "lognormal"], default="threshold",
        help="threshold: 12 where a random field is positive, 3 elsewhere (default); "
        "lognormal: exp(scale * field)",
    )
    parser.add_argument("--alpha", type=float, default=2.0, help="random-field smoothness")
    parser.add_argument("--tau", type=float, default=3.0, help="random-field inverse length scale")
    parser.add_argument(
        "--lognormal-scale", type=float, default=1.0,
        help="standard-deviation factor of the log-normal coefficient",
    )


def _poisson_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dimension", type=int, choices=[2, 3], default=2, help="2D or 3D")
    parser.add_argument(
        "--obstacles", type=int, default=0, help="random box obstacles per sample (default 0)"
    )
    parser.add_argument(
        "--boundary", choices=["dirichlet", "mixed"], default="dirichlet",
        help="dirichlet: u = 0 on every side; mixed: u = 0 on the min sides, zero flux on the "
        "max sides",
    )
    parser.add_argument("--alpha", type=float, default=2.0, help="source-field smoothness")
    parser.add_argument("--tau", type=float, default=3.0, help="source-field inverse length scale")


def _heat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=20, help="time steps stored (default 20)")
    parser.add_argument("--dt", type=float, default=0.005, help="time step (default 0.005)")
    parser.add_argument("--kappa", type=float, default=1.0, help="diffusivity (default 1)")


def _wave_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=60, help="time steps per sample (default 60)")
    parser.add_argument(
        "--dt", type=float, default=None,
        help="time step; by default each sample uses a random fraction of its stability limit",
    )
    parser.add_argument(
        "--boundary", choices=["absorbing", "reflecting"], default="absorbing",
        help="condition on the outer edge (default absorbing)",
    )
    parser.add_argument(
        "--scheme", choices=["explicit", "newmark"], default="explicit",
        help="time-stepping scheme (default explicit)",
    )


_SPECIFIC = {
    "darcy": _darcy_arguments,
    "poisson": _poisson_arguments,
    "heat": _heat_arguments,
    "wave": _wave_arguments,
}
_COMMON = {"samples", "resolution", "seed", "out", "overwrite", "no_progress"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate a dataset of FEniCSx solves in HDF5",
        description="Generate a training dataset; rerunning an interrupted command resumes it. "
        "Run under mpiexec to split the samples over ranks.",
    )
    generators = parser.add_subparsers(dest="generator", metavar="GENERATOR", required=True)
    for name, (_, _, help_text) in GENERATORS.items():
        sub = generators.add_parser(name, help=help_text, description=help_text)
        _common_arguments(sub)
        _SPECIFIC[name](sub)
        sub.set_defaults(func=run)


def _load_generator(name: str) -> Any:
    module_name, function_name, _ = GENERATORS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"the {name} generator is not available ({err}); check the installation of "
            f"neurosolve and its dependencies"
        ) from err
    function = getattr(module, function_name, None)
    if function is None:
        raise ValueError(
            f"{module_name} defines no {function_name}; the {name} generator is missing"
        )
    return function


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from ..data.generators.base import import_fem_collectively

    generate = _load_generator(args.generator)
    # Every generator solves with dolfinx; initialising it here on all ranks keeps PETSc's
    # collective start-up apart from the generator's own messages.
    import_fem_collectively()
    options = {
        key: value
        for key, value in vars(args).items()
        if key not in _COMMON and key not in ("func", "command", "generator", "verbose")
    }
    keywords: dict[str, Any] = {"comm": MPI.COMM_WORLD, "progress": not args.no_progress}
    if args.generator != "wave":
        # The wave generator always writes a new file, so it takes no overwrite flag.
        keywords["overwrite"] = args.overwrite
    generate(args.samples, args.resolution, args.seed, args.out, **keywords, **options)
    return 0
