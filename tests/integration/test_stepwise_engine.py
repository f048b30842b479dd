"""Stepwise execution on the real embedded engine: forced text is prefilled (not decoded) and
reaches the model verbatim, the repair path resamples, streams yield before the reply ends, and
a closed stream frees its engine request."""

import asyncio
import time
from pathlib import Path

import pytest

from parlantish import Guard
from parlantish.backends import Backend
from parlantish.backends.conformance import conformance_error
from parlantish.blueprint import load_blueprint_text
from parlantish.compiler.stream import TextDelta

WRITER_TEXT = (Path(__file__).parents[2] / "blueprints" / "longform-writer.yaml").read_text()
# Two short segments keep the engine time of these tests small.
WRITER_TEXT = WRITER_TEXT.replace(
    "count: {min: 3, max: 6}\n  max_tokens: 96", "count: 2\n  max_tokens: 40"
)
assert "max_tokens: 40" in WRITER_TEXT
WRITER = load_blueprint_text(WRITER_TEXT, "longform-writer.yaml")
USER = [{"role": "user", "content": "Write the article."}]
TOPIC = {"topic": "why the sea has tides"}


class Counting(Backend):
    """Delegates to another backend, counting requests (to see what is done when)."""

    def __init__(self, inner):
        self.inner, self.done = inner, 0
        self.name, self.supports_continuation = inner.name, inner.supports_continuation

    async def agenerate(self, request):
        result = await self.inner.agenerate(request)
        self.done += 1
        return result


def _guard(engine, **options):
    return Guard(WRITER, engine, then="return", retries=0, seed=7, temperature=0.7, **options)


@pytest.mark.engine
def test_forced_text_is_prefilled_and_the_output_is_the_fused_plans(engine):
    stepwise = _guard(engine, execution="stepwise").reply(USER, TOPIC)
    fused = _guard(engine, execution="fused").reply(USER, TOPIC)
    step, whole = stepwise.attempts[0], fused.attempts[0]
    assert step.execution == "stepwise" and whole.execution == "fused"
    plan = _guard(engine, execution="fused").plan(USER, TOPIC)
    assert conformance_error(plan.constraint, step.raw) is None  # the fused constraint's text
    reminder = plan.layout.reminder
    assert step.raw.count(reminder) == len(step.segments) - 1  # forced verbatim
    assert step.usage.prefilled_tokens > 0 and whole.usage.prefilled_tokens == 0
    # Forced checkpoint lines and reminders were decoded by the fused plan, not the stepwise one.
    forced_chars = len(step.raw) - len("".join(step.segments))
    assert step.usage.decoded_tokens < whole.usage.decoded_tokens or forced_chars < 200


@pytest.mark.engine
def test_a_segment_breaking_a_forbidden_word_is_resampled(engine):
    guard = _guard(engine, execution="stepwise", repair=2, checks=[{"not_matches": r"(?i)\bthe\b"}])
    attempt = guard.reply(USER, TOPIC).attempts[0]
    assert attempt.repairs, "the model writes 'the' in almost every sentence"
    assert {r.check for r in attempt.repairs} == {"not_matches"}
    assert attempt.requests > len(attempt.segments) + len(attempt.checkpoints)


@pytest.mark.engine
def test_a_stream_yields_its_first_segment_before_the_reply_ends(engine):
    counting = Counting(engine)
    guard = _guard(counting, execution="stepwise")

    async def main():
        calls_at_first_text = None
        final = None
        async for event in guard.astream(USER, TOPIC):
            if isinstance(event, TextDelta) and calls_at_first_text is None:
                calls_at_first_text = counting.done
            final = event
        return calls_at_first_text, final.reply

    calls_at_first_text, reply = asyncio.run(main())
    assert len(reply.segments) >= 2
    assert calls_at_first_text < reply.attempts[0].requests


@pytest.mark.engine
def test_closing_a_stream_frees_the_engine_request(engine):
    guard = _guard(engine, execution="fused")

    async def main():
        stream = guard.astream(USER, TOPIC)
        await anext(stream)  # the first checkpoint answer or text: generation is under way
        await stream.aclose()
        deadline = time.monotonic() + 30
        while engine._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return dict(engine._pending)

    assert asyncio.run(main()) == {}


@pytest.mark.server
def test_stepwise_through_the_real_vllm_server(server_backend):
    attempt = _guard(server_backend, execution="stepwise").reply(USER, TOPIC).attempts[0]
    plan = _guard(server_backend, execution="fused").plan(USER, TOPIC)
    assert attempt.execution == "stepwise" and attempt.usage.prefilled_tokens > 0
    assert conformance_error(plan.constraint, attempt.raw) is None
