"""The attempt pipeline: what each outcome means, where checks fail, and that it keeps the event
loop free while a model-calling check runs."""

import asyncio
import re
import threading
import time

import pytest
from pydantic import BaseModel

from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.checks import build_checks, register
from parlantish.compiler import compile_plan, example_output
from parlantish.core import SamplingSettings
from parlantish.errors import BackendUnavailableError
from parlantish.runtime import Guard
from parlantish.runtime.attempt import Transport, judge, run_attempt

from .conftest import BAD, GOOD, SUPPORT, USER, VARIABLES

PLAN = compile_plan(load_blueprint(SUPPORT), VARIABLES, USER)
CHECKS = build_checks(load_blueprint(SUPPORT).spec.checks)


def attempt(script, *, max_tokens=None, validate=True, checks=CHECKS, **options):
    backend = ScriptedBackend(script, validate=validate)
    sampling = SamplingSettings(max_tokens=max_tokens or PLAN.max_tokens, seed=3)
    return asyncio.run(
        run_attempt(PLAN, backend, sampling, checks, transport=Transport(retries=0), **options)
    )


def test_an_accepted_attempt_carries_the_reply_checks_and_usage():
    result = attempt([example_output(PLAN, GOOD)])
    assert result.passed and result.accepted and result.error_kind is None
    assert result.text == GOOD and result.finish_reason == "stop"
    assert [c.id for c in result.checkpoints] == [c.id for c in PLAN.checkpoints]
    assert result.usage.completion_tokens > 0 and result.seed == 3
    assert {c.name for c in result.checks} == {c.name for c in CHECKS}


def test_a_failed_check_is_error_kind_checks_with_the_reason():
    result = attempt([example_output(PLAN, BAD)])
    assert not result.passed and result.error_kind == "checks"
    assert "not_matches" in result.rejected_because


def test_backend_cut_and_malformed_outputs_have_their_own_kinds():
    backend_error = attempt([BackendUnavailableError("down")])
    assert backend_error.error_kind == "backend" and backend_error.raw is None
    cut = attempt(['{"request": {"ask": "What'], max_tokens=1, validate=False)
    assert cut.error_kind == "cut" and cut.finish_reason == "length"
    malformed = attempt(["not json at all"], validate=False)
    assert malformed.error_kind == "malformed" and "malformed output" in malformed.error


def test_a_readable_reply_cut_at_max_tokens_is_judged_not_refused():
    result = attempt([example_output(PLAN, GOOD)], max_tokens=3, validate=False)
    assert result.finish_reason == "length" and result.passed


def test_a_typed_reply_that_breaks_the_callers_model_is_malformed():
    class Strict(BaseModel):
        number: int

    result = attempt([example_output(PLAN, GOOD)], output_type=Strict)
    assert result.error_kind == "malformed"


def test_locatable_failures_say_where_they_start():
    checks = build_checks([{"not_matches": "(?i)approved"}, "no_comma"])
    text = "Hello Dana. Nothing yet. Then this, and it was approved later."
    outcomes = asyncio.run(judge(checks, text, boundaries=[12, 25, len(text)]))
    by_name = {o.name: o for o in outcomes}
    comma = by_name["no_comma"]
    assert not comma.passed and comma.first_violation == 3
    # The shortest failing prefix ends at the word holding the first comma (independent regex).
    assert comma.first_failure_offset == re.search(r"\S*,", text).end()
    assert by_name["not_matches"].first_failure_offset == text.index("approved") + 8


LOOP_RAN = threading.Event()


@register("waits_for_the_loop_for_tests", deterministic=False, replace=True)
def waits_for_the_loop(text, params):
    """Passes only if the event loop runs while this check runs (the bound only stops a hang)."""
    return LOOP_RAN.wait(timeout=30)


def test_a_model_calling_check_does_not_block_the_event_loop():
    checks = build_checks(["waits_for_the_loop_for_tests"])
    LOOP_RAN.clear()

    async def main():
        async def other_request():
            await asyncio.sleep(0)
            LOOP_RAN.set()

        outcomes, _ = await asyncio.gather(judge(checks, "text"), other_request())
        return outcomes

    (outcome,) = asyncio.run(main())
    assert outcome.passed


def test_a_per_call_output_type_survives_to_the_reply():
    class Instance(BaseModel):
        text: str

    class PerCall(BaseModel):
        summary: str
        urgent: bool

    blueprint = load_blueprint(SUPPORT)
    guard = Guard(blueprint, ScriptedBackend([]), output_type=Instance)
    plan = guard.plan(USER, VARIABLES, PerCall)
    guard._backend = ScriptedBackend(
        [example_output(plan, {"summary": "Dana wants a refund", "urgent": False})]
    )
    reply = guard.reply(USER, VARIABLES, output_type=PerCall)
    assert isinstance(reply.reply, PerCall) and reply.reply.summary == "Dana wants a refund"


def test_two_threads_starting_sync_calls_share_one_loop(monkeypatch):
    import parlantish.runtime.guard as guard_module

    real = guard_module.LoopThread

    def slow_loop():
        time.sleep(0.05)  # widen the window in which a second thread could build its own
        return real()

    monkeypatch.setattr(guard_module, "LoopThread", slow_loop)
    guard = Guard(load_blueprint(SUPPORT), ScriptedBackend([]))
    loops = []
    threads = [threading.Thread(target=lambda: loops.append(guard._sync())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(loop) for loop in loops}) == 1


@pytest.mark.parametrize("reply", [GOOD, BAD])
def test_the_stream_sink_sees_the_reply_the_attempt_returns(reply):
    events = []
    result = attempt([example_output(PLAN, reply)], sink=events.append)
    streamed = "".join(getattr(e, "text", "") for e in events)
    assert streamed == result.text == reply
