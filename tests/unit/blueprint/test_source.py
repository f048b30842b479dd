from parlantish.blueprint.source import parse_source, read_source


def test_positions_of_keys_values_and_items():
    doc, problems = parse_source("a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml")
    assert not problems
    assert doc.data == {"a": 1, "b": ["x", {"c": 2}]}
    assert doc.key_positions[("b",)] == (2, 1)
    assert doc.value_positions[("b", 1)] == (4, 5)
    assert doc.key_positions[("b", 1, "c")] == (4, 6)
    assert str(doc.locate(("b", 1, "c", "missing"))) == "f.yaml:4:9"


def test_json_is_accepted():
    doc, problems = parse_source('{"a": [1, 2], "b": "x"}', "f.json")
    assert not problems and doc.data == {"a": [1, 2], "b": "x"}


def test_syntax_errors_are_located():
    _, problems = parse_source("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
    assert len(problems) == 1
    assert problems[0].location.line is not None and problems[0].location.line >= 2
    assert "YAML syntax error" in problems[0].message


def test_duplicate_keys_are_errors():
    _, problems = parse_source("a: 1\na: 2\n", "f.yaml")
    assert problems and problems[0].location.line == 2


def test_empty_and_binary_and_non_utf8_files(tmp_path):
    empty = tmp_path / "e.yaml"
    empty.write_text("  \n")
    assert "empty" in read_source(empty)[1][0].message
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"a: 1\n\x00\x01")
    assert "not a text file" in read_source(binary)[1][0].message
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    problem = read_source(latin)[1][0]
    assert problem.message == "not UTF-8 text" and (
        problem.location.line,
        problem.location.column,
    ) == (2, 7)
    assert "cannot read" in read_source(tmp_path / "missing.yaml")[1][0].message
