import json

import pytest

from parlantish.core.constraints import Constraint, ConstraintKind, rejection_error
from parlantish.errors import ConstraintError, UserError

SCHEMA = {"type": "object", "properties": {"a": {"const": "x"}}, "required": ["a"]}


def test_key_is_stable_and_order_independent():
    one = Constraint.json_schema(
        {"type": "object", "required": ["a"], "properties": {"a": {"const": "x"}}}
    )
    two = Constraint.json_schema(SCHEMA)
    assert one.key == two.key
    assert one == two and hash(one) == hash(two)
    assert Constraint.regex("a+").key != Constraint.grammar("a+").key


def test_each_kind_maps_to_its_vllm_field():
    assert Constraint.json_schema(SCHEMA).to_vllm() == {"json": SCHEMA}
    assert Constraint.regex("[0-9]+").to_vllm() == {"regex": "[0-9]+"}
    assert Constraint.choice(["yes", "no"]).to_vllm() == {"choice": ["yes", "no"]}
    assert Constraint.grammar('start: "a"').to_vllm() == {"grammar": 'start: "a"'}
    tag = Constraint.structural_tag({"format": {"type": "const_string", "value": "hi"}})
    sent = tag.to_vllm()
    assert set(sent) == {"structural_tag"}
    assert json.loads(sent["structural_tag"]) == {
        "type": "structural_tag",
        "format": {"type": "const_string", "value": "hi"},
    }
    assert tag.kind is ConstraintKind.STRUCTURAL_TAG


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: Constraint.json_schema({"type": "objekt"}), "invalid JSON schema"),
        (lambda: Constraint.json_schema(["not", "a", "schema"]), "JSON object"),
        (lambda: Constraint.regex("(unclosed"), "invalid regex at position"),
        (lambda: Constraint.choice([]), "at least one"),
        (lambda: Constraint.choice(["", "x"]), "non-empty"),
        (lambda: Constraint.grammar("   "), "non-empty"),
        (lambda: Constraint.structural_tag({"type": "x"}), '"format"'),
    ],
)
def test_invalid_constraints_are_user_errors(build, fragment):
    with pytest.raises(ConstraintError, match=fragment.replace("(", r"\(")):
        build()


def test_describe_is_json_ready():
    assert json.loads(json.dumps(Constraint.choice(("a", "b")).describe())) == {
        "type": "choice",
        "payload": ["a", "b"],
    }


def test_rejection_error_separates_constraint_problems_from_others():
    assert (
        type(rejection_error("Invalid grammar specification", has_constraint=True))
        is ConstraintError
    )
    assert type(rejection_error("prompt is too long", has_constraint=True)) is UserError
    assert type(rejection_error("invalid grammar", has_constraint=False)) is UserError
