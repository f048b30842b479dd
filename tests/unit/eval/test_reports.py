"""Reports: the contract of report.json, rebuilt reports equal the originals, JUnit, thresholds."""

import json
import xml.etree.ElementTree as ET

import pytest

from parlantish.cli.main import main
from parlantish.eval import read_results
from parlantish.reports import rebuild_reports

from .test_runner import evaluator

REPORTS = ("report.json", "report.html", "junit.xml")


@pytest.fixture
def finished_run(suite_file, tmp_path):
    out = tmp_path / "out"
    evaluator(suite_file, out, samples=4).run()
    rebuild_reports(out)
    return out


def test_report_json_has_the_contract_per_arm(finished_run):
    report = json.loads((finished_run / "report.json").read_text())
    assert report["schema_version"] == 1
    assert list(report["arms"]) == ["direct", "cot", "blueprint"]
    for name, arm in report["arms"].items():
        assert arm["group"] == {"arm": name, "length": None}
        assert {"n", "passed", "pass_rate", "ci", "length"} <= set(arm)
        assert arm["n"] == 8 and arm["ci"][0] <= arm["pass_rate"] <= arm["ci"][1]
        length = arm["length"]
        assert {"e", "e_ci", "survival", "hazard", "lr_test", "conclusion"} <= set(length)
        assert length["outputs"] == 8
        assert len(arm["consistency"]["pass_hat_k"]) == 4
    records = read_results(finished_run / "results.jsonl")
    direct = [r for r in records if r["arm"] == "direct"]
    assert report["arms"]["direct"]["passed"] == sum(r["passed"] for r in direct)
    pairs = {(c["arm"], c["baseline"]) for c in report["comparisons"]}
    assert pairs == {("cot", "direct"), ("blueprint", "direct"), ("blueprint", "cot")}
    assert report["run"]["suite"]["name"] == "unit-suite"
    assert report["run"]["versions"]["parlantish"]


def test_reports_rebuilt_from_results_equal_the_originals(finished_run):
    before = {name: (finished_run / name).read_bytes() for name in REPORTS}
    for name in REPORTS:
        (finished_run / name).unlink()
    rebuild_reports(finished_run)
    assert {name: (finished_run / name).read_bytes() for name in REPORTS} == before
    html = before["report.html"].decode()
    assert html.count("<svg") == 5 and "Kaplan" in html and "<script" not in html


def test_junit_has_one_case_per_scenario_and_arm(finished_run):
    root = ET.fromstring((finished_run / "junit.xml").read_text())
    cases = root.findall(".//testcase")
    assert len(cases) == 2 * 3
    assert {(c.get("name"), c.get("classname")) for c in cases} == {
        (s, f"unit-suite.{a}")
        for s in ("refund", "article")
        for a in ("direct", "cot", "blueprint")
    }
    report = json.loads((finished_run / "report.json").read_text())
    failing = sum(
        1 for row in report["scenarios"].values() for cell in row.values() if cell["pass_rate"] < 1
    )
    assert int(root.get("failures")) == failing == len(root.findall(".//failure"))


def test_report_command_exits_1_when_a_threshold_fails(finished_run, capsys):
    manifest = json.loads((finished_run / "run.json").read_text())
    manifest["thresholds"]["pass_rate"] = {"blueprint": 1.01}
    (finished_run / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(finished_run)])
    assert exit_info.value.code == 1
    assert "FAIL pass_rate[blueprint] >= 1.01" in capsys.readouterr().out
    manifest["thresholds"]["pass_rate"] = {"blueprint": 0.0}
    (finished_run / "run.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(finished_run), "--quiet"])
    assert exit_info.value.code == 0


def test_report_of_an_empty_folder_is_a_user_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    assert exit_info.value.code == 1
    assert "no results.jsonl" in capsys.readouterr().err
