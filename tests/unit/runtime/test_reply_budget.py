"""A caller's ``max_tokens`` bounds the visible reply; the plan's checkpoints get their own budget
on top; an output cut inside its reply is returned as far as it got, with its verdict. The
scripted backend's tokens are whitespace-separated pieces, counted here with ``str.split``."""

import asyncio
from pathlib import Path

import pytest

from parlantish import Guard
from parlantish.backends import ScriptedBackend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.core import SamplingSettings
from parlantish.errors import UserError
from parlantish.runtime.attempt import Transport, run_attempt

from .conftest import SUPPORT, USER, VARIABLES

LONGFORM = Path(__file__).parents[3] / "blueprints" / "longform-writer.yaml"
PLAN = compile_plan(load_blueprint(SUPPORT), VARIABLES, USER)
WORDS = " ".join(["a"] * 240)


def run(plan, text, sampling, **options):
    backend = ScriptedBackend([text], validate=False, cut=True)
    return asyncio.run(run_attempt(plan, backend, sampling, [], transport=Transport(), **options))


def test_the_engine_budget_is_the_reply_budget_plus_the_checkpoints():
    assert PLAN.checkpoint_tokens > 0
    assert PLAN.budget(200) == 200 + PLAN.checkpoint_tokens
    assert PLAN.budget(None) == PLAN.max_tokens


def test_an_arq_output_cut_inside_its_reply_is_read_as_far_as_it_got():
    full = example_output(PLAN, WORDS)
    cut_at = len(full[: full.index('"reply"')].split()) + 100  # 100 tokens into the reply
    attempt = run(PLAN, full, SamplingSettings(max_tokens=cut_at))
    assert attempt.error is None and attempt.passed and attempt.finish_reason == "length"
    assert WORDS.startswith(attempt.text) and 90 < len(attempt.text.split()) < 101
    assert [c.id for c in attempt.checkpoints] == [c.id for c in PLAN.checkpoints]


def test_an_arq_output_cut_inside_a_checkpoint_stays_cut():
    full = example_output(PLAN, WORDS)
    attempt = run(PLAN, full, SamplingSettings(max_tokens=5))
    assert attempt.error_kind == "cut" and attempt.text is None


def test_a_reply_over_its_budget_is_cut_there_and_counted():
    full = example_output(PLAN, WORDS)
    attempt = run(PLAN, full, SamplingSettings(max_tokens=PLAN.budget(50)), reply_tokens=50)
    assert attempt.text == " ".join(["a"] * 50) and attempt.finish_reason == "length"
    assert attempt.usage.reply_tokens == 50 and attempt.reply_budget == 50
    assert attempt.usage.checkpoint_tokens == len(full.split()) - 240


def test_a_longform_reply_cut_before_its_required_segments_is_read():
    plan = compile_plan(load_blueprint(LONGFORM), {"topic": "tides"}, USER)
    full = example_output(plan, ["One two three.", "Four five six.", "Seven eight nine."])
    cut_at = len(full.split()) - 6  # inside the second segment: fewer than the three required
    attempt = run(plan, full, SamplingSettings(max_tokens=cut_at))
    assert attempt.error is None and attempt.finish_reason == "length"
    assert attempt.text.startswith("One two three.\n") and "Seven" not in attempt.text


def test_a_longform_reply_cut_to_its_budget_keeps_matching_segments():
    plan = compile_plan(load_blueprint(LONGFORM), {"topic": "tides"}, USER)
    full = example_output(plan, ["One two three.", "Four five six.", "Seven eight nine."])
    attempt = run(plan, full, SamplingSettings(max_tokens=plan.budget(4)), reply_tokens=4)
    assert attempt.text == "One two three.\nFour"
    assert attempt.segments == ["One two three.", "Four"]


def test_the_guard_gives_the_engine_both_budgets_and_streams_within_the_reply_budget():
    backend = ScriptedBackend([example_output(PLAN, WORDS)] * 2, validate=False, cut=True)
    guard = Guard(SUPPORT, backend, max_tokens=30)
    reply = guard.reply(USER, VARIABLES)
    assert len(reply.text.split()) == 30 and reply.finish_reason == "length"
    assert backend.requests[0].sampling.max_tokens == 30 + PLAN.checkpoint_tokens
    streamed = "".join(
        event.text for event in guard.stream(USER, VARIABLES) if hasattr(event, "text")
    )
    assert streamed.split() == ["a"] * 30


def test_guard_sampling_reaches_the_backend_and_a_call_overrides_it():
    backend = ScriptedBackend([example_output(PLAN, "Hello Dana.")] * 2)
    guard = Guard(SUPPORT, backend, sampling={"top_k": 20, "min_p": 0.1, "stop": ["\u0001"]})
    guard.reply(USER, VARIABLES)
    guard.reply(USER, VARIABLES, sampling={"top_k": 5, "repetition_penalty": 1.2, "seed": 9})
    first, second = (r.sampling for r in backend.requests)
    assert (first.top_k, first.min_p, first.stop) == (20, 0.1, ("\u0001",))
    assert (second.top_k, second.min_p, second.repetition_penalty) == (5, 0.1, 1.2)
    assert second.seed == 9


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ({"top_kk": 3}, r"sampling\.top_kk: unknown setting"),
        ({"min_p": 2}, r"sampling\.min_p: .*less than or equal to 1"),
    ],
)
def test_bad_sampling_is_a_located_user_error(sampling, message):
    with pytest.raises(UserError, match=message) as error:
        Guard(SUPPORT, ScriptedBackend([]), sampling=sampling)
    assert "top_k" in (error.value.hint or "")


def test_max_tokens_given_twice_is_refused():
    with pytest.raises(UserError, match="max_tokens once"):
        Guard(SUPPORT, ScriptedBackend([]), max_tokens=10, sampling={"max_tokens": 20})
