"""The consistency evaluator: suites, running them resumably, and the statistics of the results."""

from parlantish.eval.analysis import build_report, length_analysis
from parlantish.eval.ifeval_import import load_ifeval_scenarios, rule_sentence
from parlantish.eval.runner import Evaluator, Progress, WorkItem
from parlantish.eval.scenario import LoadedScenario, SuiteError
from parlantish.eval.store import ResultStore, read_results
from parlantish.eval.suite import LoadedSuite, SuiteFile, load_suite

__all__ = [
    "Evaluator",
    "LoadedScenario",
    "LoadedSuite",
    "Progress",
    "ResultStore",
    "SuiteError",
    "SuiteFile",
    "WorkItem",
    "build_report",
    "length_analysis",
    "load_ifeval_scenarios",
    "load_suite",
    "read_results",
    "rule_sentence",
]
