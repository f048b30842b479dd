"""The attempt pipeline: plan → generate → parse → checks → verdict, written once.

The Guard (its policies: retry, re-ask, fallback), the evaluator (one call per sample) and the
guarding proxy (through the Guard) all call :func:`run_attempt`; nothing else calls a backend
for a plan or runs checks on an output (a convention test holds this). What an attempt means is
decided here only:

- a backend failure (after transport retries) is ``error_kind="backend"``;
- an output that cannot be read back is ``cut`` when it hit ``max_tokens``, else ``malformed``;
  one cut inside its reply, after every checkpoint, is read as far as it got;
- a readable output is judged by its checks, even when it hit ``max_tokens`` (the reply is what
  it is; ``finish_reason`` says it was cut); a failing check makes it ``checks``;
- with a reply budget (the caller's ``max_tokens``, which bounds the visible reply: the engine
  gets it plus the plan's checkpoint budget), a longer text reply is cut at the budget in the
  backend's tokens and its ``finish_reason`` is ``length``.
Usage is summed over everything generated for the attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from parlantish.backends import Backend
from parlantish.checks import Check
from parlantish.compiler import OutputParseError, ParsedOutput, Plan
from parlantish.compiler.stream import TextDelta
from parlantish.core import GenerationResult, SamplingSettings, Usage
from parlantish.errors import DeadlineExceededError, ParlantishError, RunError
from parlantish.runtime.judging import failure_reason, judge
from parlantish.runtime.result import Attempt, CheckpointTrace
from parlantish.runtime.stepwise import Generated, Sink, generate_stepwise
from parlantish.runtime.transport import Transport, generate

__all__ = ["Sink", "Transport", "judge", "run_attempt", "total_usage"]
#: Cuts a parsed output into units (character offsets of unit ends) for locating violations.
Units = Callable[[ParsedOutput], Sequence[int]]


class _BudgetSink:
    """Passes events to ``sink``, holding the streamed reply to ``budget`` tokens."""

    def __init__(self, sink: Sink, backend: Backend, budget: int):
        self.sink, self.backend, self.budget = sink, backend, budget
        self.visible = ""
        self.sent = 0

    def __call__(self, event: Any) -> None:
        if not isinstance(event, TextDelta):
            self.sink(event)
            return
        self.visible += event.text
        end = _budget_end(self.backend.token_ends(self.visible), self.budget, len(self.visible))
        if end > self.sent:
            self.sink(TextDelta(self.visible[self.sent : end]))
            self.sent = end


def _budget_end(ends: list[int] | None, budget: int, length: int) -> int:
    """Where a text of ``length`` characters with token ``ends`` is cut to ``budget`` tokens."""
    if ends is None or len(ends) <= budget:
        return length
    return ends[budget - 1]


def _cut_reply(parsed: ParsedOutput, end: int) -> ParsedOutput:
    """``parsed`` with its text reply (and its segments, joined by line breaks) cut at ``end``."""
    segments: list[str] = []
    position = 0
    for segment in parsed.segments:
        if position >= end and segments:
            break
        segments.append(segment[: max(0, end - position)])
        position += len(segment) + 1
    return dataclasses.replace(parsed, reply=parsed.text[:end], segments=tuple(segments))


def _counted(
    usage: Usage, backend: Backend, parsed: ParsedOutput, budget: int | None
) -> tuple[Usage, ParsedOutput, bool]:
    """Usage with the reply's and the checkpoints' tokens, the reply cut to ``budget``, and
    whether it was cut."""
    ends = backend.token_ends(parsed.text)
    if ends is None:
        return usage, parsed, False
    cut = budget is not None and isinstance(parsed.reply, str) and len(ends) > budget
    if cut:
        parsed = _cut_reply(parsed, _budget_end(ends, budget or 0, len(parsed.text)))
    reply = min(len(ends), budget) if cut and budget is not None else len(ends)
    outside = max(0, usage.completion_tokens - len(ends))
    counts = {"reply_tokens": reply, "checkpoint_tokens": outside}
    return usage.model_copy(update=counts), parsed, cut


async def _stream(
    backend: Backend, plan: Plan, sampling: SamplingSettings, transport: Transport, sink: Sink
) -> GenerationResult:
    """One streamed generation (no transport retry: text may already have been shown)."""
    parser = plan.layout.stream_parser()
    stream = backend.astream(plan.request(sampling))
    result: GenerationResult | None = None
    try:
        while True:
            try:
                delta = await asyncio.wait_for(stream.__anext__(), transport.remaining())
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError as e:
                raise DeadlineExceededError("the call's deadline passed while streaming") from e
            if delta.result is not None:
                result = delta.result
            for event in parser.feed(delta.text):
                sink(event)
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    if result is None:
        raise RunError("the stream ended without a result")
    return result


async def run_attempt(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    *,
    index: int = 0,
    transport: Transport | None = None,
    sink: Sink | None = None,
    output_type: type[BaseModel] | None = None,
    units: Units | None = None,
    reply_tokens: int | None = None,
) -> Attempt:
    """One attempt at ``plan``: generate (streaming events to ``sink`` when given), read the
    output back, run ``checks`` on the visible reply, and give the verdict.

    ``output_type`` validates a typed reply against the caller's pydantic model (a mismatch is
    a malformed output); ``units`` cuts the reply into units so locatable checks also say in
    which unit they were first broken. ``reply_tokens`` bounds the visible reply (see the
    module docstring; ``sampling.max_tokens`` should be ``plan.budget(reply_tokens)``).
    Raises ``DeadlineExceededError`` when the transport's deadline passes; every other
    failure is recorded in the returned ``Attempt``.
    """
    transport = transport or Transport()
    started = time.perf_counter()
    common: dict[str, Any] = {
        "index": index,
        "backend": backend.name,
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "max_tokens": sampling.max_tokens,
        "reply_budget": reply_tokens,
    }
    if sink is not None and reply_tokens is not None:
        sink = _BudgetSink(sink, backend, reply_tokens)
    try:
        if plan.execution == "stepwise":
            run = await generate_stepwise(plan, backend, sampling, checks, transport, sink)
        elif sink is None:
            run = Generated.of(await generate(backend, plan.request(sampling), transport))
        else:
            run = Generated.of(await _stream(backend, plan, sampling, transport, sink))
    except DeadlineExceededError:
        raise
    except ParlantishError as e:
        return Attempt(
            **common,
            latency_s=time.perf_counter() - started,
            error=f"{type(e).__name__}: {e}",
            error_kind="backend",
        )
    common |= {
        "raw": run.text,
        "usage": run.usage,
        "latency_s": run.latency_s,
        "finish_reason": run.finish_reason,
        "execution": plan.execution,
        "requests": run.requests,
        "repairs": run.repairs,
    }
    result = run
    try:
        parsed = _read(plan, result.text, result.finish_reason == "length")
        usage, parsed, cut_to_budget = _counted(run.usage, backend, parsed, reply_tokens)
        common["usage"] = usage
        if cut_to_budget:
            common["finish_reason"] = "length"
        reply = parsed.reply
        if output_type is not None:
            reply = output_type.model_validate(reply).model_dump(mode="json")
    except (OutputParseError, ValidationError) as e:
        cut = result.finish_reason == "length"
        where = " (the output hit max_tokens)" if cut else ""
        return Attempt(
            **common,
            error=f"malformed output{where}: {e}",
            error_kind="cut" if cut else "malformed",
        )
    boundaries = units(parsed) if units is not None else None
    outcomes = [
        outcome.model_copy(update={"tier": plan.tier(index, outcome.name, outcome.locatable)})
        for index, outcome in enumerate(await judge(checks, parsed.text, boundaries))
    ]
    because = failure_reason(outcomes)
    return Attempt(
        **common,
        text=parsed.text,
        reply=reply,
        checkpoints=[
            CheckpointTrace(id=c.id, recall=list(c.recall), ask=c.ask, answer=c.answer)
            for c in parsed.checkpoints
        ],
        segments=list(parsed.segments),
        reasoning=parsed.reasoning,
        checks=outcomes,
        passed=because is None,
        error_kind="checks" if because else None,
        rejected_because=because,
        parsed=parsed,
    )


def _read(plan: Plan, text: str, cut: bool) -> ParsedOutput:
    """The output read back; one cut at ``max_tokens`` inside its reply is read as far as it
    got (raises the parse error otherwise)."""
    try:
        return plan.parse(text)
    except OutputParseError:
        partial = plan.parse_cut(text) if cut else None
        if partial is None:
            raise
        return partial


def total_usage(attempts: Sequence[Attempt]) -> Usage:
    """Usage summed over attempts."""
    return sum((a.usage for a in attempts), Usage())
