"""Hostile blueprint files: bounded loading, reads inside roots, located errors only."""

import os
import time

import pytest

from parlantish.blueprint import lint_file, load_blueprint_text
from parlantish.blueprint.source import parse_source, read_source

MINIMAL = "blueprint: t\ninstructions:\n  rule: Be kind.\n"


def _first(text):
    doc, problems = parse_source(text, "f.yaml")
    assert doc is None and problems, "expected a problem"
    return problems[0]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a: !!set {b: 1}\n", 1, 4, "tag:yaml.org,2002:set is not allowed"),
        ("a: !!python/object:os.system x\n", 1, 4, "is not allowed"),
        ("a: !!binary aGk=\n", 1, 4, "is not allowed"),
        ("a: 1\n? [1, 2]\n: x\n", 2, 3, "a key must be a plain value"),
        ("a: 1\n? {b: 1}\n: x\n", 2, 3, "a key must be a plain value"),
        ("a: &x 1\n*x : 2\n", 2, 1, "alias cannot be used as a key"),
        ("a: " + "[" * 200 + "]" * 200 + "\n", 1, 67, "deeper than 64"),
        ('a: 1\nb: "x\\ud800y"\n', 2, 4, "lone surrogate"),
        ('a: 1\nb: "x\\0y"\n', 2, 4, "NUL byte"),
        ("a: 1\nb: x\udc80y\n", 2, 5, "lone surrogate (U+DC80)"),
        ("a: 1\nb: x\x07\n", 2, 5, "control character U+0007"),
        ("a: " + "7" * 5000 + "\n", 1, 4, "longer than 1000 digits"),
    ],
)
def test_constructs_outside_plain_data_are_located(text, line, column, message):
    problem = _first(text)
    assert message in problem.message
    assert (problem.location.line, problem.location.column) == (line, column)


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    started = time.monotonic()
    problem = _first("\n".join(lines) + "\n")
    assert "more than 100000 nodes" in problem.message and problem.location.line == 5
    assert time.monotonic() - started < 1


def test_nul_bytes_in_a_file_are_located(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_bytes(b"a: 1\nbb: \x00\n")
    problem = read_source(path)[1][0]
    assert "NUL" in problem.message and (problem.location.line, problem.location.column) == (2, 5)


def test_devices_fifos_and_big_files_are_refused(tmp_path, monkeypatch):
    assert "not a regular file" in read_source("/dev/zero")[1][0].message
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in read_source(fifo)[1][0].message  # and does not wait
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (1 << 20) + "\n")
    assert "larger than the limit" in read_source(big)[1][0].message
    monkeypatch.setenv("PARLANTISH_MAX_FILE_BYTES", "10")
    small = tmp_path / "s.yaml"
    small.write_text("blueprint: abcdefghijkl\n")
    assert "larger than the limit of 10 bytes" in read_source(small)[1][0].message


def _extends(tmp_path, target, name="child.yaml"):
    path = tmp_path / name
    path.write_text(f"blueprint: c\nextends: {target}\n")
    return [str(p) for p in lint_file(path)]


