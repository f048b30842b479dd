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
        for n in range(4)
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
