from parlantish.backends.conformance import conformance_error, structural_tag_regex
from parlantish.core.constraints import Constraint


def test_json_errors_name_the_place():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    constraint = Constraint.json_schema(schema)
    assert conformance_error(constraint, '{"n": 3}') is None
    assert "not JSON" in conformance_error(constraint, "{n: 3")
    assert "at n" in conformance_error(constraint, '{"n": "3"}')


def test_structural_tag_regex_handles_sequences_tags_and_alternatives():
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
        ],
    }
    import re

    pattern = structural_tag_regex(fmt)
    assert re.fullmatch(pattern, "a.by<t>free\ntext</t>", re.DOTALL)
    assert not re.fullmatch(pattern, "aXby<t></t>", re.DOTALL)
    assert structural_tag_regex({"type": "json_schema", "json_schema": {}}) is None


def test_untranslatable_structural_tags_are_accepted():
    tag = Constraint.structural_tag({"format": {"type": "json_schema", "json_schema": {}}})
    assert conformance_error(tag, "anything") is None
