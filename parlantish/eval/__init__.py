"""The consistency evaluator: suites, running them resumably, and the statistics of the results."""

from parlantish.eval.analysis import build_report, length_analysis
from parlantish.eval.ifeval_import import load_ifeval_scenarios, rule_sentence
from parlantish.eval.records import ArmGroup, SampleRecord, load_record
from parlantish.eval.report_model import Report
from parlantish.eval.runner import Evaluator, Progress, WorkItem
from parlantish.eval.scenario import LoadedScenario, SuiteError
from parlantish.eval.store import ResultStore, read_results
from parlantish.eval.suite import LoadedSuite, SuiteFile, load_suite

__all__ = [
    "ArmGroup",
    "Evaluator",
    "LoadedScenario",
    "LoadedSuite",
    "Progress",
    "Report",
    "ResultStore",
    "SampleRecord",
    "SuiteError",
    "SuiteFile",
    "WorkItem",
    "build_report",
    "length_analysis",
    "load_ifeval_scenarios",
    "load_record",
    "load_suite",
    "read_results",
    "rule_sentence",
]