def test_extends_stays_inside_the_allowed_roots(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:the-secret-line\n")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    problems = _extends(project, "../secret.txt")
    assert len(problems) == 1 and "outside the allowed folders" in problems[0]
    assert problems[0].startswith(f"{project / 'child.yaml'}:2:10:")
    # Allowed explicitly, it is read, but a file that is not a blueprint is never shown.
    monkeypatch.setenv("PARLANTISH_ALLOW_ROOTS", str(tmp_path))
    problems = _extends(project, "../secret.txt")
    assert "not a blueprint file" in problems[0] and "the-secret-line" not in " ".join(problems)
    # Symlinks are followed before the check.
    monkeypatch.delenv("PARLANTISH_ALLOW_ROOTS")
    (project / "link.yaml").symlink_to(secret)
    assert "outside the allowed folders" in _extends(project, "link.yaml")[0]


def test_extends_of_a_device_or_an_absolute_path_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "outside the allowed folders" in _extends(tmp_path, "/dev/zero")[0]
    assert "outside the allowed folders" in _extends(tmp_path, "/etc/passwd")[0]
    monkeypatch.setenv("PARLANTISH_ALLOW_ROOTS", "/dev")
    assert "not a regular file" in _extends(tmp_path, "/dev/zero")[0]


def test_unknown_checks_inherited_through_extends_are_located_in_the_base(tmp_path):
    (tmp_path / "base.yaml").write_text(MINIMAL + "checks:\n  - no_coma\n")
    path = tmp_path / "child.yaml"
    path.write_text("blueprint: c\nextends: base.yaml\nchecks:\n  - no_comma\n  - max_wrds: 3\n")
    problems = [str(p) for p in lint_file(path)]
    assert any(p.startswith(f"{tmp_path / 'base.yaml'}:5:5:") and "no_coma" in p for p in problems)
    assert any(p.startswith(f"{path}:5:5:") and "max_wrds" in p for p in problems)


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("{count: 0, max_tokens: 10}", "segments.count must be at least 1, got 0"),
        ("{count: -2, max_tokens: 10}", "segments.count must be at least 1, got -2"),
        ("{count: {min: 4, max: 2}, max_tokens: 10}", "min is greater than max"),
        ("{count: 100000000, max_tokens: 10}", "over the limit"),
    ],
)
def test_impossible_segment_settings_are_located(lint, segments, message):
    problems = lint(MINIMAL + f"segments: {segments}\n")
    assert problems and problems[0].startswith("bp.yaml:4:") and message in problems[0]


def test_multi_line_enum_values_are_located(lint):
    text = MINIMAL + (
        "checkpoints:\n  - id: c\n    ask: Which?\n"
        '    answer: {type: enum, values: ["a\\nb", ok, ""]}\n'
    )
    problems = lint(text)
    assert len(problems) == 2 and all(p.startswith("bp.yaml:7:13:") for p in problems)
    assert "must be one non-empty line" in problems[0]


@pytest.mark.parametrize("pattern", ["(a", "a{1,99999999999}", "[z-a]", "x" * 10_001])
def test_invalid_patterns_are_located_at_lint_time(lint, pattern):
    text = MINIMAL + f"checks:\n  - matches: '{pattern}'\n"
    problems = lint(text)
    assert problems and problems[0].startswith("bp.yaml:5:5:")
    answer = f"{{type: string, pattern: '{pattern}'}}"
    text = MINIMAL + f"checkpoints:\n  - id: c\n    ask: Which?\n    answer: {answer}\n"
    problems = lint(text)
    assert problems and problems[0].startswith("bp.yaml:7:13:") and "invalid pattern" in problems[0]
    text = MINIMAL + f"variables:\n  v: {{pattern: '{pattern}'}}\n"
    assert "invalid pattern" in lint(text)[0]


def test_a_backtracking_pattern_fails_its_check_without_hanging():
    blueprint = load_blueprint_text(MINIMAL + "checks:\n  - matches: '(a|aa)+$'\n")
    from parlantish.checks import build_check

    check = build_check(blueprint.spec.checks[0])
    started = time.monotonic()
    result = check("a" * 5000 + "!")
    assert time.monotonic() - started < 10  # a hang would take hours; the limit is 0.2 s
    assert not result.passed and "took longer than" in result.detail


def test_a_fallback_blueprint_outside_the_roots_is_located(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    path = project / "bp.yaml"
    path.write_text(MINIMAL + "on_fail:\n  then: fallback\n  fallback: ../other.yaml\n")
    problems = [str(p) for p in lint_file(path)]
    assert problems == [
        f"{path}:6:13: on_fail.fallback: '../other.yaml' resolves outside the allowed folders "
        "(allow its folder with --allow-root or $PARLANTISH_ALLOW_ROOTS)"
    ]
    path.write_text(MINIMAL + "on_fail:\n  then: fallback\n  fallback: other.yaml\n")
    assert lint_file(path) == []
