import json
from pathlib import Path

import jsonschema
import pytest

from parlantish.backends import ScriptedBackend
from parlantish.backends.conformance import conformance_error
from parlantish.blueprint import VariablesError, load_blueprint, load_blueprint_text
from parlantish.compiler import OutputParseError, clear_cache, compile_plan
from parlantish.errors import UserError

BLUEPRINTS = Path(__file__).parents[3] / "blueprints"
SUPPORT = load_blueprint(BLUEPRINTS / "support-refunds.yaml")
WRITER = load_blueprint(BLUEPRINTS / "longform-writer.yaml")
USER = [{"role": "user", "content": "I want my money back."}]


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def arq_output(plan, reply="Hello Dana.", answers=None):
    """A valid ARQ output for ``plan``, built from the plan itself."""
    answers = answers or {}
    value = {}
    for c in plan.checkpoints:
        part = {"recall": dict(c.recall)} if c.recall else {}
        part["ask"] = c.ask
        kind = c.answer_schema["type"]
        part["answer"] = answers.get(c.id, {"boolean": True, "string": "x"}.get(kind, "x"))
        value[c.id] = part
    if plan.layout.reply_recall:
        value["reply_recall"] = dict(plan.layout.reply_recall)
    value["reply"] = reply
    return json.dumps(value)


def test_arq_schema_orders_checkpoints_forces_every_recall_and_closes_objects():
    plan = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    schema = plan.constraint.payload
    jsonschema.Draft202012Validator.check_schema(schema)
    assert list(schema["properties"]) == [
        "request",
        "refund_asked",
        "plan",
        "reply_recall",
        "reply",
    ]
    consts = {node["const"] for node in walk(schema) if "const" in node}
    for checkpoint in plan.checkpoints:
        assert set(checkpoint.recall_texts) <= consts and checkpoint.ask in consts
    assert "Address the customer as Dana." in consts  # templates rendered before forcing
    objects = [node for node in walk(schema) if node.get("type") == "object"]
    assert objects and all(node["additionalProperties"] is False for node in objects)
    assert schema["properties"]["reply"] == {"type": "string", "maxLength": 500}


def test_arq_output_round_trips():
    plan = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    text = arq_output(plan, answers={"refund_asked": True})
    assert conformance_error(plan.constraint, text) is None
    parsed = plan.parse(text)
    assert parsed.reply == "Hello Dana." and parsed.text == "Hello Dana."
    assert [a.id for a in parsed.checkpoints] == ["request", "refund_asked", "plan"]
    assert parsed.checkpoints[1].answer is True
    assert parsed.checkpoints[1].recall == (
        "Never promise or approve a refund; offer to escalate to a human agent instead.",
    )


def test_malformed_outputs_are_parse_errors():
    plan = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    with pytest.raises(OutputParseError, match="not JSON"):
        plan.parse("Sure! Here is my reply.")
    tampered = arq_output(plan).replace("Never promise", "Always promise")
    with pytest.raises(OutputParseError, match="refund_asked"):
        plan.parse(tampered)


def test_scripted_backend_accepts_only_plan_shaped_outputs():
    plan = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    backend = ScriptedBackend([arq_output(plan), "free text"])
    assert plan.parse(backend.generate(plan.request()).text).reply == "Hello Dana."
    with pytest.raises(UserError, match="json_schema"):
        backend.generate(plan.request())


def longform_text(plan, segments):
    layout = plan.layout
    head = ""
    for c in plan.checkpoints:
        head += f"[Checkpoint {c.id}]\n"
        if c.recall:
            head += "Recall: " + " ".join(c.recall_texts) + "\n"
        head += f"Question: {c.ask}\nAnswer: some answer\n"
    return head + layout.reply_prefix + layout.reminder.join(segments)


def test_longform_structural_tag_and_round_trip():
    plan = compile_plan(WRITER, {"topic": "tides"}, USER)
    assert plan.mode == "longform" and plan.constraint.kind.value == "structural_tag"
    fmt = plan.constraint.payload["format"]
    texts = [e["value"] for e in fmt["elements"] if e["type"] == "const_string"]
    reminder = plan.layout.reminder
    for instruction in (
        "Use plain words a general reader knows",
        'never say "I" or "we"',
        "no bullet points",
    ):
        assert instruction in reminder
    assert reminder in texts
    budgets = [e["max_tokens"] for e in walk(fmt) if e.get("type") == "any_text"]
    assert budgets == [96] * 6
    optional = [e for e in walk(fmt) if e.get("type") == "optional"]
    assert len(optional) == 3  # segments 4, 5, 6 may be left out
    text = longform_text(plan, ["Part one.", "Part two.", "Part three.", "Part four."])
    assert conformance_error(plan.constraint, text) is None
    parsed = plan.parse(text)
    assert parsed.segments == ("Part one.", "Part two.", "Part three.", "Part four.")
    assert parsed.reply == "Part one.\nPart two.\nPart three.\nPart four."
    assert len(parsed.reminders) == 3 and "[Reminder" not in parsed.reply
    with pytest.raises(OutputParseError, match="segments"):
        plan.parse(longform_text(plan, ["Only one."]))


def test_longform_every_n_merges_segments_between_reminders():
    blueprint = load_blueprint_text(
        "blueprint: t\ninstructions: {r: Be brief.}\n"
        "segments: {count: 5, max_tokens: 10, recall: [r], every: 2}\n"
    )
    plan = compile_plan(blueprint)
    assert plan.layout.groups == (20, 20, 10) and plan.layout.min_groups == 3


