"""The evaluator's baseline arms, built from the same blueprint so arms differ only in the
checkpoints: ``direct`` (a plain reply) and ``cot`` (free reasoning, then the reply)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema

from parlantish.checks.enforce import TextRule
from parlantish.compiler.answers import nest_schema
from parlantish.compiler.plan import OutputParseError, ParsedOutput
from parlantish.compiler.stream import NoVisibleText, PlainText, StreamParser
from parlantish.core.constraints import Constraint

__all__ = ["CotJsonLayout", "CotTextLayout", "DirectLayout", "reply_text", "text_elements"]

REASONING_MAX_CHARS = 1200
REASONING_MAX_TOKENS = 300
REPLY_MARKER = "\n[Reply]\n"
REASONING_PREFIX = "Reasoning: "


def text_elements(
    rule: TextRule, max_tokens: int, *, first: bool = True, last: bool = True
) -> list[dict[str, Any]]:
    """Format-tree elements of reply text under an enforced ``rule``: the forced start (when
    ``first``), free text without the excluded strings, the forced end (when ``last``)."""
    elements: list[dict[str, Any]] = []
    if first and rule.head:
        elements.append({"type": "const_string", "value": rule.head})
    if first:
        elements.extend(rule.opening_elements())
    elements.extend(rule.body_elements(max_tokens, first=first))
    if last:
        elements.extend(rule.closing_elements())
    if last and rule.tail:
        elements.append({"type": "const_string", "value": rule.tail})
    return elements


def wrap_text(rule: TextRule | None, text: str, *, start: bool = True, end: bool = True) -> str:
    """``text`` with the rule's forced start and end (and shaped parts) added where it lacks
    them (examples); ``start``/``end`` pick the sides."""
    if rule is None:
        return text
    opening, closing = rule.example_start(), rule.example_end()
    if start and not text.startswith(opening):
        text = opening + text
    if end and not text.endswith(closing):
        text += closing
    return text


@dataclass(frozen=True)
class DirectLayout:
    """A plain reply: free text (no constraint, or the enforced ``rule`` as a structural tag),
    or JSON when the reply is typed."""

    reply_schema: dict[str, Any] | None
    budget: int
    mode: str = "plain"
    rule: TextRule | None = None
    target: Literal["structural_tag", "grammar"] = "structural_tag"

    def format_tree(self) -> dict[str, Any] | None:
        """The enforced reply as a structural-tag format, or ``None`` when nothing is enforced."""
        if self.rule is None or self.reply_schema is not None:
            return None
        return {"type": "sequence", "elements": text_elements(self.rule, self.budget)}

    def constraint(self) -> Constraint | None:
        tree = self.format_tree()
        if tree is not None:
            return Constraint.from_format(tree, self.target)
        return Constraint.json_schema(self.reply_schema, check=False) if self.reply_schema else None

    def stream_parser(self) -> StreamParser:
        return PlainText() if self.reply_schema is None else NoVisibleText()

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str:
        if self.reply_schema is not None:
            return json.dumps(reply, ensure_ascii=False)
        return wrap_text(self.rule, reply_text(reply))

    def max_tokens(self) -> int:
        if self.rule is None:
            return self.budget
        return self.budget + len(self.rule.head + self.rule.tail) + self.rule.shaped_tokens

    def checkpoint_tokens(self) -> int:
        return 0  # the whole output is the reply (an enforced start and end included)

    def parse_cut(self, text: str) -> ParsedOutput | None:
        return None  # text always parses; JSON cut short cannot be read

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

    def stream_parser(self) -> StreamParser:
        return NoVisibleText()

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str:
        return json.dumps({"reasoning": reasoning, "reply": reply}, ensure_ascii=False)

    def max_tokens(self) -> int:
        return self.budget + REASONING_MAX_TOKENS

    def checkpoint_tokens(self) -> int:
        return REASONING_MAX_TOKENS

    def parse_cut(self, text: str) -> ParsedOutput | None:
        return None

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
    target: Literal["structural_tag", "grammar"] = "structural_tag"
    mode: str = "cot"

    def format_tree(self) -> dict[str, Any]:
        return {
            "type": "sequence",
            "elements": [
                {"type": "const_string", "value": REASONING_PREFIX},
                {"type": "any_text", "max_tokens": REASONING_MAX_TOKENS},
                {"type": "const_string", "value": REPLY_MARKER},
                {"type": "any_text", "max_tokens": self.budget},
            ],
        }

    def constraint(self) -> Constraint:
        return Constraint.from_format(self.format_tree(), self.target)

    def stream_parser(self) -> StreamParser:
        return NoVisibleText()

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str:
        return REASONING_PREFIX + reasoning + REPLY_MARKER + reply_text(reply)

    def max_tokens(self) -> int:
        return self.budget + REASONING_MAX_TOKENS + 16

    def checkpoint_tokens(self) -> int:
        return REASONING_MAX_TOKENS + 16

    def parse_cut(self, text: str) -> ParsedOutput | None:
        return None  # cut before [Reply]: the parse already reads one cut after it

    def parse(self, text: str) -> ParsedOutput:
        if not text.startswith(REASONING_PREFIX) or REPLY_MARKER not in text:
            raise OutputParseError("output lacks the reasoning prefix or the [Reply] marker")
        reasoning, reply = text[len(REASONING_PREFIX) :].split(REPLY_MARKER, 1)
        return ParsedOutput(raw=text, reply=reply, reasoning=reasoning)


def reply_text(reply: str | Sequence[str] | Mapping[str, Any]) -> str:
    """A reply given as text, segments (joined by line breaks) or a mapping (as JSON)."""
    if isinstance(reply, str):
        return reply
    if isinstance(reply, Mapping):
        return json.dumps(reply, ensure_ascii=False)
    return "\n".join(reply)
