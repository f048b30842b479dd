"""Consistency tests for pytest: ``assert_consistent`` and friends, sequential verdicts, and
record/replay of generations (the plugin is registered as ``parlantish`` under ``pytest11``)."""

from parlantish.eval.sequential import SequentialPlan, samples_needed
from parlantish.testing.api import (
    ConsistencyError,
    aassert_consistent,
    acompare,
    aconsistency,
    assert_consistent,
    compare,
    consistency,
)
from parlantish.testing.recording import (
    RecordingBackend,
    RecordingMissing,
    ReplayBackend,
    request_key,
)
from parlantish.testing.result import CompareResult, ConsistencyResult, JudgeAgreement
from parlantish.testing.settings import RunSettings

__all__ = [
    "CompareResult",
    "ConsistencyError",
    "ConsistencyResult",
    "JudgeAgreement",
    "RecordingBackend",
    "RecordingMissing",
    "ReplayBackend",
    "RunSettings",
    "SequentialPlan",
    "aassert_consistent",
    "acompare",
    "aconsistency",
    "assert_consistent",
    "compare",
    "consistency",
    "request_key",
    "samples_needed",
]
