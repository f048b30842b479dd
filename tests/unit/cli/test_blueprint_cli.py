"""`parlantish lint` and `parlantish render`, as a user runs them (no model needed)."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parlantish.blueprint import lint_file
from parlantish.cli.main import main

BLUEPRINTS = Path(__file__).parents[3] / "blueprints"
EXAMPLES = sorted(BLUEPRINTS.glob("*.yaml"))


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    return exited.value.code, out, err


def test_lint_passes_on_the_examples(capsys):
    code, out, err = run(["lint", *map(str, EXAMPLES)], capsys)
    assert code == 0 and out == "" and f"{len(EXAMPLES)} file(s) ok" in err


def test_lint_prints_one_located_line_per_problem(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "blueprint: t\ninstructions: {a: x}\ncheckpoints:\n  - id: c\n    recall: [b]\n"
        "    ask: q\n    answr: {type: boolean}\n"
    )
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    code, out, err = run(["lint", str(EXAMPLES[0]), str(bad), str(empty)], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"{bad}:7:5: unknown key 'answr' (did you mean 'answer'?)",
        f"{empty}:1:1: the file is empty (expected a blueprint mapping)",
    ]
    assert "Traceback" not in err


def test_render_json_shows_messages_and_forced_literals(capsys):
    code, out, _ = run(
        [
            "render",
            str(BLUEPRINTS / "support-refunds.yaml"),
            "--var",
            "customer_name=Dana",
            "--message",
            "Refund!",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    plan = json.loads(out)
    assert [m["role"] for m in plan["messages"]] == ["system", "user"]
    assert plan["constraint"]["type"] == "json_schema"
    assert "Address the customer as Dana." in json.dumps(plan["constraint"]["payload"])


@pytest.mark.parametrize(
    ("arm", "target", "kind"),
    [
        ("blueprint", "structural_tag", "structural_tag"),
        ("blueprint", "grammar", "grammar"),
        ("direct", "structural_tag", "none"),
        ("cot", "structural_tag", "structural_tag"),
    ],
)
def test_render_longform_targets_and_arms(capsys, arm, target, kind):
    code, out, _ = run(
        [
            "render",
            str(BLUEPRINTS / "longform-writer.yaml"),
            "--var",
            "topic=tides",
            "--arm",
            arm,
            "--target",
            target,
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["constraint"]["type"] == kind


def test_render_text_format(capsys):
    code, out, _ = run(["render", str(BLUEPRINTS / "ticket-triage.yaml")], capsys)
    assert code == 0 and "--- system ---" in out and "--- constraint: json_schema ---" in out


def test_render_errors_are_one_message(capsys, tmp_path):
    code, _, err = run(["render", str(BLUEPRINTS / "support-refunds.yaml")], capsys)
    assert code == 1 and "missing variable 'customer_name'" in err and "Traceback" not in err
    code, _, err = run(
        ["render", str(BLUEPRINTS / "support-refunds.yaml"), "--var", "oops"], capsys
    )
    assert code == 1 and "not name=value" in err
    messages = tmp_path / "m.json"
    messages.write_text('[{"role": "user", "content": "x"},]')
    code, _, err = run(
        ["render", str(BLUEPRINTS / "ticket-triage.yaml"), "--messages", str(messages)], capsys
    )
    assert code == 1 and f"{messages}:1:" in err


def _mutate(text: str, rng: random.Random, kind: int) -> str:
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    index = rng.randrange(len(lines))
    if kind == 0:  # delete a line
        del lines[index]
    elif kind == 1:  # duplicate a line
        lines.insert(index, lines[index])
    elif kind == 2:  # flip a character
        line = lines[index]
        if line:
            pos = rng.randrange(len(line))
            lines[index] = line[:pos] + rng.choice(":-[]{}\"'#&*!|>%@` \tx0") + line[pos + 1 :]
    elif kind == 3:  # re-indent
        lines[index] = " " * rng.randrange(0, 7) + lines[index].lstrip()
    else:  # truncate
        return "".join(lines)[: rng.randrange(len(text) + 1)]
    return "".join(lines)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    example=st.sampled_from(EXAMPLES),
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    garbage=st.binary(max_size=20),
)
def test_lint_never_raises_and_locates_every_problem(tmp_path, example, seed, kinds, garbage):
    rng = random.Random(seed)
    text = example.read_text()
    for kind in kinds:
        text = _mutate(text, rng, kind)
    target = tmp_path / example.name  # same folder name, so extends still resolves or not
    data = text.encode() + (garbage if seed % 5 == 0 else b"")
    target.write_bytes(data)
    if example.name == "support-refunds-vip.yaml":
        (tmp_path / "support-refunds.yaml").write_text(
            (BLUEPRINTS / "support-refunds.yaml").read_text()
        )
    for problem in lint_file(target):
        assert problem.location.line is not None and problem.location.line >= 1
        assert problem.message
