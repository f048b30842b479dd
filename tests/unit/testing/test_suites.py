"""Suite files collected as pytest items: one per scenario and arm."""

import shutil
import xml.etree.ElementTree as ET

from tests.unit.testing.conftest import BLUEPRINT

pytest_plugins = ["pytester"]

SUITE = """\
suite: refunds
arms: [direct, blueprint]
samples: 6
seed: 3
sampling: {temperature: 0.7}
thresholds: {case_pass_rate: 1.0}
scenarios:
  - id: polite
    blueprint: support-refunds.yaml
    variables: {customer_name: Dana}
    messages: [{role: user, content: good}]
  - id: pushy
    blueprint: support-refunds.yaml
    variables: {customer_name: Dana}
    messages: [{role: user, content: bad}]
"""


def _suite(pytester, name):
    shutil.copy(BLUEPRINT, pytester.path / "support-refunds.yaml")
    (pytester.path / name).write_text(SUITE)


def test_suite_files_become_one_item_per_scenario_and_arm(scripted):
    _suite(scripted, "refunds.suite.yaml")
    run = scripted.runpytest("-p", "no:cacheprovider", "--co", "-q")
    for name in ("polite[direct]", "polite[blueprint]", "pushy[direct]", "pushy[blueprint]"):
        assert f"refunds.suite.yaml::{name}" in run.stdout.str()


def test_items_take_k_and_junitxml_and_a_suite_given_by_name(scripted):
    _suite(scripted, "refunds.yaml")  # not *.suite.yaml: collected because it is named
    report = scripted.path / "junit.xml"
    run = scripted.runpytest(
        "-p", "no:cacheprovider", "refunds.yaml", "-k", "blueprint", f"--junitxml={report}"
    )
    run.assert_outcomes(passed=1, failed=1, deselected=2)
    assert "pushy[blueprint]: fail: pass rate 0.00" in run.stdout.str()
    cases = {case.get("name"): case for case in ET.parse(report).iter("testcase")}
    assert set(cases) == {"polite[blueprint]", "pushy[blueprint]"}
    assert cases["pushy[blueprint]"].find("failure") is not None


def test_a_bad_suite_is_a_located_collection_error(scripted):
    (scripted.path / "broken.suite.yaml").write_text("suite: broken\nsampels: 3\nscenarios: []\n")
    run = scripted.runpytest("-p", "no:cacheprovider")
    assert "broken.suite.yaml:2:1" in run.stdout.str()
    assert run.ret != 0
