"""The published schemas of results.jsonl rows, report.json and `parlantish compare --json`:
generated from the models, and real runner output validates against the files (with
jsonschema, not the models)."""

import json
from pathlib import Path

import jsonschema
import pytest

from parlantish.cli.main import main
from parlantish.cli.schema import schema_text
from parlantish.eval import read_results
from parlantish.eval.analysis import build_report
from parlantish.reports import rebuild_reports

from .test_analysis import record
from .test_runner import evaluator

ROOT = Path(__file__).parents[3]
PUBLISHED = {
    name: ROOT / "blueprints" / f"{name}.schema.json" for name in ("results", "report", "compare")
}


def _schema(name):
    return json.loads(PUBLISHED[name].read_text())


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_schema_matches_the_models(name):
    # Regenerate with: parlantish schema NAME --out blueprints/NAME.schema.json
    assert PUBLISHED[name].read_text() == schema_text(name)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_schema_is_a_valid_draft_2020_12_schema_naming_its_version(name):
    schema = _schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["properties"]["schema_version"]["const"] == 1
    assert "schema_version" in schema["required"]


def test_the_schema_command_prints_each_published_schema(capsys):
    for name, path in PUBLISHED.items():
        with pytest.raises(SystemExit) as exit_info:
            main(["schema", name])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out == path.read_text()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from .conftest import SUITE

    folder = tmp_path_factory.mktemp("run")
    suite = folder / "suite.yaml"
    suite.write_text(SUITE)
    evaluator(suite, folder / "out", samples=2).run()
    rebuild_reports(folder / "out")
    return folder / "out"


def test_a_real_report_validates_against_the_published_schema(finished_run):
    report = json.loads((finished_run / "report.json").read_text())
    jsonschema.validate(report, _schema("report"))
    assert report["schema_version"] == 1


def test_a_report_with_lengths_and_every_error_kind_validates():
    rows = [
        record(arm="blueprint", length=64, sample=0, passed=True),
        record(arm="blueprint", length=64, sample=1, error_kind="cut"),
        record(arm="direct", length=64, sample=0, error_kind="malformed"),
        record(arm="direct", length=64, sample=1, error_kind="backend", error="down"),
        record(arm="direct", length=128, sample=0, error_kind="checks"),
    ]
    data = build_report(rows).model_dump(mode="json")
    jsonschema.validate(data, _schema("report"))


def test_real_runner_rows_validate_against_the_published_schema(finished_run):
    rows = read_results(finished_run / "results.jsonl")
    validator = jsonschema.Draft202012Validator(_schema("results"))
    assert len(rows) == 12
    for row in rows:
        validator.validate(row)
        assert row["schema_version"] == 1


def test_rows_that_break_the_contract_are_refused_by_the_schema():
    validator = jsonschema.Draft202012Validator(_schema("results"))
    good = record().model_dump(mode="json")
    validator.validate(good)
    for bad in (
        good | {"error_kind": "output"},
        good | {"surprise": 1},
        {k: v for k, v in good.items() if k != "length"},
        good | {"checks": [{"name": "x"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)
