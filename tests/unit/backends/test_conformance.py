"""The scripted backend's conformance check is as strict as a constrained engine: for every
layout and target, valid outputs pass, and garbage or near-misses of the forced text fail."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parlantish.backends import ScriptedBackend, ScriptError
from parlantish.backends.conformance import conformance_error
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan, example_output
from parlantish.core.constraints import Constraint
from parlantish.core.formats import format_error

from ..runtime.conftest import BLUEPRINTS, USER

CASES = [
    (name, variables, arm, target)
    for name, variables in (
        ("support-refunds.yaml", {"customer_name": "Dana"}),
        ("longform-writer.yaml", {"topic": "tides"}),
        ("ticket-triage.yaml", {}),
    )
    for arm in ("blueprint", "direct", "cot")
    for target in ("structural_tag", "grammar")
]


def _plan(name, variables, arm, target):
    return compile_plan(load_blueprint(BLUEPRINTS / name), variables, USER, arm=arm, target=target)


def test_json_errors_name_the_place():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    constraint = Constraint.json_schema(schema)
    assert conformance_error(constraint, '{"n": 3}') is None
    assert "not JSON" in conformance_error(constraint, "{n: 3")
    assert "at n" in conformance_error(constraint, '{"n": "3"}')


def test_format_trees_with_tags_alternatives_and_embedded_json():
    fmt = {
        "type": "sequence",
        "elements": [
            {"type": "const_string", "value": "a.b"},
            {
                "type": "or",
                "elements": [
                    {"type": "const_string", "value": "x"},
                    {"type": "const_string", "value": "y"},
                ],
            },
            {"type": "tag", "begin": "<t>", "content": {"type": "any_text"}, "end": "</t>"},
            {"type": "json_schema", "json_schema": {"type": "integer", "minimum": 3}},
        ],
    }
    assert format_error(fmt, "a.by<t>free\ntext</t>7") is None
    assert format_error(fmt, "aXby<t></t>7") is not None  # the dot is literal
    assert format_error(fmt, "a.bx<t></t>2") is not None  # the integer is below its minimum
    assert format_error(fmt, "a.bx<t></t>7 and more") is not None


def test_an_embedded_json_schema_is_not_a_free_pass():
    tag = Constraint.structural_tag({"format": {"type": "json_schema", "json_schema": {}}})
    assert conformance_error(tag, "anything") is not None
    assert conformance_error(tag, '{"any": "json"}') is None


@pytest.mark.parametrize(("name", "variables", "arm", "target"), CASES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_layout_refuses_garbage_and_near_misses(name, variables, arm, target, data):
    plan = _plan(name, variables, arm, target)
    if plan.constraint is None:
        pytest.skip("an unconstrained plan accepts any text")
    valid = example_output(plan, _reply(name, plan))
    assert conformance_error(plan.constraint, valid) is None
    garbage = data.draw(st.text(max_size=200))
    if garbage != valid:
        assert conformance_error(plan.constraint, garbage) is not None
    # A near miss: one character of the valid text changed, dropped or added.
    position = data.draw(st.integers(0, len(valid) - 1))
    how = data.draw(st.sampled_from(["drop", "change", "insert"]))
    forced_prefix = plan.mode in ("arq", "longform", "cot") and position < _forced_length(valid)
    if not forced_prefix:
        return
    char = data.draw(st.characters(blacklist_characters=valid[position]))
    if how == "drop":
        near = valid[:position] + valid[position + 1 :]
    elif how == "change":
        near = valid[:position] + char + valid[position + 1 :]
    else:
        near = valid[:position] + char + valid[position:]
    if near != valid and conformance_error(plan.constraint, near) is None:
        # Some edits stay valid (inside free answers): the parse must then still succeed.
        plan.parse(near)


def _reply(name, plan):
    if plan.mode == "longform":
        return [f"Part {index}." for index in range(len(plan.layout.groups))]
    if name == "ticket-triage.yaml":
        blueprint = load_blueprint(BLUEPRINTS / name)
        from parlantish.blueprint.model import AnswerSpec
        from parlantish.compiler.answers import answer_json_schema, example_answer

        spec = AnswerSpec(type="object", properties=blueprint.spec.reply.properties)
        return example_answer(answer_json_schema(spec))
    return "Fine reply."


def _forced_length(text: str) -> int:
    """Only edits in the first few characters are sure to hit forced text."""
    return min(len(text), 10)


@pytest.mark.parametrize(("name", "variables", "arm", "target"), CASES)
def test_the_scripted_backend_refuses_what_the_constraint_could_not_produce(
    name, variables, arm, target
):
    plan = _plan(name, variables, arm, target)
    if plan.constraint is None:
        pytest.skip("unconstrained")
    backend = ScriptedBackend(["certainly not in the plan's shape"])
    with pytest.raises(ScriptError, match="breaks the request's"):
        backend.generate(plan.request())


def test_an_anchored_answer_pattern_matches_after_forced_text():
    fmt = {
        "type": "sequence",
        "elements": [
            {"type": "const_string", "value": "Answer: "},
            {"type": "regex", "pattern": "^[A-Z]{2,5}$"},
            {"type": "const_string", "value": "\n"},
        ],
    }
    assert format_error(fmt, "Answer: ABC\n") is None
    assert format_error(fmt, "Answer: abc\n") is not None


def test_paragraph_breaks_in_a_single_group_reply_are_part_of_the_reply():
    from parlantish.compiler.longform import LongformLayout

    layout = LongformLayout((), (), "\n\n", (300,), 1)
    parsed = layout.parse("[Reply]\nPara one.\n\nPara two.")
    assert parsed.segments == ("Para one.\n\nPara two.",)
    streamed = "".join(
        e.text for e in layout.stream_parser().feed("[Reply]\nPara one.\n\nPara two.")
    )
    assert streamed == parsed.text
