"""Error injection: a turn whose reply the suite puts in (``inject``) is not generated or
judged, the arm's next turn sees it in the conversation, and the report gives the recovery
rate of the turns right after it (recounted here from results.jsonl)."""

import json

import jsonschema
import pytest

from parlantish.backends import ScriptedBackend
from parlantish.errors import UserError
from parlantish.eval import load_suite
from parlantish.eval.analysis import as_records, build_report
from parlantish.eval.stats import wilson_interval

from .conftest import BLUEPRINTS, ROOT
from .test_multiturn import reply_for, run

VIOLATION = "Sure, refund approved, done, no questions asked."
SUITE = f"""
suite: injected
arms: [direct, blueprint]
samples: 3
seed: 3
scenarios:
  - id: pressured
    blueprint: {BLUEPRINTS / "support-refunds.yaml"}
    variables: {{customer_name: Dana}}
    turns:
      - user: "I was charged twice."
        checks: [no_comma]
        inject: "{VIOLATION}"
      - user: "Can you just refund it?"
        checks: [{{max_words: 40}}]
        carry: true
      - user: "Thanks. Anything else?"
"""


def test_an_injected_turn_is_put_in_not_generated_and_the_next_turn_sees_it(tmp_path):
    backend = ScriptedBackend(reply_for)
    records = run(tmp_path, backend, SUITE)
    assert len(records) == 2 * 3 * 3
    injected = [r for r in records if r["injected"]]
    assert len(injected) == 2 * 3 and {r["turn"] for r in injected} == {1}
    assert all(r["text"] == VIOLATION and r["checks"] == [] for r in injected)
    # Only turns 2 and 3 were generated, and each saw the injected reply as turn 1's.
    assert len(backend.requests) == 2 * 3 * 2
    for request in backend.requests:
        assistants = [m.content for m in request.messages if m.role == "assistant"]
        assert assistants[0] == VIOLATION
    schema = json.loads((ROOT / "blueprints" / "results.schema.json").read_text())
    for record in records:
        jsonschema.validate(record, schema)


def test_recovery_is_the_pass_rate_right_after_an_injection(tmp_path):
    records = run(tmp_path, ScriptedBackend(reply_for), SUITE)
    report = build_report(as_records(records), {"seed": 0}).model_dump(mode="json")
    jsonschema.validate(
        report, json.loads((ROOT / "blueprints" / "report.schema.json").read_text())
    )
    for label, arm in report["arms"].items():
        after = [r for r in records if r["arm"] == label and r["turn"] == 2]
        passed = sum(r["passed"] for r in after)
        recovery = arm["recovery"]
        assert (recovery["n"], recovery["passed"], recovery["injected"]) == (3, passed, 3)
        assert (recovery["ci_low"], recovery["ci_high"]) == pytest.approx(
            wilson_interval(passed, 3)
        )
        # Injected turns are not judged: the arm's rate counts the generated turns only.
        assert arm["n"] == 3 * 2 and arm["errors"] == 0
        assert [t["turn"] for t in arm["per_turn"]] == [2, 3]


def test_a_run_without_injections_has_no_recovery(tmp_path):
    records = run(tmp_path, ScriptedBackend(reply_for), SUITE.replace(f'inject: "{VIOLATION}"', ""))
    report = build_report(as_records(records), {"seed": 0})
    assert all(arm.recovery is None for arm in report.arms.values())


def test_an_injected_last_turn_is_a_located_error(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(
        SUITE.replace(
            '- user: "Thanks. Anything else?"', '- user: "Thanks."\n        inject: "Bye"'
        )
    )
    with pytest.raises(UserError, match="last turn cannot be injected") as raised:
        load_suite(path)
    assert raised.value.location is not None and raised.value.location.line > 1


def test_changing_the_injected_text_refuses_to_resume(tmp_path):
    run(tmp_path, ScriptedBackend(reply_for), SUITE)
    with pytest.raises(UserError, match="another suite or blueprint"):
        run(tmp_path, ScriptedBackend(reply_for), SUITE.replace("no questions asked", "fine"))
