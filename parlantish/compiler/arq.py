"""ARQ mode: one JSON object whose properties, in order, are the checkpoints and the reply.

Each checkpoint is ``{"recall": {id: text, …}, "ask": query, "answer": …}`` where the recalled
texts and the query are ``const``: the model must write them out, word for word, before it
answers, so the instruction sits right in front of the decision it governs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from parlantish.compiler.answers import example_answer, nest_schema
from parlantish.compiler.plan import (
    CheckpointAnswer,
    CompiledCheckpoint,
    OutputParseError,
    ParsedOutput,
)
from parlantish.compiler.stream import CheckpointEvent, IncrementalParser, StreamParser
from parlantish.core.constraints import Constraint

__all__ = ["REPLY_KEY", "REPLY_RECALL_KEY", "ArqLayout"]

REPLY_KEY = "reply"
REPLY_RECALL_KEY = "reply_recall"


def _recall_schema(recall: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"const": text} for name, text in recall},
        "required": [name for name, _ in recall],
        "additionalProperties": False,
    }


def _bounded_length(schema: dict[str, Any]) -> int:
    """A rough upper bound, in characters, of a value valid under ``schema``."""
    if "const" in schema:
        return len(json.dumps(schema["const"]))
    kind = schema.get("type")
    if kind == "string":
        if "enum" in schema:
            return max(len(v) for v in schema["enum"]) + 2
        return schema.get("maxLength", 400) + 2
    if kind in ("integer", "number"):
        return 24
    if kind == "boolean":
        return 5
    if kind == "array":
        return (schema.get("maxItems", 5)) * (_bounded_length(schema["items"]) + 2) + 2
    if kind == "object":
        return (
            sum(len(k) + 4 + _bounded_length(v) for k, v in schema.get("properties", {}).items())
            + 2
        )
    return 400


@dataclass(frozen=True)
class ArqLayout:
    """Checkpoints then the reply, as a JSON schema with forced ``const`` restatements."""

    checkpoints: tuple[CompiledCheckpoint, ...]
    reply_recall: tuple[tuple[str, str], ...]
    reply_schema: dict[str, Any]
    mode: str = "arq"

    def schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for checkpoint in self.checkpoints:
            parts: dict[str, Any] = {}
            if checkpoint.recall:
                parts["recall"] = _recall_schema(checkpoint.recall)
            parts["ask"] = {"const": checkpoint.ask}
            parts["answer"] = checkpoint.answer_schema
            properties[checkpoint.id] = {
                "type": "object",
                "properties": parts,
                "required": list(parts),
                "additionalProperties": False,
            }
        if self.reply_recall:
            properties[REPLY_RECALL_KEY] = _recall_schema(self.reply_recall)
        return nest_schema(self.reply_schema, properties, REPLY_KEY)

    def constraint(self) -> Constraint:
        return Constraint.json_schema(self.schema(), check=False)

    def stream_parser(self) -> StreamParser:
        return _ArqStream(self)

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str:
        """Valid output with ``reply`` as the reply (checkpoint answers from ``answers`` or
        the simplest value of their types)."""
        value: dict[str, Any] = {}
        for checkpoint in self.checkpoints:
            part: dict[str, Any] = {"recall": dict(checkpoint.recall)} if checkpoint.recall else {}
            part["ask"] = checkpoint.ask
            part["answer"] = answers.get(checkpoint.id, example_answer(checkpoint.answer_schema))
            value[checkpoint.id] = part
        if self.reply_recall:
            value[REPLY_RECALL_KEY] = dict(self.reply_recall)
        value[REPLY_KEY] = reply
        return json.dumps(value, ensure_ascii=False)

    def max_tokens(self) -> int:
        # Worst case one character per token (small models emit digits and spaces singly).
        return _bounded_length(self.schema()) + 64

    def checkpoint_tokens(self) -> int:
        return self.max_tokens() - _bounded_length(self.reply_schema)

    def parse_cut(self, text: str) -> ParsedOutput | None:
        """A text reply cut inside its string, after every checkpoint (typed replies cut
        short cannot be read)."""
        if self.reply_schema.get("type") != "string":
            return None
        stream = _ArqStream(self)
        stream.raw = text
        events = stream.checkpoints()
        reply = stream.visible()
        if reply is None or len(events) != len(self.checkpoints):
            return None
        answers = tuple(
            CheckpointAnswer(id=e.id, recall=tuple(e.recall), ask=e.ask, answer=e.answer)
            for e in events
        )
        return ParsedOutput(raw=text, reply=reply, checkpoints=answers)

    def parse(self, text: str) -> ParsedOutput:
        try:
            value = json.loads(text)
        except ValueError as e:
            raise OutputParseError(f"output is not JSON: {e}") from e
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(self.schema()).iter_errors(value)
        )
        if error is not None:
            where = "/".join(map(str, error.absolute_path)) or "(root)"
            raise OutputParseError(f"output does not match the plan at {where}: {error.message}")
        answers = tuple(
            CheckpointAnswer(
                id=c.id,
                recall=tuple(value[c.id].get("recall", {}).values()),
                ask=value[c.id]["ask"],
                answer=value[c.id]["answer"],
            )
            for c in self.checkpoints
        )
        return ParsedOutput(raw=text, reply=value[REPLY_KEY], checkpoints=answers)


_REPLY_START = re.compile(r'"reply"\s*:\s*"')


_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}")


def _decode_partial_json_string(body: str) -> str:
    """The complete part of a JSON string body (up to its closing quote, if written yet); an
    escaped surrogate pair is decoded whole, and a high surrogate waits for its partner."""
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == '"':
            break
        if char == "\\":
            width = 6 if body[i + 1 : i + 2] == "u" else 2
            if width == 6 and _HIGH_SURROGATE.match(body, i):
                if not _SURROGATE_PAIR.match(body, i):
                    if i + 12 > len(body):
                        break  # its low surrogate is not written yet
                else:
                    width = 12
            if i + width > len(body):
                break
            out.append(json.loads(f'"{body[i : i + width]}"'))
            i += width
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _ArqStream(IncrementalParser):
    """Checkpoint answers as each object closes; the reply string unescaped as it grows."""

    def __init__(self, layout: ArqLayout):
        super().__init__()
        self.layout = layout
        self._emitted: set[str] = set()

    def checkpoints(self) -> list[CheckpointEvent]:
        events = []
        decoder = json.JSONDecoder()
        for checkpoint in self.layout.checkpoints:
            if checkpoint.id in self._emitted:
                continue
            found = re.search(rf'"{re.escape(checkpoint.id)}"\s*:\s*', self.raw)
            if found is None:
                break
            try:
                value, _ = decoder.raw_decode(self.raw, found.end())
            except ValueError:
                break  # not complete yet
            self._emitted.add(checkpoint.id)
            events.append(
                CheckpointEvent(
                    checkpoint.id,
                    checkpoint.recall_texts,
                    checkpoint.ask,
                    value.get("answer") if isinstance(value, dict) else None,
                )
            )
        return events

    def visible(self) -> str | None:
        # The last match: a checkpoint's answer may itself contain the text "reply":".
        matches = list(_REPLY_START.finditer(self.raw))
        if not matches:
            return None
        return _decode_partial_json_string(self.raw[matches[-1].end() :])
