"""Suite files and the IFEval importer: loading, located errors."""

import json

import pytest

from parlantish.checks import get_check_type
from parlantish.checks.ifeval import IFEVAL_IDS
from parlantish.compiler import compile_plan
from parlantish.eval import SuiteError, load_suite, rule_sentence

from .conftest import BLUEPRINTS, IFEVAL, ROOT


def test_the_example_suite_loads(suite_file):
    suite = load_suite(ROOT / "examples" / "consistency-suite.yaml")
    assert [a.name for a in suite.arms] == ["direct", "cot", "blueprint"]
    assert len(suite.scenarios) == 3
    article = suite.scenarios[2]
    assert article.blueprint.spec.segments.max_tokens == 48  # the scenario's override
    # Scenario checks come with the blueprint's own.
    refund = load_suite(suite_file).scenarios[0]
    assert [c.name for c in refund.checks] == ["no_comma", "not_matches", "max_sentences"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("suite: s\narms: [direct, fancy]\nscenarios: []\ninclude: [x.jsonl]\n", 2, "unknown arm"),
        ("suite: s\nsamples: 0\nscenarios: []\n", 2, "samples"),
        ("suite: s\n", 1, "needs `scenarios` or `include`"),
        (
            "suite: s\nscenarios:\n  - id: a\n    messages: [{role: user, content: hi}]\n",
            3,
            "has no blueprint",
        ),
        (
            f"suite: s\nblueprint: {BLUEPRINTS / 'support-refunds.yaml'}\nscenarios:\n"
            "  - id: a\n    messages: [{role: user, content: hi}]\n    checks: [no_coma]\n",
            6,
            "did you mean 'no_comma'",
        ),
        (
            f"suite: s\nblueprint: {BLUEPRINTS / 'support-refunds.yaml'}\nscenarios:\n"
            "  - id: a\n    messages: [{role: robot, content: hi}]\n",
            5,
            "role",
        ),
        ("suite: s\nsurprise: 1\nscenarios: []\ninclude: [x.jsonl]\n", 2, "surprise"),
    ],
)
def test_bad_suites_are_located_errors(tmp_path, text, line, message):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    assert message in str(error.value)
    assert error.value.location.path == str(path) and error.value.location.line == line


def test_ifeval_file_becomes_a_suite_with_rules_and_checks():
    suite = load_suite(IFEVAL)
    assert len(suite.scenarios) == 541
    lines = [json.loads(x) for x in IFEVAL.read_text().splitlines()]
    for scenario, line in zip(suite.scenarios, lines, strict=True):
        assert scenario.id == f"ifeval-{line['key']}"
        assert [c.name for c in scenario.checks] == line["instruction_id_list"]
        assert len(scenario.variables["rules"]) == len(line["instruction_id_list"])
    first = suite.scenarios[0]
    assert first.variables["rules"][0] == "Do not use any commas."
    plan = compile_plan(first.blueprint, first.variables, first.messages)
    assert plan.mode == "longform"
    assert "(1) Do not use any commas." in plan.checkpoints[0].recall_texts[0]


def test_every_ifeval_instruction_has_a_rule_sentence():
    for instruction_id in IFEVAL_IDS:
        get_check_type(instruction_id)
        assert rule_sentence(instruction_id, {}).endswith((".", "it.", '".'))
    assert (
        rule_sentence("length_constraints:number_words", {"relation": "less than", "num_words": 40})
        == "Answer with less than 40 words."
    )


def test_bad_ifeval_lines_are_located(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"key": 1, "prompt": "hi", "instruction_id_list": ["punctuation:no_comma"], '
        '"kwargs": [{}]}\n{"key": 2, "prompt": "hi", "instruction_id_list": ["nope:x"], '
        '"kwargs": [{}]}\n'
    )
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    assert error.value.location.line == 2 and "unknown check 'nope:x'" in str(error.value)
    path.write_text("{not json\n")
    with pytest.raises(SuiteError, match="not JSON"):
        load_suite(path)


def test_the_long_output_suite_asks_for_long_replies_judged_by_locatable_checks(tmp_path):
    from parlantish.backends import ScriptedBackend
    from parlantish.eval import Evaluator

    suite = load_suite(ROOT / "examples" / "long-suite.yaml")
    items = Evaluator(suite, ScriptedBackend(), tmp_path).plan()
    assert {i.arm.name for i in items} == {"direct", "blueprint", "stepwise", "repair"}
    for item in items:
        segments = item.scenario.blueprint.spec.segments
        assert segments.count.min * segments.max_tokens >= 800  # every reply at least that long
        assert item.sampling.max_tokens >= 1500
        located = [c for c in item.scenario.checks if c.name != "not_degenerate"]
        assert len(located) >= 3 and all(c.locatable for c in located)


SUITE_SCHEMA = ROOT / "blueprints" / "suite.schema.json"


def test_the_published_suite_schema_matches_the_model(capsys):
    from parlantish.cli.main import main
    from parlantish.cli.schema import schema_text

    # Regenerate with: parlantish schema suite --out blueprints/suite.schema.json
    assert SUITE_SCHEMA.read_text() == schema_text("suite")
    with pytest.raises(SystemExit) as exited:
        main(["schema", "suite"])
    assert exited.value.code == 0 and capsys.readouterr().out == SUITE_SCHEMA.read_text()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda path: path.name
)
def test_every_example_suite_validates_against_the_published_schema(path):
    import jsonschema
    from ruamel.yaml import YAML

    schema = json.loads(SUITE_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(YAML(typ="safe", pure=True).load(path.read_text()), schema)


def test_the_suite_schema_refuses_what_the_loader_refuses():
    import jsonschema

    schema = json.loads(SUITE_SCHEMA.read_text())
    turns = [{"user": "hi", "inject": ""}, {"user": "and?"}]
    bad = {"suite": "s", "scenarios": [{"id": "a", "turns": turns, "sampels": 2}]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert any(e.validator == "additionalProperties" and "sampels" in e.message for e in errors)
    # The empty injected reply is what makes the turns invalid: without it they pass.
    assert any("turns" in list(e.absolute_path) for e in errors)
    turns[0]["inject"] = "Refund approved."
    fixed = list(jsonschema.Draft202012Validator(schema).iter_errors(bad))
    assert [e.validator for e in fixed] == ["additionalProperties"]
