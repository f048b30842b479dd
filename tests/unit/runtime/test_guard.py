import asyncio
import json
import logging
import threading

import pytest
from pydantic import BaseModel

from parlantish import Guard, guarded
from parlantish.backends import ScriptedBackend
from parlantish.errors import (
    AttemptsExhaustedError,
    BackendError,
    BackendUnavailableError,
    DeadlineExceededError,
    UserError,
)
from parlantish.runtime import CheckpointEvent, FinalEvent, RetryEvent, TextDelta

from .conftest import BAD, GOOD, SUPPORT, USER, VARIABLES, arq_text


def guard(script, **options):
    backend = script if isinstance(script, ScriptedBackend) else ScriptedBackend(script)
    return Guard(SUPPORT, backend, **options), backend


def test_accepted_first_time_with_typed_checkpoints_and_usage(good):
    g, _ = guard([good])
    reply = g.reply(USER, VARIABLES)
    assert reply.text == GOOD and reply.passed and len(reply.attempts) == 1
    assert [c.id for c in reply.checkpoints] == ["request", "refund_asked", "plan"]
    assert reply.checkpoints[1].answer is True
    assert reply.checkpoints[1].recall == [
        "Never promise or approve a refund; offer to escalate to a human agent instead."
    ]
    assert {c.name for c in reply.checks} == {"not_matches", "max_sentences"}
    assert all(c.passed for c in reply.checks)
    assert reply.usage.completion_tokens == len(good.split())  # the scripted backend counts words
    assert reply.usage == reply.attempts[0].usage
    assert reply.raw == good and reply.blueprint["name"] == "support-refunds"


def test_failed_checks_are_reasked_hotter_with_a_new_seed_and_usage_is_summed(good, bad):
    g, backend = guard([bad, good], seed=7)
    reply = g.reply(USER, VARIABLES)
    assert reply.text == GOOD and len(reply.attempts) == 2
    first, second = reply.attempts
    assert "not_matches" in first.rejected_because and second.accepted
    assert (first.temperature, second.temperature) == (0.0, 0.3)
    assert (first.seed, second.seed) == (7, 1007)
    assert (
        reply.usage.completion_tokens
        == first.usage.completion_tokens + second.usage.completion_tokens
    )
    assert reply.usage.prompt_tokens == first.usage.prompt_tokens + second.usage.prompt_tokens
    retry_messages = backend.requests[1].messages
    assert [m.role for m in retry_messages] == ["system", "user", "assistant", "user"]
    assert retry_messages[2].content == bad and "not_matches" in retry_messages[3].content
    assert reply.to_dict()["usage"]["per_attempt"][0] == first.usage.to_dict()


def test_without_reask_the_retry_sends_the_same_conversation(good, bad):
    g, backend = guard([bad, good], reask=False, temperature=0.5)
    g.reply(USER, VARIABLES)
    assert backend.requests[0].messages == backend.requests[1].messages
    assert backend.requests[1].sampling.temperature == 0.8


def test_raise_policy_carries_every_attempt(bad):
    g, _ = guard([bad, bad, bad])  # the blueprint says retries: 2, then: raise
    with pytest.raises(AttemptsExhaustedError) as caught:
        g.reply(USER, VARIABLES)
    assert len(caught.value.attempts) == 3
    assert all("not_matches" in a.rejected_because for a in caught.value.attempts)


def test_return_policy_marks_the_failures(bad):
    g, _ = guard([bad], retries=0, then="return")
    reply = g.reply(USER, VARIABLES)
    assert not reply.passed and reply.text == BAD
    assert [c.name for c in reply.checks if not c.passed] == ["not_matches"]


def test_fallback_uses_the_other_blueprint_with_the_same_backend(tmp_path, bad):
    strict = tmp_path / "strict.yaml"
    strict.write_text(
        f"blueprint: strict-support\nextends: {SUPPORT}\n"
        "instructions:\n  no_money: Never mention money at all.\n"
        "reply: {recall: [no_money, brevity], max_length: 300}\n"
    )
    fallback_output = arq_text("Hello Dana, a human agent will review your case.", strict)
    backend = ScriptedBackend([bad, fallback_output])
    g = Guard(SUPPORT, backend, retries=0, then="fallback", fallback=str(strict))
    reply = g.reply(USER, VARIABLES)
    assert reply.blueprint["name"] == "strict-support" and reply.passed
    assert len(reply.attempts) == 2 and not reply.attempts[0].accepted
    assert reply.usage == reply.attempts[0].usage + reply.attempts[1].usage


def test_malformed_output_is_detected_and_retried(good):
    backend = ScriptedBackend(["Sure! Here is my answer.", good], validate=False)
    g, _ = guard(backend)
    reply = g.reply(USER, VARIABLES)
    assert reply.passed and reply.attempts[0].error.startswith("malformed output")


def test_transport_failures_are_retried_inside_one_attempt(good):
    g, backend = guard([BackendUnavailableError("connection refused"), good])
    reply = g.reply(USER, VARIABLES)
    assert reply.passed and len(reply.attempts) == 1 and len(backend.requests) == 2


def test_non_retryable_backend_errors_count_as_failed_attempts(good):
    g, _ = guard([BackendError("bad request", status=400), good])
    reply = g.reply(USER, VARIABLES)
    assert len(reply.attempts) == 2 and reply.attempts[0].error.startswith("BackendError")


