"""Events of a streamed guarded call: checkpoint answers and reply text as the layout's stream
parser finds them (``parlantish.compiler.stream``), a rejected attempt, the final result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parlantish.compiler.stream import CheckpointEvent, TextDelta

__all__ = ["CheckpointEvent", "FinalEvent", "RetryEvent", "StreamEvent", "TextDelta"]


@dataclass(frozen=True)
class RetryEvent:
    """The attempt just streamed was rejected; another follows."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class FinalEvent:
    """The call's result (the same object ``reply`` would return)."""

    reply: Any


StreamEvent = CheckpointEvent | TextDelta | RetryEvent | FinalEvent