def test_longform_lark_grammar_is_equivalent_and_valid_for_llguidance():
    plan = compile_plan(WRITER, {"topic": "tides"}, USER, target="grammar")
    grammar = plan.constraint.payload
    assert plan.constraint.kind.value == "grammar"
    assert "[max_tokens=96]" in grammar and "Recall: " in grammar
    llguidance = pytest.importorskip("llguidance")  # the grammar engine behind vLLM's guidance
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(
        llguidance.grammar_from("lark", grammar)
    )
    assert not is_error, messages


def test_baseline_arms_share_the_system_prompt_and_drop_checkpoints():
    blueprint_plan = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    direct = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER, arm="direct")
    cot = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER, arm="cot")
    assert direct.constraint is None and direct.checkpoints == ()
    assert blueprint_plan.messages[0].content.startswith(direct.messages[0].content)
    assert direct.messages[1:] == blueprint_plan.messages[1:]
    assert list(cot.constraint.payload["properties"]) == ["reasoning", "reply"]
    parsed = cot.parse(json.dumps({"reasoning": "think", "reply": "Hi"}))
    assert parsed.reasoning == "think" and parsed.reply == "Hi"
    longform_cot = compile_plan(WRITER, {"topic": "tides"}, USER, arm="cot")
    assert longform_cot.parse("Reasoning: plan\n[Reply]\nText.").reply == "Text."


def test_typed_reply_direct_arm_uses_the_reply_schema():
    triage = load_blueprint(BLUEPRINTS / "ticket-triage.yaml")
    direct = compile_plan(triage, {}, USER, arm="direct")
    assert direct.constraint.payload["required"] == ["category", "severity", "reason"]
    parsed = direct.parse('{"category": "login", "severity": "high", "reason": "x"}')
    assert parsed.reply["severity"] == "high"


def test_compilation_is_cached_and_deterministic():
    clear_cache()
    one = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    two = compile_plan(SUPPORT, {"customer_name": "Dana"}, [{"role": "user", "content": "Other"}])
    assert one.layout is two.layout and one.constraint is two.constraint
    other = compile_plan(SUPPORT, {"customer_name": "Lee"}, USER)
    assert other.layout is not one.layout
    clear_cache()
    again = compile_plan(SUPPORT, {"customer_name": "Dana"}, USER)
    assert again.describe() == one.describe()


def test_conversation_system_message_is_merged_after_the_blueprints():
    plan = compile_plan(
        SUPPORT,
        {"customer_name": "Dana"},
        [{"role": "system", "content": "Today is Monday."}, *USER],
    )
    assert [m.role for m in plan.messages] == ["system", "user"]
    assert plan.messages[0].content.endswith("Today is Monday.")


def test_bad_calls_are_user_errors():
    with pytest.raises(VariablesError, match="customer_name"):
        compile_plan(SUPPORT, {}, USER)
    with pytest.raises(UserError, match=r"messages\[0\]"):
        compile_plan(SUPPORT, {"customer_name": "D"}, [{"role": "customer", "content": "x"}])
    with pytest.raises(UserError, match="unknown arm"):
        compile_plan(SUPPORT, {"customer_name": "D"}, USER, arm="fancy")


@pytest.mark.parametrize("path", sorted(BLUEPRINTS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_compiles_with_its_forced_literals_in_the_constraint(path):
    blueprint = load_blueprint(path)
    variables = {
        name: "2026-11-24" if name == "today" else "Sample"
        for name, spec in blueprint.spec.variables.items()
        if "default" not in spec.model_fields_set
    }
    plan = compile_plan(blueprint, variables, USER)
    payload = json.dumps(plan.constraint.payload, ensure_ascii=False)
    assert plan.checkpoints
    for checkpoint in plan.checkpoints:
        for text in [*checkpoint.recall_texts, checkpoint.ask]:
            assert json.dumps(text, ensure_ascii=False)[1:-1] in payload


def test_a_reply_schema_with_definitions_is_nested_and_closed_in_every_arm():
    from pydantic import BaseModel

    class Item(BaseModel):
        name: str

    class Order(BaseModel):
        items: list[Item]

    for arm in ("blueprint", "cot", "direct"):
        plan = compile_plan(
            SUPPORT, {"customer_name": "D"}, USER, arm=arm, reply_schema=Order.model_json_schema()
        )
        schema = plan.constraint.payload
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$defs"]["Item"]["additionalProperties"] is False
        reply = {"items": [{"name": "x"}]}
        if arm == "direct":
            jsonschema.validate(reply, schema)
        else:
            node = schema["properties"]["reply"]
            assert node["properties"]["items"]["items"] == {"$ref": "#/$defs/Item"}
    with pytest.raises(UserError, match="long-form"):
        compile_plan(WRITER, {"topic": "t"}, USER, reply_schema=Order.model_json_schema())


def test_the_cot_arm_honours_the_grammar_target():
    from parlantish.core.constraints import ConstraintKind

    blueprint = load_blueprint(BLUEPRINTS / "longform-writer.yaml")
    for target, kind in (
        ("grammar", ConstraintKind.GRAMMAR),
        ("structural_tag", ConstraintKind.STRUCTURAL_TAG),
    ):
        plan = compile_plan(blueprint, {"topic": "tides"}, USER, arm="cot", target=target)
        assert plan.constraint.kind is kind
