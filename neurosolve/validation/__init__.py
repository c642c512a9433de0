"""Validation suites: named problems x applicable methods, shared metrics, reports."""

from .catalogue import CATALOGUE, SUITES, Entry, MissingComponentError, Scenario
from .compare import compare_results
from .report import read_hdf5, write_report
from .runner import CaseResult, SuiteRun, run_suite

__all__ = [
    "CATALOGUE",
    "SUITES",
    "CaseResult",
    "Entry",
    "MissingComponentError",
    "Scenario",
    "SuiteRun",
    "compare_results",
    "read_hdf5",
    "run_suite",
    "write_report",
]
