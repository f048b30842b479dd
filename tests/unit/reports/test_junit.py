"""junit.xml: one case per scenario and group; backend errors are <error>, failures <failure>."""

import xml.etree.ElementTree as ET

from parlantish.eval.analysis import build_report
from parlantish.reports.junit import junit_xml

from ..eval.test_analysis import _pairs


def test_one_case_per_scenario_and_group_with_errors_and_failures():
    rows = _pairs("blueprint", 64, [None, "malformed"]) + _pairs("blueprint", 128, [None])
    errored = _pairs("direct", 64, ["backend", "backend"])
    rows += [r.model_copy(update={"error": "down"}) for r in errored]
    root = ET.fromstring(junit_xml(build_report(rows)))
    cases = {c.get("classname"): c for c in root.iter("testcase")}
    assert set(cases) == {"unit.blueprint@64", "unit.blueprint@128", "unit.direct@64"}
    assert cases["unit.blueprint@64"].find("failure").get("message").startswith("1/2 samples")
    assert cases["unit.blueprint@128"].find("failure") is None
    assert "2 sample(s)" in cases["unit.direct@64"].find("error").get("message")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
