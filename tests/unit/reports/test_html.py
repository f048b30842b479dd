"""report.html: numbers rounded for reading (report.json keeps them whole), groups labelled."""

from parlantish.eval.analysis import build_report
from parlantish.reports.html import report_html
from parlantish.reports.numbers import number

from ..eval.test_analysis import _pairs


def _report():
    rows = _pairs("direct", 64, [None, "checks", "checks"])
    rows += _pairs("blueprint", 64, [None, None, "cut"])
    return build_report(rows, {"thresholds": {"pass_rate": {"blueprint": 0.5}}})


def test_numbers_are_rounded_only_when_shown():
    assert [number(v) for v in (None, 3, 2.0, 1 / 3, 2 / 3, 1e-9)] == [
        "",
        "3",
        "2",
        "0.333",
        "0.667",
        "1e-09",
    ]
    report = _report()
    assert report.arms["direct@64"].pass_rate == 1 / 3
    html = report_html(report)
    assert "<td>0.333</td>" in html and "0.3333333" not in html
    assert "pass_rate[blueprint@64] &gt;= 0.5 (0.667)" in html


def test_comparisons_are_labelled_with_their_length():
    html = report_html(_report())
    assert "<td>blueprint@64 vs direct@64</td>" in html
    assert html.count("<svg") == 5
