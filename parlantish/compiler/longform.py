"""Long-form mode: checkpoints as forced text lines, then the reply in bounded segments with a
forced reminder of the key instructions between segments.

The layout is built once as an xgrammar structural-tag format tree (``sequence``,
``const_string``, ``regex``, ``json_schema``, ``any_text`` with ``max_tokens``, ``optional``); the
Lark grammar (for backends without structural tags) and the conformance check are translations
of that one tree (``parlantish.core.formats``), so the targets cannot disagree. This module also
owns the format's parser, stream parser and example text.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from parlantish.blueprint.templates import render_template
from parlantish.checks.enforce import TextRule
from parlantish.checks.textutil import count_sentences, count_words
from parlantish.compiler.answers import example_answer
from parlantish.compiler.baselines import text_elements, wrap_text
from parlantish.compiler.checkpoint_lines import (
    answer_format,
    answer_text,
    checkpoint_prefix,
    coerce_answer,
)
from parlantish.compiler.plan import (
    CheckpointAnswer,
    CompiledCheckpoint,
    OutputParseError,
    ParsedOutput,
)
from parlantish.compiler.stream import IncrementalParser, StreamParser
from parlantish.core.constraints import Constraint
from parlantish.errors import Location

__all__ = ["LongformLayout", "reminder_text", "with_progress"]

CHARS_PER_TOKEN = 3


def reminder_text(texts: list[str]) -> str:
    """The forced reminder between segments."""
    return "\n[Reminder: " + " ".join(texts) + "]\n"


#: Most characters of a rendered progress statement (it goes inside a reminder's brackets).
PROGRESS_MAX_CHARS = 200


def with_progress(reminder: str, progress: str) -> str:
    """``reminder`` stating ``progress`` too (brackets and line breaks taken out of it)."""
    progress = re.sub(r"[\[\]\s]+", " ", progress).strip()[:PROGRESS_MAX_CHARS]
    if not progress:
        return reminder
    if reminder.startswith("\n[Reminder: ") and reminder.endswith("]\n"):
        return reminder[:-2] + " " + progress + "]\n"
    return "\n[Reminder: " + progress + "]\n"


@dataclass(frozen=True)
class LongformLayout:
    """Checkpoint lines, then ``[Reply]`` and segments separated by forced reminders.

    ``groups`` lists the reply's blocks between reminders: each block's token budget; blocks
    from index ``min_groups`` on are optional (the model may end the reply before them).
    """

    checkpoints: tuple[CompiledCheckpoint, ...]
    reply_recall: tuple[tuple[str, str], ...]
    reminder: str
    groups: tuple[int, ...]
    min_groups: int
    target: Literal["structural_tag", "grammar"] = "structural_tag"
    mode: str = "longform"
    segment_min_tokens: int = 1  # stepwise: tokens before a sentence end may close a segment
    segment_tokens: int = 0  # the budget of one segment (a group holds one or more)

    def group_min_tokens(self, index: int) -> int:
        """Stepwise: tokens group ``index`` writes before a sentence end may close it (all its
        segments but the last in full, then the last one's minimum)."""
        budget = self.groups[index]
        if not self.segment_tokens:
            return min(self.segment_min_tokens, budget)
        return max(1, min(budget, budget - self.segment_tokens + self.segment_min_tokens))

    #: The enforced checks' rule: excluded strings in every segment, the forced start in the
    #: first, the forced end wherever the reply may end. ``None``: nothing enforced.
    rule: TextRule | None = None
    #: Stepwise: the template stating progress in each reminder, its location, and the
    #: blueprint's variables (JSON) it may use besides the progress variables.
    progress: str | None = None
    progress_at: Location | None = None
    progress_variables: str = "{}"

    def reminder_after(self, segments: Sequence[str]) -> str:
        """The reminder following ``segments`` (the reply so far) in a stepwise plan: the fixed
        reminder, stating the reply's progress when the blueprint asks for it."""
        if self.progress is None:
            return self.reminder
        reply = "\n".join(segments)
        context = {
            **json.loads(self.progress_variables),
            "words": count_words(reply),
            "sentences": count_sentences(reply) if reply.strip() else 0,
            "segments_done": len(segments),
            "segments_left": max(0, len(self.groups) - len(segments)),
        }
        where = self.progress_at or Location("<blueprint>")
        return with_progress(self.reminder, render_template(self.progress, context, where))

    def _reminder_pattern(self) -> re.Pattern[str]:
        """The reminders a reply may hold: the fixed one, or it stating progress."""
        if self.progress is None:
            return re.compile(re.escape(self.reminder))
        if self.reminder.startswith("\n[Reminder: ") and self.reminder.endswith("]\n"):
            base = re.escape(self.reminder[:-2])
            return re.compile(base + r"(?: [^\[\]\n]*)?\]\n")
        return re.compile(re.escape(self.reminder) + r"|\n\[Reminder: [^\[\]\n]*\]\n")

    @property
    def head(self) -> str:
        """Forced text opening the reply (prefilled by a stepwise plan)."""
        return self.rule.head if self.rule else ""

    @property
    def tail(self) -> str:
        """Forced text closing the reply (appended by a stepwise plan)."""
        return self.rule.tail if self.rule else ""

    def _segment(self, index: int, *, last: bool) -> list[dict[str, Any]]:
        if self.rule is None:
            return [{"type": "any_text", "max_tokens": self.groups[index]}]
        return text_elements(self.rule, self.groups[index], first=index == 0, last=last)

    def segment_constraint(self, index: int) -> Constraint | None:
        """The constraint of segment ``index`` generated alone (a stepwise plan's segment step,
        after the prefilled forced start): its excluded strings, and the opening character a
        first segment needs; ``None`` when nothing is enforced."""
        if self.rule is None:
            return None
        if not self.rule.free_excludes and self.rule.body_lead(index == 0) is None:
            return None
        elements = self.rule.body_elements(self.groups[index], first=index == 0)
        return Constraint.from_format({"type": "sequence", "elements": elements}, self.target)

    def opening_constraint(self) -> Constraint | None:
        """A stepwise plan's first reply step, after its prefilled forced start: the opening
        parts (a title, a fixed answer) under their constraint; ``None`` when there are none."""
        if self.rule is None or not self.rule.opening:
            return None
        tree = {"type": "sequence", "elements": self.rule.opening_elements()}
        return Constraint.from_format(tree, self.target)

    def closing_constraint(self) -> Constraint | None:
        """A stepwise plan's last step before its forced end: the closing parts (a
        postscript) under their constraint; ``None`` when there are none."""
        if self.rule is None or not self.rule.closing:
            return None
        tree = {"type": "sequence", "elements": self.rule.closing_elements()}
        return Constraint.from_format(tree, self.target)

    @property
    def reply_prefix(self) -> str:
        recall = (
            ("Recall: " + " ".join(t for _, t in self.reply_recall) + "\n")
            if self.reply_recall
            else ""
        )
        return f"{recall}[Reply]\n"

    def format_tree(self) -> dict[str, Any]:
        """The layout as an xgrammar structural-tag ``format``."""
        elements: list[dict[str, Any]] = []
        for checkpoint in self.checkpoints:
            elements.append({"type": "const_string", "value": checkpoint_prefix(checkpoint)})
            elements.append(answer_format(checkpoint.answer_schema))
            elements.append({"type": "const_string", "value": "\n"})
        elements.append({"type": "const_string", "value": self.reply_prefix})
        ending = self.rule.closing_elements() if self.rule else []
        if self.tail:
            ending.append({"type": "const_string", "value": self.tail})

        def after(index: int) -> list[dict[str, Any]]:
            # What may follow segment ``index``: the end of the reply, the next segment, or both.
            if index + 1 >= len(self.groups):
                return ending
            block: list[dict[str, Any]] = [
                {"type": "const_string", "value": self.reminder},
                *self._segment(index + 1, last=False),
                *after(index + 1),
            ]
            if index + 1 < self.min_groups:
                return block
            if not ending:
                return [{"type": "optional", "content": {"type": "sequence", "elements": block}}]
            return [
                {
                    "type": "or",
                    "elements": [
                        {"type": "sequence", "elements": ending},
                        {"type": "sequence", "elements": block},
                    ],
                }
            ]

        elements.extend(self._segment(0, last=False))
        elements.extend(after(0))
        return {"type": "sequence", "elements": elements}

    def constraint(self) -> Constraint:
        return Constraint.from_format(self.format_tree(), self.target)

    def stream_parser(self) -> StreamParser:
        return _LongformStream(self)

    def read_answer(self, checkpoint: CompiledCheckpoint, text: str) -> Any:
        """A checkpoint's answer text as its typed value (as ``parse`` reads it)."""
        if answer_format(checkpoint.answer_schema)["type"] == "json_schema":
            try:
                return json.loads(text)
            except ValueError:
                return text
        return coerce_answer(checkpoint.answer_schema, text)

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str:
        """Valid output with ``reply`` (one string, or a list of segments)."""
        lines = [
            checkpoint_prefix(c)
            + answer_text(answers.get(c.id, example_answer(c.answer_schema)))
            + "\n"
            for c in self.checkpoints
        ]
        segments = [reply] if isinstance(reply, str) else [str(s) for s in reply]
        if self.rule is not None:
            segments[0] = wrap_text(self.rule, segments[0], end=False)
            segments[-1] = wrap_text(self.rule, segments[-1], start=False)
        return "".join(lines) + self.reply_prefix + self.reminder.join(segments)

    def max_tokens(self) -> int:
        forced = sum(len(checkpoint_prefix(c)) for c in self.checkpoints)
        forced += len(self.reply_prefix) + len(self.reminder) * (len(self.groups) - 1)
        answers = 300 * len(self.checkpoints)  # one-line answers, at worst a token per character
        forced += len(self.head + self.tail)
        shaped = self.rule.shaped_tokens if self.rule else 0
        # Constrained decoding may spell forced text a character per token; where the reply
        # must reach a forced end (an enforced ending or closing part), the budget allows that,
        # so the engine never cuts the reply before it (measured: a 7-reminder IFEval plan used
        # 1,360 tokens where the estimate at three characters per token was 1,360).
        must_end = self.rule is not None and bool(self.rule.tail or self.rule.closing)
        per_token = 1 if must_end else CHARS_PER_TOKEN
        return forced // per_token + shaped + answers + sum(self.groups) + 32

    def checkpoint_tokens(self) -> int:
        return self.max_tokens() - sum(self.groups)

    def parse_cut(self, text: str) -> ParsedOutput | None:
        """A reply cut before its last required segment, after every checkpoint."""
        try:
            return self.parse(text, cut=True)
        except OutputParseError:
            return None

    def parse(self, text: str, *, cut: bool = False) -> ParsedOutput:
        position = 0

        def expect(literal: str) -> None:
            nonlocal position
            if not text.startswith(literal, position):
                found = text[position : position + len(literal)]
                raise OutputParseError(
                    f"expected {literal!r} at offset {position}, found {found!r}"
                )
            position += len(literal)

        answers = []
        for checkpoint in self.checkpoints:
            expect(checkpoint_prefix(checkpoint))
            fmt = answer_format(checkpoint.answer_schema)
            if fmt["type"] == "json_schema":
                try:
                    value, end = json.JSONDecoder().raw_decode(text, position)
                except ValueError as e:
                    raise OutputParseError(
                        f"checkpoint {checkpoint.id!r}: answer is not JSON: {e}"
                    ) from e
            else:
                end = text.find("\n", position)
                end = len(text) if end < 0 else end
                if not re.fullmatch(fmt["pattern"], text[position:end]):
                    raise OutputParseError(
                        f"checkpoint {checkpoint.id!r}: answer {text[position:end]!r} "
                        "does not have the expected form"
                    )
                value = coerce_answer(checkpoint.answer_schema, text[position:end])
            position = end
            expect("\n")
            answers.append(
                CheckpointAnswer(
                    id=checkpoint.id,
                    recall=tuple(checkpoint.recall_texts),
                    ask=checkpoint.ask,
                    answer=value,
                )
            )
        expect(self.reply_prefix)
        # At most one reminder per group boundary: reminder text inside the last segment (a
        # model may copy the reminder it was shown) stays part of that segment.
        body, pattern = text[position:], self._reminder_pattern()
        # re.split's maxsplit 0 means no limit: a one-group reply is not split at all.
        cuts = list(itertools.islice(pattern.finditer(body), len(self.groups) - 1))
        reminders = tuple(m.group(0) for m in cuts)
        edges = [0, *(e for m in cuts for e in (m.start(), m.end())), len(body)]
        segments = [body[edges[i] : edges[i + 1]] for i in range(0, len(edges), 2)]
        low = 1 if cut else self.min_groups
        if not low <= len(segments) <= len(self.groups):
            raise OutputParseError(
                f"the reply has {len(segments)} segments; "
                f"expected {self.min_groups} to {len(self.groups)}"
            )
        return ParsedOutput(
            raw=text,
            reply="\n".join(segments),
            checkpoints=tuple(answers),
            segments=tuple(segments),
            reminders=reminders,
        )


class _LongformStream(IncrementalParser):
    """Visible text after ``[Reply]``, reminders shown as line breaks (as ``parse`` joins
    segments), holding back a tail that may be the start of a reminder."""

    def __init__(self, layout: LongformLayout):
        super().__init__()
        self.layout = layout

    def visible(self) -> str | None:
        start = self.raw.find(self.layout.reply_prefix)
        if start < 0:
            return None
        body = self.raw[start + len(self.layout.reply_prefix) :]
        reminder = self.layout.reminder
        visible = body.replace(reminder, "\n", len(self.layout.groups) - 1)
        for keep in range(min(len(reminder) - 1, len(visible)), 0, -1):
            if reminder.startswith(visible[-keep:]):
                return visible[:-keep]
        return visible
