"""Writing a valid output for a plan: for scripting tests of blueprints without a model.

``example_output(plan, "Hello Dana.")`` is text the plan's constraint accepts and ``plan.parse``
reads back into that reply (checkpoint answers filled from their types unless given). Use it with
the scripted backend to test code built on blueprints::

    backend = ScriptedBackend(lambda request: example_output(plan, "a reply"))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from parlantish.compiler.arq import REPLY_KEY, REPLY_RECALL_KEY, ArqLayout
from parlantish.compiler.baselines import (
    REASONING_PREFIX,
    REPLY_MARKER,
    CotJsonLayout,
    CotTextLayout,
    DirectLayout,
)
from parlantish.compiler.longform import LongformLayout, checkpoint_prefix
from parlantish.compiler.plan import CompiledCheckpoint, Plan

__all__ = ["example_answer", "example_output"]


def example_answer(schema: Mapping[str, Any]) -> Any:
    """A value of the answer type described by ``schema`` (the simplest valid one)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "array":
        item = schema.get("items", {"type": "string"})
        return [example_answer(item) for _ in range(schema.get("minItems", 0))]
    if kind == "object":
        return {k: example_answer(v) for k, v in schema.get("properties", {}).items()}
    return "x" * max(1, schema.get("minLength", 1))


def _answer(checkpoint: CompiledCheckpoint, answers: Mapping[str, Any]) -> Any:
    return answers.get(checkpoint.id, example_answer(checkpoint.answer_schema))


def _longform_answer(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def example_output(
    plan: Plan,
    reply: str | Sequence[str] | Mapping[str, Any],
    *,
    answers: Mapping[str, Any] | None = None,
    reasoning: str = "I follow every instruction.",
) -> str:
    """Text in the shape of ``plan``'s output with ``reply`` as the reply (for long-form plans a
    list of segments, or one string as a single segment; for typed replies a mapping)."""
    answers = answers or {}
    layout = plan.layout
    if isinstance(layout, ArqLayout):
        value: dict[str, Any] = {}
        for checkpoint in layout.checkpoints:
            part: dict[str, Any] = {"recall": dict(checkpoint.recall)} if checkpoint.recall else {}
            part["ask"] = checkpoint.ask
            part["answer"] = _answer(checkpoint, answers)
            value[checkpoint.id] = part
        if layout.reply_recall:
            value[REPLY_RECALL_KEY] = dict(layout.reply_recall)
        value[REPLY_KEY] = reply
        return json.dumps(value, ensure_ascii=False)
    if isinstance(layout, LongformLayout):
        lines = [
            checkpoint_prefix(c) + _longform_answer(_answer(c, answers)) + "\n"
            for c in layout.checkpoints
        ]
        segments = [reply] if isinstance(reply, str) else list(reply)
        return "".join(lines) + layout.reply_prefix + layout.reminder.join(map(str, segments))
    if isinstance(layout, CotJsonLayout):
        return json.dumps({"reasoning": reasoning, "reply": reply}, ensure_ascii=False)
    if isinstance(layout, CotTextLayout):
        return REASONING_PREFIX + reasoning + REPLY_MARKER + _text(reply)
    if isinstance(layout, DirectLayout) and layout.reply_schema is not None:
        return json.dumps(reply, ensure_ascii=False)
    return _text(reply)


def _text(reply: str | Sequence[str] | Mapping[str, Any]) -> str:
    if isinstance(reply, str):
        return reply
    if isinstance(reply, Mapping):
        return json.dumps(reply, ensure_ascii=False)
    return "\n".join(reply)
