"""Reading a guarded generation while it streams: checkpoint answers as they complete, then the
visible reply text (JSON string unescaped in ARQ mode, reminders removed in long-form mode)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from parlantish.compiler.plan import Plan

__all__ = ["CheckpointEvent", "FinalEvent", "RetryEvent", "StreamParser", "TextDelta"]


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


@dataclass(frozen=True)
class RetryEvent:
    """The attempt just streamed was rejected; another follows."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class FinalEvent:
    """The call's result (the same object ``reply`` would return)."""

    reply: Any


_REPLY_START = re.compile(r'"reply"\s*:\s*"')


def _decode_partial_json_string(body: str) -> tuple[str, bool]:
    """Decode the complete part of a JSON string body; returns (text, closed)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            return "".join(out), True
        if char == "\\":
            if i + 1 >= len(body):
                break
            if body[i + 1] == "u":
                if i + 6 > len(body):
                    break
                out.append(json.loads(f'"{body[i : i + 6]}"'))
                i += 6
                continue
            out.append(json.loads(f'"{body[i : i + 2]}"'))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out), False


class StreamParser:
    """Feed raw text as it arrives; get events for what became complete."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.raw = ""
        self._emitted_checkpoints: set[str] = set()
        self._sent = 0  # characters of visible reply already emitted

    def feed(self, delta: str) -> list[CheckpointEvent | TextDelta]:
        self.raw += delta
        events: list[CheckpointEvent | TextDelta] = []
        if self.plan.mode == "arq":
            events += self._arq_checkpoints()
            visible = self._arq_reply_text()
        elif self.plan.mode == "longform":
            visible = self._longform_reply_text()
        else:
            visible = self.raw if self.plan.constraint is None else None
        if visible is not None and len(visible) > self._sent:
            events.append(TextDelta(visible[self._sent :]))
            self._sent = len(visible)
        return events

    def _arq_checkpoints(self) -> list[CheckpointEvent]:
        events = []
        decoder = json.JSONDecoder()
        for checkpoint in self.plan.checkpoints:
            if checkpoint.id in self._emitted_checkpoints:
                continue
            found = re.search(rf'"{re.escape(checkpoint.id)}"\s*:\s*', self.raw)
            if found is None:
                break
            try:
                value, _ = decoder.raw_decode(self.raw, found.end())
            except ValueError:
                break  # not complete yet
            self._emitted_checkpoints.add(checkpoint.id)
            events.append(
                CheckpointEvent(
                    checkpoint.id,
                    checkpoint.recall_texts,
                    checkpoint.ask,
                    value.get("answer") if isinstance(value, dict) else None,
                )
            )
        return events

    def _arq_reply_text(self) -> str | None:
        # The last match: a checkpoint's answer may itself contain the text "reply":".
        matches = list(_REPLY_START.finditer(self.raw))
        if not matches:
            return None
        found = matches[-1]
        text, _ = _decode_partial_json_string(self.raw[found.end() :])
        return text

    def _longform_reply_text(self) -> str | None:
        layout: Any = self.plan.layout
        start = self.raw.find(layout.reply_prefix)
        if start < 0:
            return None
        body = self.raw[start + len(layout.reply_prefix) :]
        reminder = layout.reminder
        visible = body.replace(reminder, "\n")
        # Hold back a tail that may be the start of a reminder still being written.
        for keep in range(min(len(reminder) - 1, len(visible)), 0, -1):
            if reminder.startswith(visible[-keep:]):
                return visible[:-keep]
        return visible
