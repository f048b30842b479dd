"""The core vocabulary every layer speaks: chat messages, sampling settings, constraints,
generation requests and results, usage and stream deltas. Imports no engine."""

from parlantish.core.constraints import Constraint, ConstraintKind
from parlantish.core.types import (
    ChatMessage,
    Completion,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    StreamDelta,
    Usage,
)

__all__ = [
    "ChatMessage",
    "Completion",
    "Constraint",
    "ConstraintKind",
    "FinishReason",
    "GenerationRequest",
    "GenerationResult",
    "SamplingSettings",
    "StreamDelta",
    "Usage",
]
