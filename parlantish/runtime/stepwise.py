"""Stepwise execution of long-form plans: one request per step, forced text prefilled.

The assistant's message so far (checkpoint lines, answers, reminders, accepted segments) is the
prefix each request continues (``continue_final_message``), so forced text is prefilled, never
decoded; only the generated part is constrained (a checkpoint's answer form; a segment's budget
and sentence ends). The text built is exactly what the fused plan's constraint accepts, so
``plan.parse`` reads it back unchanged.

Segments (but the last) end at the first sentence end after their minimum (stop strings
kept in the output), or at their budget, where the text is cut back to its last sentence end, so
a reminder never lands inside a sentence. With ``plan.repair_attempts`` > 0, the locatable checks
judge the reply so far after each segment; a segment that breaks one (when the reply before it
did not) is sampled again with a new seed, up to that many times.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from parlantish.backends import Backend
from parlantish.checks import Check
from parlantish.compiler import Plan
from parlantish.compiler.checkpoint_lines import answer_constraint, checkpoint_prefix
from parlantish.compiler.longform import LongformLayout
from parlantish.compiler.stream import CheckpointEvent, TextDelta
from parlantish.core import (
    ChatMessage,
    Constraint,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    Usage,
)
from parlantish.runtime.judging import judge
from parlantish.runtime.result import SegmentRepair
from parlantish.runtime.transport import Transport, generate

__all__ = ["SENTENCE_ENDS", "Generated", "Sink", "generate_stepwise"]

#: Receives stream events as the output is generated (checkpoint answers, reply text).
Sink = Callable[[CheckpointEvent | TextDelta], None]
#: Where a segment may end: a sentence end followed by a space or a line break (four at most:
#: OpenAI-compatible servers, vLLM's among them, refuse more stop strings).
SENTENCE_ENDS = (". ", "! ", "? ", ".\n")
ANSWER_MAX_TOKENS = 300
_LAST_SENTENCE_END = re.compile(r"(?s).*[.!?](?=\s|$)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


@dataclass
class Generated:
    """What the generation stage produced: the whole output text and what it cost."""

    text: str
    usage: Usage
    finish_reason: str
    latency_s: float
    requests: int = 1
    repairs: list[SegmentRepair] = field(default_factory=list)

    @classmethod
    def of(cls, result: GenerationResult) -> Generated:
        return cls(result.text, result.usage, result.finish_reason, result.latency_s)


def _step_seed(seed: int | None, *parts: object) -> int | None:
    if seed is None:
        return None
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _cut_to_sentence(text: str) -> str:
    """``text`` up to its last sentence end (all of it when it has none)."""
    found = _LAST_SENTENCE_END.match(text)
    return found.group(0) if found else text


class _Steps:
    """The state of one stepwise generation: the message so far and what it cost."""

    def __init__(
        self,
        plan: Plan,
        backend: Backend,
        sampling: SamplingSettings,
        transport: Transport,
        sink: Sink | None,
    ):
        self.plan, self.backend, self.sampling = plan, backend, sampling
        self.transport, self.sink = transport, sink
        self.text = ""
        self.usage = Usage()
        self.requests = 0
        self.started = time.perf_counter()
        self._accepted: tuple[int, int] | None = None  # (prompt, completion) of the last step

    async def step(
        self, sampling: SamplingSettings, constraint: Constraint | None = None
    ) -> GenerationResult:
        messages = (*self.plan.messages, ChatMessage(role="assistant", content=self.text))
        request = GenerationRequest(
            messages=messages,
            sampling=sampling,
            constraint=constraint,
            continue_final_message=True,
        )
        result = await generate(self.backend, request, self.transport)
        self.requests += 1
        self.usage += result.usage
        return result

    def accept(self, result: GenerationResult, text: str) -> None:
        """Append generated ``text`` and count the forced text prefilled since the last step."""
        if self._accepted is not None:
            prompt, completion = self._accepted
            prefilled = max(0, result.prompt_tokens - prompt - completion)
            self.usage += Usage(prefilled_tokens=prefilled)
        self._accepted = (result.prompt_tokens, result.usage.completion_tokens)
        self.text += text

    def emit(self, event: CheckpointEvent | TextDelta) -> None:
        if self.sink is not None:
            self.sink(event)


async def generate_stepwise(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    transport: Transport,
    sink: Sink | None = None,
) -> Generated:
    """Run ``plan`` (a long-form plan) step by step; see the module docstring."""
    layout = plan.layout
    assert isinstance(layout, LongformLayout)
    steps = _Steps(plan, backend, sampling, transport, sink)
    for index, checkpoint in enumerate(layout.checkpoints):
        steps.text += checkpoint_prefix(checkpoint)
        answer_sampling = sampling.model_copy(
            update={
                "max_tokens": ANSWER_MAX_TOKENS,
                "seed": _step_seed(sampling.seed, "answer", index),
            }
        )
        result = await steps.step(answer_sampling, answer_constraint(checkpoint))
        steps.accept(result, result.text)
        steps.text += "\n"
        steps.emit(
            CheckpointEvent(
                checkpoint.id,
                checkpoint.recall_texts,
                checkpoint.ask,
                layout.read_answer(checkpoint, result.text),
            )
        )
    steps.text += layout.reply_prefix + layout.head  # an enforced start is prefilled
    # Enforced opening parts (a title, a fixed answer) are a step of their own: no sentence
    # end may stop them half-written.
    opening = await _shaped(steps, layout, layout.opening_constraint(), "opening") or ""
    locatable = [check for check in checks if check.locatable]
    accepted: list[str] = []
    repairs: list[SegmentRepair] = []
    finish = "stop"
    for index, budget in enumerate(layout.groups):
        if index:
            steps.text += layout.reminder_after(accepted)
        result, segment, ended = await _segment(steps, layout, index, budget)
        for attempt in range(1, plan.repair_attempts + 1):
            broken = await _broken(locatable, accepted, segment)
            if broken is None:
                break
            repairs.append(
                SegmentRepair(
                    segment=index,
                    attempt=attempt - 1,
                    check=broken[0],
                    detail=broken[1],
                    text=segment,
                )
            )
            result, segment, ended = await _segment(steps, layout, index, budget, attempt)
        if plan.repair_attempts:  # the last sample still breaks a check: keep what passes
            broken = await _broken(locatable, accepted, segment)
            kept = await _passing_prefix(locatable, accepted, segment) if broken else None
            if broken and kept:
                repairs.append(
                    SegmentRepair(
                        segment=index,
                        attempt=plan.repair_attempts,
                        check=broken[0],
                        detail=broken[1],
                        text=segment,
                        cut=True,
                    )
                )
                segment = kept
        steps.accept(result, segment)
        if index == 0:
            segment = layout.head + opening + segment
        last = index == len(layout.groups) - 1
        finish = "length" if last and result.finish_reason == "length" else "stop"
        steps.emit(TextDelta(("\n" if accepted else "") + segment))
        accepted.append(segment)
        if ended and index + 1 >= layout.min_groups:
            break
    closing = await _shaped(steps, layout, layout.closing_constraint(), "closing")
    if closing is not None:  # enforced closing parts (a postscript) are generated last
        steps.emit(TextDelta(closing))
        accepted.append(closing)
    if layout.tail:  # an enforced ending closes the last segment
        tail = layout.tail
        spaced = accepted and accepted[-1][-1:].isalnum() and tail[:1].isalnum()
        if spaced and not any(" " in word for word in layout.rule.excludes):  # type: ignore[union-attr]
            tail = " " + tail
        steps.text += tail
        steps.emit(TextDelta(tail))
    return Generated(
        text=steps.text,
        usage=steps.usage,
        finish_reason=finish,
        latency_s=time.perf_counter() - steps.started,
        requests=steps.requests,
        repairs=repairs,
    )


async def _shaped(
    steps: _Steps, layout: LongformLayout, constraint: Constraint | None, name: str
) -> str | None:
    """The text of one step generating enforced shaped parts under ``constraint`` (run to
    the constraint's end, no stop strings), accepted into the reply; ``None`` without one."""
    if constraint is None or layout.rule is None:
        return None
    sampling = steps.sampling.model_copy(
        update={
            "max_tokens": layout.rule.shaped_tokens,
            "stop": (),
            "min_tokens": 0,
            "seed": _step_seed(steps.sampling.seed, name, 0),
        }
    )
    result = await steps.step(sampling, constraint)
    steps.accept(result, result.text)
    return result.text


async def _segment(
    steps: _Steps,
    layout: LongformLayout,
    index: int,
    budget: int,
    resample: int = 0,
) -> tuple[GenerationResult, str, bool]:
    """One sample of segment ``index``: the generation, the segment's text (cut back to its
    last sentence end when the budget ran out) and whether the model ended the reply there."""
    last = index == len(layout.groups) - 1
    # The last group is not closed at a sentence end: it runs to the model's end or its budget.
    sampling = steps.sampling.model_copy(
        update={
            "max_tokens": budget,
            "stop": () if last else SENTENCE_ENDS,
            "include_stop_str_in_output": not last,
            "min_tokens": 0 if last else layout.group_min_tokens(index),
            "seed": _step_seed(steps.sampling.seed, "segment", index, resample),
        }
    )
    result = await steps.step(sampling, layout.segment_constraint(index))
    text = result.text
    at_sentence_end = text.endswith(SENTENCE_ENDS)
    ended = result.finish_reason == "stop" and not at_sentence_end
    if result.finish_reason == "length":
        text = _cut_to_sentence(text)
    return result, text.rstrip(" "), ended


async def _passing_prefix(checks: Sequence[Check], accepted: list[str], segment: str) -> str | None:
    """The longest run of ``segment``'s whole sentences from its start that breaks no check
    the reply so far kept, or ``None`` (its first sentence breaks one already)."""
    ends = [found.end() for found in _SENTENCE_END.finditer(segment)]
    for end in reversed([e for e in ends if e < len(segment.rstrip())]):
        if await _broken(checks, accepted, segment[:end]) is None:
            return segment[:end]
    return None


async def _broken(
    checks: Sequence[Check], accepted: list[str], segment: str
) -> tuple[str, str] | None:
    """The first locatable check that the reply so far breaks because of ``segment``."""
    if not checks:
        return None
    before = {o.name: o.passed for o in await judge(checks, "\n".join(accepted))}
    for outcome in await judge(checks, "\n".join([*accepted, segment])):
        if not outcome.passed and before.get(outcome.name, True):
            return outcome.name, outcome.detail
    return None
