"""``junit.xml``: one test case per scenario and arm, for CI dashboards.

A case fails when the scenario's pass rate on that arm is below ``case_pass_rate`` (default 1.0:
any failing sample); the failure message lists how often each check failed. Backend errors are
reported as ``<error>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from parlantish.eval.report_model import Report

__all__ = ["junit_xml"]


def junit_xml(report: Report) -> str:
    """The JUnit XML text of a report."""
    minimum = report.thresholds.case_pass_rate
    suite_name = report.run.suite.name or "parlantish"
    root = ET.Element("testsuites", name=f"parlantish {suite_name}")
    suite = ET.SubElement(root, "testsuite", name=suite_name)
    tests = failures = errors = 0
    for scenario, row in report.scenarios.items():
        for arm, cell in row.items():
            tests += 1
            case = ET.SubElement(
                suite,
                "testcase",
                name=scenario,
                classname=f"{suite_name}.{arm}",
                time=f"{cell.latency_s:.3f}",
            )
            if cell.errors:
                errors += 1
                ET.SubElement(case, "error", message=f"{cell.errors} sample(s) hit backend errors")
            if cell.n and cell.pass_rate < minimum:
                failures += 1
                detail = ", ".join(f"{k} failed {v}x" for k, v in cell.failed_checks.items())
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"{cell.passed}/{cell.n} samples passed (needs {minimum:.0%})",
                )
                failure.text = detail or "malformed outputs"
    for element in (root, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
