"""``parlantish compare`` on hand-written run folders: the table (80 columns), the JSON (checked
with jsonschema against the published schema file), and located errors without a traceback."""

import json
from pathlib import Path

import jsonschema
import pytest
from scipy.stats import binomtest

from parlantish.cli.main import main

from ..eval.test_compare import PATTERN, row, runs_from, turns_runs

ROOT = Path(__file__).parents[3]
SCHEMA = json.loads((ROOT / "blueprints" / "compare.schema.json").read_text())


def write_run(folder, records, *, suite="unit", model="tiny", arms=("direct", "blueprint")):
    """A run folder as `parlantish eval` leaves it: results.jsonl and run.json."""
    folder.mkdir(parents=True)
    lines = [json.dumps(r.model_dump(mode="json")) + "\n" for r in records]
    (folder / "results.jsonl").write_text("".join(lines))
    manifest = {
        "suite": {"name": suite, "path": "suite.yaml", "hash": "h"},
        "backend": "scripted",
        "model": model,
        "arms": [{"name": name} for name in arms],
    }
    (folder / "run.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def runs(tmp_path):
    """Run A and run B: the blueprint arm follows PATTERN, a multi-turn direct arm follows
    turns_runs, and B has one sample A lacks."""
    a, b = runs_from(PATTERN)
    turns_a, turns_b = turns_runs(arm="direct")
    a += turns_a
    b += turns_b
    b += [row("late", sample=0)]
    return write_run(tmp_path / "a", a), write_run(tmp_path / "b", b, model="tiny-v2")


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def test_the_table_fits_80_columns_and_shows_every_group_turn_and_all_arms(runs, capsys):
    code, out, err = run(["compare", str(runs[0]), str(runs[1])], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines[2:]) <= 80  # the paths above may be longer
    assert "…" not in out  # nothing cut
    assert lines[0] == f"A: {runs[0]} (suite unit, model tiny)"
    assert lines[1] == f"B: {runs[1]} (suite unit, model tiny-v2)"
    rows = (" direct", " blueprint", " all arms", "   turn ")
    labels = [line.split()[0] for line in lines if line.startswith(rows)]
    assert labels == ["direct", "turn", "turn", "turn", "blueprint", "all", "turn", "turn", "turn"]
    blueprint = next(line for line in lines if line.startswith(" blueprint"))
    # 20 pairs, A 0.50, B 0.75, B-A +0.25, McNemar p = 92/512 = 0.18.
    assert blueprint.split()[1:5] == ["20", "0.50", "0.75", "+0.25"]
    assert blueprint.split()[-1] == f"{binomtest(2, 9).pvalue:.2g}" == "0.18"
    assert "left out: 1 only in B" in out
    assert err == ""


def test_a_wide_terminal_gets_one_line_per_row(runs, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _ = run(["compare", str(runs[0]), str(runs[1])], capsys)
    assert code == 0
    blueprint = next(line for line in out.splitlines() if line.startswith(" blueprint"))
    assert "0.50 [0.30, 0.70]" in blueprint and "0.75 [0.53, 0.89]" in blueprint


def test_json_to_stdout_validates_against_the_published_schema(runs, capsys):
    code, out, _ = run(["compare", str(runs[0]), str(runs[1]), "--json", "-"], capsys)
    assert code == 0
    data = json.loads(out)  # the JSON only: no table
    jsonschema.validate(data, SCHEMA)
    assert data["schema_version"] == 1
    assert list(data["arms"]) == ["direct", "blueprint"]  # run.json's order
    blueprint = data["arms"]["blueprint"]
    assert (blueprint["pairs"], blueprint["difference"]) == (20, 0.25)
    assert blueprint["mcnemar"] == {
        "only_a_passed": 2,
        "only_b_passed": 7,
        "p_value": pytest.approx(92 / 512),
    }
    direct = data["arms"]["direct"]
    assert [t["turn"] for t in direct["per_turn"]] == [1, 2, 3]
    assert direct["per_turn"][2]["difference"] == 1 / 6 - 4 / 6  # full precision
    assert data["overall"]["pairs"] == 38
    assert data["excluded"] == {"only_in_a": 0, "only_in_b": 1, "errored": 0, "injected": 0}
    assert (data["a"]["path"], data["b"]["model"]) == (str(runs[0]), "tiny-v2")


def test_json_to_a_file_and_the_table_to_stdout(runs, tmp_path, capsys):
    target = tmp_path / "comparison.json"
    code, out, err = run(["compare", *map(str, runs), "--json", str(target)], capsys)
    assert code == 0
    assert "all arms" in out
    assert f"wrote {target}" in err
    jsonschema.validate(json.loads(target.read_text()), SCHEMA)


def test_a_json_file_that_cannot_be_written_is_an_error_not_a_traceback(runs, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "comparison.json"  # its folder is a file
    code, _, err = run(["compare", *map(str, runs), "--json", str(target)], capsys)
    assert code == 1
    assert f"cannot write {target}" in err and "Traceback" not in err


def test_runs_of_different_suites_are_compared_with_a_warning(tmp_path, capsys):
    a, b = runs_from(PATTERN)
    first = write_run(tmp_path / "a", a, suite="refunds")
    second = write_run(tmp_path / "b", b, suite="refunds-v2")
    code, out, err = run(["compare", str(first), str(second)], capsys)
    assert code == 0
    assert err.startswith("warning: the runs are of different suites ('refunds' and 'refunds-v2')")
    assert "blueprint" in out


def test_runs_with_nothing_in_common_name_both_suites(tmp_path, capsys):
    a, _ = runs_from({"s0": "=="}, suite="refunds")
    _, b = runs_from({"other": "=="}, suite="triage")
    first = write_run(tmp_path / "a", a, suite="refunds")
    second = write_run(tmp_path / "b", b, suite="triage")
    code, out, err = run(["compare", str(first), str(second)], capsys)
    assert code == 1 and out == ""
    assert f"error: {first} (suite 'refunds') and {second} (suite 'triage')" in err
    assert "no sample in common" in err and "Traceback" not in err


def test_a_folder_without_results_is_an_error(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(["compare", str(runs[0]), str(empty)], capsys)
    assert code == 1
    assert f"error: no results.jsonl in {empty}" in err and "hint:" in err
    code, _, err = run(["compare", str(tmp_path / "missing"), str(runs[1])], capsys)
    assert code == 1 and "no such folder" in err


def test_a_malformed_line_is_located(runs, capsys):
    results = runs[1] / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    lines.insert(1, '{"key": "x", oops}\n')
    results.write_text("".join(lines))
    code, _, err = run(["compare", *map(str, runs)], capsys)
    assert code == 1
    assert f"error: {results}:2:" in err and "not a results record" in err
    assert "Traceback" not in err


def test_a_row_breaking_the_schema_names_its_file_and_key(runs, capsys):
    results = runs[0] / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    rows[3]["sample"] = -1
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["compare", *map(str, runs)], capsys)
    assert code == 1
    assert f"error: {results}: results record {rows[3]['key']!r}" in err
    assert "sample" in err and "Traceback" not in err


def test_an_unreadable_run_json_is_located(runs, capsys):
    (runs[0] / "run.json").write_text('{"suite": ')
    code, _, err = run(["compare", *map(str, runs)], capsys)
    assert code == 1
    assert f"error: {runs[0] / 'run.json'}:1:" in err and "not a run manifest" in err


def test_a_run_without_run_json_is_named_by_its_records(runs, capsys):
    (runs[0] / "run.json").unlink()
    code, out, _ = run(["compare", *map(str, runs)], capsys)
    assert code == 0
    assert out.splitlines()[0] == f"A: {runs[0]} (suite unit)"
