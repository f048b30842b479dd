import re
from pathlib import Path

import pytest

from parlantish.blueprint import BlueprintError, lint_file, load_blueprint, load_blueprint_text

EXAMPLES = sorted((Path(__file__).parents[3] / "blueprints").glob("*.yaml"))
MINIMAL = """\
blueprint: t
instructions:
  rule: Be kind.
checkpoints:
  - id: c
    recall: [rule]
    ask: Why?
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(path):
    assert lint_file(path) == []


def test_there_are_at_least_five_examples():
    assert len(EXAMPLES) >= 5


def test_unknown_keys_get_a_did_you_mean_at_the_key(lint):
    problems = lint(MINIMAL.replace("    recall: [rule]", "    recal: [rule]"))
    assert problems == ["bp.yaml:6:5: unknown key 'recal' (did you mean 'recall'?)"]


def test_unknown_top_level_key(lint):
    assert lint(MINIMAL + "instrucions: {}\n") == [
        "bp.yaml:8:1: unknown key 'instrucions' (did you mean 'instructions'?)"
    ]


def test_undefined_recall_ids_are_located(lint):
    problems = lint(MINIMAL.replace("[rule]", "[rul]"))
    assert problems == [
        "bp.yaml:6:13: recall names unknown instruction 'rul' (did you mean 'rule'?)"
    ]


def test_wrong_types_say_what_was_expected(lint):
    problems = lint(MINIMAL.replace("    ask: Why?", "    ask: Why?\n    answer: {type: bool}"))
    assert len(problems) == 1 and problems[0].startswith("bp.yaml:8:")
    assert "one of" in problems[0] and '"boolean"' in problems[0] and '"bool"' in problems[0]
    assert lint("blueprint: t\ncheckpoints: {a: 1}\n")[0].startswith(
        "bp.yaml:2:14: checkpoints: expected array"
    )


def test_missing_required_keys(lint):
    assert lint("instructions: {}\n") == ["bp.yaml:1:1: missing required key 'blueprint'"]
    problems = lint("blueprint: t\ncheckpoints:\n  - id: c\n")
    assert problems == ["bp.yaml:3:5: checkpoints/0: missing required key 'ask'"]


def test_answer_fields_must_fit_the_type(lint):
    problems = lint(MINIMAL + "    answer: {type: boolean, max_length: 3}\n")
    assert problems == [
        "bp.yaml:8:13: checkpoint 'c' answer: 'max_length' does not apply to a boolean answer"
    ]
    problems = lint(MINIMAL + "    answer: {type: enum}\n")
    assert problems == ["bp.yaml:8:13: checkpoint 'c' answer: a enum answer needs 'values'"]


def test_templates_are_checked(lint):
    assert lint(MINIMAL.replace("Be kind.", "Be kind to {{ name }}.")) == [
        "bp.yaml:3:9: template uses undefined variable 'name' (known: none declared)"
    ]
    problems = lint(MINIMAL.replace("Be kind.", "'Be {{ kind'"))
    assert (
        len(problems) == 1
        and "template syntax error" in problems[0]
        and problems[0].startswith("bp.yaml:3:")
    )


def test_duplicate_and_reserved_checkpoint_ids(lint):
    text = MINIMAL + "  - id: c\n    ask: Again?\n  - id: reply\n    ask: x\n"
    assert lint(text) == [
        "bp.yaml:8:9: checkpoint id 'c' is used twice",
        "bp.yaml:10:9: checkpoint id 'reply' is reserved",
    ]


def test_variable_defaults_must_match_their_type(lint):
    problems = lint("blueprint: t\nvariables:\n  n: {type: integer, default: many}\n")
    assert problems == [
        "bp.yaml:3:6: default of variable 'n' is invalid: 'many' is not of type 'integer'"
    ]


def test_segments_and_reply_consistency(lint):
    text = MINIMAL + "reply: {type: object}\nsegments: {count: {min: 4, max: 2}, max_tokens: 10}\n"
    problems = lint(text)
    assert "bp.yaml:8:8: an object reply needs 'properties'" in problems
    assert "bp.yaml:9:11: segments need a text reply, not an object" in problems
    assert "bp.yaml:9:11: segments.count: min is greater than max" in problems


def test_checks_are_validated_against_the_registry(lint):
    problems = lint(
        MINIMAL + "checks:\n  - max_sentence: 3\n  - {contains: {txt: a}}\n  - no_comma\n"
    )
    assert problems[0].startswith(
        "bp.yaml:9:5: unknown check 'max_sentence' (did you mean 'max_sentences'?)"
    )
    assert problems[1].startswith("bp.yaml:10:5: check 'contains'") and len(problems) == 2


def test_load_raises_with_every_problem(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("blueprint: t\nfoo: 1\nbar: 2\n")
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(path)
    assert len(caught.value.problems) == 2 and "(and 1 more)" in str(caught.value)


def test_extends_merges_parts(tmp_path):
    (tmp_path / "base.yaml").write_text(MINIMAL + "checks:\n  - contains: kind\n")
    (tmp_path / "child.yaml").write_text(
        "blueprint: child\nextends: base.yaml\ninstructions:\n  extra: Be brief.\n"
        "checkpoints:\n  - id: c\n    recall: [rule, extra]\n    ask: Why now?\n"
        "  - id: d\n    ask: Then?\nchecks:\n  - contains: brief\n"
    )
    blueprint = load_blueprint(tmp_path / "child.yaml")
    spec = blueprint.spec
    assert spec.blueprint == "child" and set(spec.instructions) == {"rule", "extra"}
    assert [(c.id, c.ask) for c in spec.checkpoints] == [("c", "Why now?"), ("d", "Then?")]
    assert spec.checks == [{"contains": "kind"}, {"contains": "brief"}]
    assert blueprint.locate("checkpoints", "d", "ask").path.endswith("child.yaml")
    assert blueprint.locate("instructions", "rule").path.endswith("base.yaml")


def test_extends_problems_are_located_at_the_extends_key(lint, tmp_path):
    assert lint("blueprint: t\nextends: nowhere.yaml\n")[0].startswith(
        "bp.yaml:2:10: cannot extend nowhere.yaml: cannot read the file"
    )
    (tmp_path / "a.yaml").write_text("blueprint: a\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("blueprint: b\nextends: a.yaml\n")
    problems = [str(p) for p in lint_file(tmp_path / "a.yaml")]
    assert any("cycle" in p for p in problems)


def test_hash_is_stable_and_tracks_content():
    one = load_blueprint_text(MINIMAL)
    assert one.hash == load_blueprint_text("# a comment\n" + MINIMAL).hash
    assert one.hash != load_blueprint_text(MINIMAL.replace("Be kind.", "Be nice.")).hash


@pytest.mark.parametrize("budget", [1, 5, 7])
def test_a_segment_budget_below_one_sentence_is_located(lint, budget):
    problems = lint(MINIMAL + f"segments: {{count: 3, max_tokens: {budget}}}\n")
    assert len(problems) == 1
    assert re.match(r"bp\.yaml:8:\d+: segments/max_tokens: a segment", problems[0]), problems
    assert f"a segment of {budget} tokens cannot hold a sentence" in problems[0]
    assert lint(MINIMAL + "segments: {count: 3, max_tokens: 8}\n") == []
