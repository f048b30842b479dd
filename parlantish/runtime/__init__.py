"""The runtime: guarded calls (``Guard``), their policies, results, streaming and traces."""

from parlantish.runtime.decorator import guarded
from parlantish.runtime.guard import Guard
from parlantish.runtime.policy import FailurePolicy
from parlantish.runtime.result import Attempt, CheckOutcome, CheckpointTrace, GuardReply
from parlantish.runtime.streaming import CheckpointEvent, FinalEvent, RetryEvent, TextDelta

__all__ = [
    "Attempt",
    "CheckOutcome",
    "CheckpointEvent",
    "CheckpointTrace",
    "FailurePolicy",
    "FinalEvent",
    "Guard",
    "GuardReply",
    "RetryEvent",
    "TextDelta",
    "guarded",
]
