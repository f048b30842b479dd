"""Example blueprints compiled and generated on the real embedded engine: every recalled
instruction appears verbatim in the raw output, and the output parses back.

All plans are generated in one batch (as the evaluator does), then checked one by one."""

import json
from pathlib import Path

import jsonschema
import pytest

from parlantish.backends import SamplingSettings
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan

pytestmark = pytest.mark.engine

BLUEPRINTS = Path(__file__).parents[2] / "blueprints"
CALLS = {
    "support-refunds.yaml": (
        {"customer_name": "Dana"},
        "I was charged twice. I want my money back now!",
    ),
    "support-refunds-vip.yaml": (
        {"customer_name": "Dana", "account_manager": "Ravi"},
        "Refund me.",
    ),
    "ticket-triage.yaml": (
        {},
        "Our API token was posted on a public forum and now nobody can log in.",
    ),
    "tool-arguments.yaml": (
        {"today": "2026-11-24"},
        "Book me a flight from Lisbon to Oslo please.",
    ),
}
LONGFORM = ("longform-writer.yaml", {"topic": "why the sea has tides"}, "Write the article.")


def plan_for(name, variables, message, arm="blueprint", target="structural_tag"):
    return compile_plan(
        load_blueprint(BLUEPRINTS / name),
        variables,
        [{"role": "user", "content": message}],
        arm=arm,
        target=target,
    )


@pytest.fixture(scope="module")
def generated(engine):
    plans = {("arq", name): plan_for(name, *call) for name, call in CALLS.items()}
    plans[("longform", LONGFORM[0])] = plan_for(*LONGFORM)
    for arm in ("direct", "cot"):
        plans[(arm, "support-refunds.yaml")] = plan_for(
            "support-refunds.yaml", *CALLS["support-refunds.yaml"], arm=arm
        )
    requests = [p.request(SamplingSettings(max_tokens=p.max_tokens)) for p in plans.values()]
    results = engine.generate_many(requests)
    return {key: (plan, result) for (key, plan), result in zip(plans.items(), results, strict=True)}


def forced_texts(plan):
    return [text for c in plan.checkpoints for text in c.recall_texts] + [
        c.ask for c in plan.checkpoints
    ]


@pytest.mark.parametrize("name", list(CALLS))
def test_arq_blueprint_forces_every_recall_and_parses(generated, name):
    plan, result = generated[("arq", name)]
    assert result.finish_reason == "stop", result.text
    jsonschema.validate(json.loads(result.text), plan.constraint.payload)  # independent validator
    assert plan.checkpoints and forced_texts(plan)
    for text in forced_texts(plan):
        assert (
            json.dumps(text, ensure_ascii=False)[1:-1] in result.text
        )  # verbatim JSON string body
    parsed = plan.parse(result.text)
    assert [a.id for a in parsed.checkpoints] == [c.id for c in plan.checkpoints]
    for answer, checkpoint in zip(parsed.checkpoints, plan.checkpoints, strict=True):
        assert list(answer.recall) == checkpoint.recall_texts
        jsonschema.validate(answer.answer, checkpoint.answer_schema)


def test_longform_blueprint_forces_reminders_between_segments(generated, engine):
    plan, result = generated[("longform", LONGFORM[0])]
    for text in forced_texts(plan):
        assert text in result.text
    parsed = plan.parse(result.text)
    assert 3 <= len(parsed.segments) <= 6
    reminder = plan.layout.reminder
    assert result.text.count(reminder) == len(parsed.segments) - 1
    assert "[Reminder:" not in parsed.reply
    tokenizer = engine.llm.get_tokenizer()
    for segment in parsed.segments:
        assert len(tokenizer.encode(segment, add_special_tokens=False)) <= 96 + 2


def test_direct_arm_is_plain_text_with_the_same_system_prompt(generated):
    plan, result = generated[("direct", "support-refunds.yaml")]
    blueprint_plan, _ = generated[("arq", "support-refunds.yaml")]
    assert plan.constraint is None and plan.checkpoints == ()
    shared = blueprint_plan.messages[0].content.split("\n\nAnswer with one JSON object")[0]
    assert plan.messages[0].content == shared
    assert plan.parse(result.text).reply == result.text


def test_cot_arm_reasons_then_replies(generated):
    plan, result = generated[("cot", "support-refunds.yaml")]
    assert result.finish_reason == "stop", result.text
    parsed = plan.parse(result.text)
    assert parsed.reasoning is not None and isinstance(parsed.reply, str)
