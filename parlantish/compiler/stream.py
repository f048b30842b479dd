"""Reading an output while it streams: the events a layout's stream parser emits.

Each layout owns a stream parser (``layout.stream_parser()``) beside its ``parse``: fed the raw
text as it arrives, it returns the checkpoint answers that became complete and more of the
visible reply. What it emits is always a prefix of what ``parse`` reads from the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CheckpointEvent",
    "IncrementalParser",
    "NoVisibleText",
    "PlainText",
    "StreamParser",
    "TextDelta",
]


@dataclass(frozen=True)
class CheckpointEvent:
    """A checkpoint's answer, as soon as the model finished writing it."""

    id: str
    recall: list[str]
    ask: str
    answer: Any


@dataclass(frozen=True)
class TextDelta:
    """More of the visible reply."""

    text: str


class StreamParser(Protocol):
    """Feed raw text as it arrives; get events for what became complete."""

    def feed(self, delta: str) -> list[CheckpointEvent | TextDelta]: ...


class IncrementalParser:
    """Shared bookkeeping: emit the part of the visible text not sent yet."""

    def __init__(self) -> None:
        self.raw = ""
        self._sent = 0

    def visible(self) -> str | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def feed(self, delta: str) -> list[CheckpointEvent | TextDelta]:
        self.raw += delta
        events: list[CheckpointEvent | TextDelta] = list(self.checkpoints())
        visible = self.visible()
        if visible is not None and len(visible) > self._sent:
            events.append(TextDelta(visible[self._sent :]))
            self._sent = len(visible)
        return events

    def checkpoints(self) -> list[CheckpointEvent]:
        return []


class PlainText(IncrementalParser):
    """The whole output is the visible reply (unconstrained plain text)."""

    def visible(self) -> str | None:
        return self.raw


class NoVisibleText(IncrementalParser):
    """Nothing is visible before the output is complete (typed JSON, reasoning first)."""

    def visible(self) -> str | None:
        return None
