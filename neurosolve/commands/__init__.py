"""Subcommands of the ``neurosolve`` command line, one module each."""
