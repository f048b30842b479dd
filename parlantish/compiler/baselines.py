"""The evaluator's baseline arms, built from the same blueprint so arms differ only in the
checkpoints: ``direct`` (a plain reply) and ``cot`` (free reasoning, then the reply)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema

from parlantish.core.constraints import Constraint
from parlantish.compiler.answers import nest_schema
from parlantish.compiler.plan import OutputParseError, ParsedOutput

__all__ = ["CotJsonLayout", "CotTextLayout", "DirectLayout"]

REASONING_MAX_CHARS = 1200
REASONING_MAX_TOKENS = 300
REPLY_MARKER = "\n[Reply]\n"
REASONING_PREFIX = "Reasoning: "


@dataclass(frozen=True)
class DirectLayout:
    """A plain reply: free text (no constraint), or JSON when the reply is typed."""

    reply_schema: dict[str, Any] | None
    budget: int
    mode: str = "plain"

    def constraint(self) -> Constraint | None:
        return Constraint.json_schema(self.reply_schema, check=False) if self.reply_schema else None

    def max_tokens(self) -> int:
        return self.budget

    def parse(self, text: str) -> ParsedOutput:
        if self.reply_schema is None:
            return ParsedOutput(raw=text, reply=text)
        try:
            value = json.loads(text)
            jsonschema.validate(value, self.reply_schema)
        except (ValueError, jsonschema.ValidationError) as e:
            raise OutputParseError(f"reply does not match its schema: {e}") from e
        return ParsedOutput(raw=text, reply=value)


@dataclass(frozen=True)
class CotJsonLayout:
    """``{"reasoning": free text, "reply": …}``: chain of thought in the same JSON form as ARQ."""

    reply_schema: dict[str, Any]
    budget: int
    mode: str = "cot"

    def schema(self) -> dict[str, Any]:
        reasoning = {"reasoning": {"type": "string", "maxLength": REASONING_MAX_CHARS}}
        return nest_schema(self.reply_schema, reasoning, "reply")

    def constraint(self) -> Constraint:
        return Constraint.json_schema(self.schema(), check=False)

    def max_tokens(self) -> int:
        return self.budget + REASONING_MAX_TOKENS

    def parse(self, text: str) -> ParsedOutput:
        try:
            value = json.loads(text)
            jsonschema.validate(value, self.schema())
        except (ValueError, jsonschema.ValidationError) as e:
            raise OutputParseError(f"output does not match the cot schema: {e}") from e
        return ParsedOutput(raw=text, reply=value["reply"], reasoning=value["reasoning"])


@dataclass(frozen=True)
class CotTextLayout:
    """Long-form chain of thought: ``Reasoning: …`` then ``[Reply]`` and free text."""

    budget: int
    mode: str = "cot"

    def constraint(self) -> Constraint:
        return Constraint.structural_tag(
            {
                "format": {
                    "type": "sequence",
                    "elements": [
                        {"type": "const_string", "value": REASONING_PREFIX},
                        {"type": "any_text", "max_tokens": REASONING_MAX_TOKENS},
                        {"type": "const_string", "value": REPLY_MARKER},
                        {"type": "any_text", "max_tokens": self.budget},
                    ],
                }
            }
        )

    def max_tokens(self) -> int:
        return self.budget + REASONING_MAX_TOKENS + 16

    def parse(self, text: str) -> ParsedOutput:
        if not text.startswith(REASONING_PREFIX) or REPLY_MARKER not in text:
            raise OutputParseError("output lacks the reasoning prefix or the [Reply] marker")
        reasoning, reply = text[len(REASONING_PREFIX) :].split(REPLY_MARKER, 1)
        return ParsedOutput(raw=text, reply=reply, reasoning=reasoning)
