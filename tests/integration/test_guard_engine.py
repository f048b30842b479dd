"""The Guard on the real embedded engine, and `parlantish run` as a user runs it."""

import json
from pathlib import Path

import pytest

from parlantish import Guard

from .cli import run_cli_json

pytestmark = pytest.mark.engine

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"
USER = [{"role": "user", "content": "You charged me twice. I want my money back."}]


def test_guarded_reply_on_the_engine(engine):
    guard = Guard(BLUEPRINTS / "support-refunds.yaml", engine, then="return", retries=0)
    reply = guard.reply(USER, {"customer_name": "Dana"})
    assert [c.id for c in reply.checkpoints] == ["request", "refund_asked", "plan"]
    assert isinstance(reply.checkpoints[1].answer, bool)
    assert isinstance(reply.checkpoints[0].answer, str)
    for checkpoint in reply.checkpoints:
        for text in checkpoint.recall:
            assert json.dumps(text)[1:-1] in reply.raw  # forced verbatim
    assert reply.usage.completion_tokens == sum(a.usage.completion_tokens for a in reply.attempts)
    assert {c.name for c in reply.checks} == {"not_matches", "max_sentences"}


def test_streaming_and_batch_on_the_engine(engine):
    guard = Guard(BLUEPRINTS / "ticket-triage.yaml", engine, then="return")
    events = list(
        guard.stream([{"role": "user", "content": "Nobody can log in since the update."}])
    )
    final = events[-1].reply
    assert [type(e).__name__ for e in events].count("CheckpointEvent") == 4
    assert final.reply["category"] in {
        "billing",
        "login",
        "data",
        "performance",
        "security",
        "other",
    }
    calls = [
        ([{"role": "user", "content": f"Ticket {n}: the invoice total is wrong."}], None)
        for n in range(2)
    ]
    results = guard.reply_many(calls)
    assert all(r.reply["severity"] in {"low", "medium", "high", "critical"} for r in results)


def test_cli_run_json(embedded_model_dir):
    output = run_cli_json(
        "run",
        str(BLUEPRINTS / "ticket-triage.yaml"),
        "--message",
        "Our API key leaked on a forum.",
        "--json",
    )
    assert set(output) >= {
        "reply",
        "checkpoints",
        "checks",
        "usage",
        "attempts",
        "raw",
        "blueprint",
    }
    assert [c["id"] for c in output["checkpoints"]] == [
        "security_terms",
        "category",
        "data_loss",
        "severity",
    ]
    for checkpoint in output["checkpoints"]:
        for text in checkpoint["recall"]:
            assert json.dumps(text)[1:-1] in output["raw"]
    assert output["blueprint"]["name"] == "ticket-triage"


LAYOUTS = [
    ("support-refunds.yaml", {"customer_name": "Dana"}, arm) for arm in ("blueprint", "cot")
] + [("longform-short.yaml", {}, "blueprint")]  # the cot layout of text replies is the one above
#: The long-form layout of longform-writer.yaml (checkpoints, recalled reply, reminders between
#: segments) with shorter segments: the same format, a quarter of the tokens.
LONGFORM_SHORT = """
blueprint: longform-short
instructions:
  plain: Use plain words.
  you: Speak to the reader as "you".
system: You are a careful science writer. Write an article about tides.
checkpoints:
  - id: angle
    ask: What single idea will the article explain?
    answer: {type: string, max_length: 80}
  - id: reader
    recall: [plain, you]
    ask: Who is the reader?
    answer: {type: string, max_length: 80}
reply:
  recall: [plain]
segments: {count: {min: 2, max: 3}, max_tokens: 32, recall: [plain, you]}
"""


def test_real_outputs_pass_the_scripted_backends_strict_conformance_check(engine, tmp_path):
    from parlantish.backends.conformance import conformance_error
    from parlantish.blueprint import load_blueprint
    from parlantish.compiler import compile_plan
    from parlantish.core import SamplingSettings

    (tmp_path / "longform-short.yaml").write_text(LONGFORM_SHORT)
    folders = {"longform-short.yaml": tmp_path}
    plans = [
        compile_plan(load_blueprint(folders.get(name, BLUEPRINTS) / name), variables, USER, arm=arm)
        for name, variables, arm in LAYOUTS
    ]
    requests = [
        plan.request(SamplingSettings(temperature=0.7, seed=11, max_tokens=plan.max_tokens))
        for plan in plans
    ]
    finished = 0
    for plan, result in zip(plans, engine.generate_many(requests), strict=True):
        if result.finish_reason != "stop":
            continue  # a cut output is a prefix, not a whole output of the constraint
        finished += 1
        assert conformance_error(plan.constraint, result.text) is None, (plan.arm, result.text)
    assert finished >= 2


def test_guard_and_evaluator_agree_on_the_real_engine(engine, tmp_path):
    from parlantish.errors import AttemptsExhaustedError
    from parlantish.eval import Evaluator, load_suite, read_results

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "suite: agreement\narms: [blueprint]\nsamples: 1\nseed: 2\n"
        "sampling: {temperature: 0.0, top_p: 1.0}\n"
        f"scenarios:\n  - id: refund\n    blueprint: {BLUEPRINTS / 'support-refunds.yaml'}\n"
        "    variables: {customer_name: Dana}\n"
        f'    messages: [{{role: user, content: "{USER[0]["content"]}"}}]\n'
    )
    Evaluator(load_suite(suite), engine, tmp_path / "out").run()
    (record,) = read_results(tmp_path / "out" / "results.jsonl")
    guard = Guard(BLUEPRINTS / "support-refunds.yaml", engine, seed=record["seed"], retries=0)
    try:
        first = guard.reply(USER, {"customer_name": "Dana"}).attempts[0]
    except AttemptsExhaustedError as e:
        first = e.attempts[0]
    assert first.raw == record["raw"]
    assert (first.passed, first.error_kind) == (record["passed"], record["error_kind"])
    assert first.usage.to_dict() == record["usage"]