def test_the_deadline_is_honoured_even_while_retrying():
    backend = ScriptedBackend([BackendUnavailableError("down")], cycle=True)
    g, _ = guard(backend, transport_retries=1000, deadline_s=0.5)
    with pytest.raises(DeadlineExceededError):
        g.reply(USER, VARIABLES)
    slow = ScriptedBackend([arq_text(GOOD)], delay_s=5)
    with pytest.raises(DeadlineExceededError):
        Guard(SUPPORT, slow).reply(USER, VARIABLES, deadline_s=0.2)


def test_variables_and_messages_are_validated_before_anything_is_sent(good):
    g, backend = guard([good])
    with pytest.raises(UserError, match="customer_name"):
        g.reply(USER, {})
    with pytest.raises(UserError, match=r"messages\[0\]"):
        g.reply([{"role": "human", "content": "hi"}], VARIABLES)
    assert backend.requests == []


def test_batches_keep_input_order_and_isolate_failures(good, bad):
    def respond(request):
        text = request.messages[-1].content
        if "broken" in text:
            return BackendError("model crashed", status=400)
        return good if "one" in text or "three" in text else bad

    g, _ = guard(ScriptedBackend(respond), retries=0)
    calls = [
        ([{"role": "user", "content": f"call {n}"}], VARIABLES)
        for n in ("one", "two", "broken", "three")
    ]
    results = g.reply_many(calls)
    assert results[0].text == GOOD and results[3].text == GOOD
    assert isinstance(results[1], AttemptsExhaustedError)
    assert isinstance(results[2], AttemptsExhaustedError) and "model crashed" in str(results[2])
    mapped = g.reply_many([{"messages": calls[0][0], "variables": VARIABLES}])
    assert mapped[0].text == GOOD


def test_streaming_yields_checkpoints_then_text_then_the_result(good):
    g, _ = guard([good])
    events = list(g.stream(USER, VARIABLES))
    kinds = [type(e) for e in events]
    assert kinds.count(CheckpointEvent) == 3 and kinds[-1] is FinalEvent
    assert kinds.index(TextDelta) > max(i for i, k in enumerate(kinds) if k is CheckpointEvent)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == GOOD
    assert events[-1].reply.text == GOOD
    assert events[1].answer is True


def test_streaming_announces_retries(good, bad):
    g, _ = guard([bad, good])
    events = list(g.stream(USER, VARIABLES))
    assert any(isinstance(e, RetryEvent) for e in events)
    assert events[-1].reply.text == GOOD


def test_output_type_makes_typed_replies():
    class Answer(BaseModel):
        message: str
        escalate: bool

    text = arq_text("placeholder").replace(
        '"reply": "placeholder"', '"reply": {"message": "A human will call.", "escalate": true}'
    )
    g, backend = guard([text], checks=[], output_type=Answer)
    g.checks = []  # the blueprint's text checks do not apply to this JSON reply
    reply = g.reply(USER, VARIABLES)
    assert isinstance(reply.reply, Answer) and reply.reply.escalate is True
    schema = backend.requests[0].constraint.payload["properties"]["reply"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == {
        "message",
        "escalate",
    }


def test_trace_goes_to_logging_and_the_callback(good, caplog):
    seen = []
    g, _ = guard([good], on_trace=seen.append)
    with caplog.at_level(logging.INFO, logger="parlantish.guard"):
        g.reply(USER, VARIABLES)
    assert seen[0]["blueprint"]["name"] == "support-refunds" and seen[0]["attempts"] == 1
    assert seen[0]["checkpoints"][1]["answer"] is True and "usage" in seen[0]
    assert any(getattr(r, "parlantish", None) for r in caplog.records)


def test_one_guard_serves_threads_and_coroutines(good):
    g, _ = guard(ScriptedBackend([good], cycle=True))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(g.reply(USER, VARIABLES).text))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def many():
        return await asyncio.gather(*(g.areply(USER, VARIABLES) for _ in range(8)))

    assert results == [GOOD] * 8
    assert [r.text for r in asyncio.run(many())] == [GOOD] * 8


def test_guarded_decorator_sync_and_async(good):
    @guarded(SUPPORT, ScriptedBackend([good], cycle=True))
    def answer(messages, **variables):
        raise AssertionError("the body is replaced")

    assert answer(USER, customer_name="Dana") == GOOD
    assert answer.guard.blueprint.name == "support-refunds"

    @guarded(SUPPORT, ScriptedBackend([good], cycle=True))
    async def answer_async(messages, **variables):
        raise AssertionError

    assert asyncio.run(answer_async(USER, customer_name="Dana")) == GOOD


def test_to_dict_is_json_ready(good):
    g, _ = guard([good])
    data = g.reply(USER, VARIABLES).to_dict()
    assert json.loads(json.dumps(data))["checkpoints"][1]["recall"]
    assert set(data) >= {"reply", "checkpoints", "checks", "usage", "attempts", "raw", "blueprint"}


def test_the_fallback_guard_is_built_once(tmp_path, bad):
    strict = tmp_path / "strict.yaml"
    strict.write_text(f"blueprint: strict-support\nextends: {SUPPORT}\n")
    fallback_output = arq_text(GOOD, strict)
    backend = ScriptedBackend([bad, fallback_output], cycle=True)
    g = Guard(SUPPORT, backend, retries=0, then="fallback", fallback=str(strict))
    first = g.reply(USER, VARIABLES)
    fallback = g._fallback
    second = g.reply(USER, VARIABLES)
    assert first.blueprint["name"] == second.blueprint["name"] == "strict-support"
    assert g._fallback is fallback is not None
