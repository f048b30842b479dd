"""A checkpoint as lines of text in a long-form output: the forced lines that open it, the
format and constraint of its answer, and the answer read back or written out."""

from __future__ import annotations

import json
import re
from typing import Any

from parlantish.compiler.plan import CompiledCheckpoint
from parlantish.core.constraints import Constraint

__all__ = [
    "answer_constraint",
    "answer_format",
    "answer_text",
    "checkpoint_prefix",
    "coerce_answer",
]


def checkpoint_prefix(checkpoint: CompiledCheckpoint) -> str:
    """The forced lines opening a checkpoint: its name, recalled instructions and question."""
    lines = [f"[Checkpoint {checkpoint.id}]"]
    if checkpoint.recall:
        lines.append("Recall: " + " ".join(checkpoint.recall_texts))
    lines.append(f"Question: {checkpoint.ask}")
    return "\n".join(lines) + "\nAnswer: "


def answer_format(schema: dict[str, Any]) -> dict[str, Any]:
    """Scalar answers as a one-line regex, structured ones as embedded JSON."""
    kind = schema.get("type")
    if kind == "boolean":
        return {"type": "regex", "pattern": "(yes|no)"}
    if kind == "string" and "enum" in schema:
        return {
            "type": "regex",
            "pattern": "(" + "|".join(re.escape(v) for v in schema["enum"]) + ")",
        }
    if kind == "integer":
        return {"type": "regex", "pattern": "-?[0-9]{1,18}"}
    if kind == "number":
        return {"type": "regex", "pattern": r"-?[0-9]{1,18}(\.[0-9]{1,12})?"}
    if kind == "string":
        if "pattern" in schema:
            return {"type": "regex", "pattern": schema["pattern"]}
        low, high = schema.get("minLength", 1) or 1, schema.get("maxLength", 300)
        return {"type": "regex", "pattern": f"[^\\n]{{{low},{high}}}"}
    return {"type": "json_schema", "json_schema": schema}


def answer_constraint(checkpoint: CompiledCheckpoint) -> Constraint:
    """The constraint of a checkpoint's answer alone (a stepwise plan's answer step)."""
    fmt = answer_format(checkpoint.answer_schema)
    if fmt["type"] == "regex":
        return Constraint.regex(fmt["pattern"])
    return Constraint.json_schema(fmt["json_schema"], check=False)


def coerce_answer(schema: dict[str, Any], text: str) -> Any:
    """A scalar answer's text as its typed value."""
    kind = schema.get("type")
    if kind == "boolean":
        return text == "yes"
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    return text


def answer_text(value: Any) -> str:
    """A typed answer as the text the layout writes (examples)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
