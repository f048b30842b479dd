"""Hostile or broken suite files and IFEval lines: located errors, never a traceback."""

import json

import pytest

from parlantish.errors import UserError
from parlantish.eval import SuiteError, load_suite

from .conftest import BLUEPRINTS

GOOD_BLUEPRINT = "blueprint: b\ninstructions: {rule: Be kind.}\n"
SCENARIO = "scenarios:\n  - id: a\n    messages: [{role: user, content: hi}]\n"


def _suite(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_missing_blueprint_is_located_at_the_suites_reference(tmp_path):
    path = _suite(tmp_path, "suite: s\nblueprint: missing.yaml\n" + SCENARIO)
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    where = error.value.location
    assert (where.path, where.line, where.column) == (str(path), 2, 12)
    assert "missing.yaml" in str(error.value)


def test_a_broken_blueprint_is_located_in_the_suite_then_in_itself(tmp_path):
    (tmp_path / "b.yaml").write_text("blueprint: b\nsurprise: 1\n")
    path = _suite(tmp_path, "suite: s\n" + SCENARIO + "    blueprint: b.yaml\n")
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    first, second = error.value.problems[:2]
    assert (first.location.path, first.location.line) == (str(path), 5)
    assert second.location.path.endswith("b.yaml") and second.location.line == 2


def test_references_outside_the_allowed_roots_are_refused(tmp_path, monkeypatch):
    (tmp_path / "outside.yaml").write_text(GOOD_BLUEPRINT)
    (tmp_path / "outside.jsonl").write_text("")
    inner = tmp_path / "project"
    inner.mkdir()
    monkeypatch.chdir(inner)
    path = _suite(inner, "suite: s\nblueprint: ../outside.yaml\n" + SCENARIO)
    with pytest.raises(SuiteError, match="outside the allowed folders") as error:
        load_suite(path)
    assert error.value.location.line == 2
    path = _suite(inner, "suite: s\ninclude: [../outside.jsonl]\n")
    with pytest.raises(SuiteError, match="outside the allowed folders") as error:
        load_suite(path)
    assert error.value.location.line == 2
    monkeypatch.setenv("PARLANTISH_ALLOW_ROOTS", str(tmp_path))
    path = _suite(inner, "suite: s\nblueprint: ../outside.yaml\n" + SCENARIO)
    assert load_suite(path).scenarios[0].blueprint.name == "b"


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("{count: 0, max_tokens: 10}", "at least 1"),
        ("{count: -3, max_tokens: 10}", "at least 1"),
        ("{count: {min: 3, max: 2}, max_tokens: 10}", "min is greater than max"),
    ],
)
def test_impossible_segments_in_a_suite_are_located(tmp_path, segments, message):
    text = f"suite: s\nblueprint: {BLUEPRINTS / 'longform-writer.yaml'}\nsegments: {segments}\n"
    path = _suite(tmp_path, text + SCENARIO)
    with pytest.raises(SuiteError, match=message) as error:
        load_suite(path)
    assert error.value.location.line == 3


def _jsonl(tmp_path, *records):
    path = tmp_path / "data.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD_LINE = {"key": 1, "prompt": "hi", "instruction_id_list": ["punctuation:no_comma"]}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**GOOD_LINE, "kwargs": [5]}, "kwargs must be an object"),
        ({**GOOD_LINE, "instruction_id_list": True}, "must be lists"),
        ({**GOOD_LINE, "kwargs": [[1, 2]]}, "kwargs must be an object"),
        ({**GOOD_LINE, "kwargs": ["x"]}, "kwargs must be an object"),
        ({**GOOD_LINE, "instruction_id_list": [["x"]]}, "must be a string"),
        (
            {
                **GOOD_LINE,
                "instruction_id_list": ["keywords:existence"],
                "kwargs": [{"keywords": 5}],
            },
            "keywords",
        ),
        ({**GOOD_LINE, "messages": 5}, "messages"),
        ({**GOOD_LINE, "messages": [{"role": "robot", "content": "x"}]}, "chat message"),
        ({**GOOD_LINE, "prompt": "a\ud800b"}, "lone surrogate"),
        ({**GOOD_LINE, "key": {"a": 1}}, '"key"'),
        ("[" * 100_000 + "]" * 100_000, "JSON"),
    ],
)
def test_ifeval_lines_of_the_wrong_shape_are_located(tmp_path, record, message):
    path = _jsonl(tmp_path, GOOD_LINE, record)
    with pytest.raises(SuiteError, match=message) as error:
        load_suite(path)
    assert error.value.location.line == 2


def test_an_ifeval_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    import os

    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_suite(fifo)
