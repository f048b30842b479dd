"""The attempt pipeline: plan → generate → parse → checks → verdict, written once.

The Guard (its policies: retry, re-ask, fallback), the evaluator (one call per sample) and the
guarding proxy (through the Guard) all call :func:`run_attempt`; nothing else calls a backend
for a plan or runs checks on an output (a convention test holds this). What an attempt means is
decided here only:

- a backend failure (after transport retries) is ``error_kind="backend"``;
- an output that cannot be read back is ``cut`` when it hit ``max_tokens``, else ``malformed``;
- a readable output is judged by its checks, even when it hit ``max_tokens`` (the reply is what
  it is; ``finish_reason`` says it was cut); a failing check makes it ``checks``.
Usage is summed over everything generated for the attempt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from parlantish.backends import Backend
from parlantish.checks import Check
from parlantish.compiler import OutputParseError, ParsedOutput, Plan
from parlantish.compiler.stream import CheckpointEvent, TextDelta
from parlantish.core import GenerationResult, SamplingSettings, Usage
from parlantish.errors import DeadlineExceededError, ParlantishError, RunError
from parlantish.runtime.result import Attempt, CheckOutcome, CheckpointTrace

__all__ = ["Sink", "Transport", "judge", "run_attempt", "total_usage"]

#: Receives stream events as the output is generated (checkpoint answers, reply text).
Sink = Callable[[CheckpointEvent | TextDelta], None]
#: Cuts a parsed output into units (character offsets of unit ends) for locating violations.
Units = Callable[[ParsedOutput], Sequence[int]]


def _retryable(error: BaseException) -> bool:
    return isinstance(error, RunError) and error.retryable


@dataclass(frozen=True)
class Transport:
    """Retries of a generation that failed in transport, with backoff, within a deadline
    (``deadline`` is a time on the running loop's clock, or ``None``)."""

    retries: int = 2
    deadline: float | None = None
    backoff_s: float = 0.2
    backoff_max_s: float = 5.0

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise DeadlineExceededError("the call's deadline passed")
        return remaining

    async def sleep(self, seconds: float) -> None:
        remaining = self.remaining()
        await asyncio.sleep(seconds if remaining is None else min(seconds, remaining))

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_s, max=self.backoff_max_s, jitter=self.backoff_s
            ),
            sleep=self.sleep,
            reraise=True,
        )


async def _generate(
    backend: Backend, plan: Plan, sampling: SamplingSettings, transport: Transport
) -> GenerationResult:
    request = plan.request(sampling)
    async for attempt in transport.retrying():
        with attempt:
            remaining = transport.remaining()
            try:
                return await asyncio.wait_for(backend.agenerate(request), remaining)
            except asyncio.TimeoutError as e:
                raise DeadlineExceededError("the call's deadline passed while generating") from e
    raise AssertionError("unreachable")


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


def _loose_verdict(check: Check, text: str) -> bool | None:
    """The verdict in the check's loose mode, for checks that have one (IFEval's)."""
    params = check.params
    if "mode" not in type(params).model_fields:
        return None
    loose = type(params).model_validate(params.model_dump() | {"mode": "loose"})
    value = check.type.function(text, loose)
    return bool(value[0] if isinstance(value, tuple) else value)


def _first_violation(check: Check, text: str, boundaries: Sequence[int]) -> int | None:
    """The 1-based unit from whose end on every longer prefix fails."""
    if not boundaries:
        return None
    verdicts = [check(text[:boundary]).passed for boundary in boundaries]
    if verdicts[-1]:
        return None
    unit = len(verdicts)
    while unit > 1 and not verdicts[unit - 2]:
        unit -= 1
    return unit


def _first_failure_offset(check: Check, text: str) -> int | None:
    """The end of the shortest failing prefix cut at a word end (binary search: a locatable
    check's failure on a prefix stays a failure on every longer prefix)."""
    ends = [i for i in range(1, len(text) + 1) if i == len(text) or text[i].isspace()]
    low, high = 0, len(ends) - 1
    if high < 0 or check(text[: ends[high]]).passed:
        return None
    while low < high:
        middle = (low + high) // 2
        if check(text[: ends[middle]]).passed:
            low = middle + 1
        else:
            high = middle
    return ends[low]


def _outcome(check: Check, text: str, boundaries: Sequence[int] | None) -> CheckOutcome:
    result = check(text)
    located = check.locatable and not result.passed
    return CheckOutcome(
        name=result.name,
        passed=result.passed,
        detail=result.detail,
        deterministic=result.deterministic,
        locatable=check.locatable,
        passed_loose=_loose_verdict(check, text),
        first_violation=(
            _first_violation(check, text, boundaries) if located and boundaries else None
        ),
        first_failure_offset=_first_failure_offset(check, text) if located else None,
    )


async def judge(
    checks: Sequence[Check], text: str, boundaries: Sequence[int] | None = None
) -> list[CheckOutcome]:
    """Every check's verdict on ``text``. Checks that call a model (judges) run in a worker
    thread so the event loop keeps serving other requests."""

    def run() -> list[CheckOutcome]:
        return [_outcome(check, text, boundaries) for check in checks]

    if any(not check.type.deterministic for check in checks):
        return await asyncio.to_thread(run)
    return run()


def _reason(outcomes: Sequence[CheckOutcome]) -> str | None:
    failed = [o for o in outcomes if not o.passed]
    return "; ".join(f"{o.name}: {o.detail}" if o.detail else o.name for o in failed) or None


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
) -> Attempt:
    """One attempt at ``plan``: generate (streaming events to ``sink`` when given), read the
    output back, run ``checks`` on the visible reply, and give the verdict.

    ``output_type`` validates a typed reply against the caller's pydantic model (a mismatch is
    a malformed output); ``units`` cuts the reply into units so locatable checks also say in
    which unit they were first broken. Raises ``DeadlineExceededError`` when the transport's
    deadline passes; every other failure is recorded in the returned ``Attempt``.
    """
    transport = transport or Transport()
    started = time.perf_counter()
    common: dict[str, Any] = {
        "index": index,
        "backend": backend.name,
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "max_tokens": sampling.max_tokens,
    }
    try:
        if sink is None:
            result = await _generate(backend, plan, sampling, transport)
        else:
            result = await _stream(backend, plan, sampling, transport, sink)
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
        "raw": result.text,
        "usage": result.usage,
        "latency_s": result.latency_s,
        "finish_reason": result.finish_reason,
    }
    try:
        parsed = plan.parse(result.text)
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
    outcomes = await judge(checks, parsed.text, boundaries)
    because = _reason(outcomes)
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


def total_usage(attempts: Sequence[Attempt]) -> Usage:
    """Usage summed over attempts."""
    return sum((a.usage for a in attempts), Usage())
