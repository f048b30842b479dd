"""Multi-turn rollouts and the Multi-IF importer on the scripted backend: each arm's own
replies go into the next turn, failed turns are recorded and later turns still run, resumed
runs replay recorded turns, and the per-turn report matches a recount of results.jsonl."""

import csv
import json

import jsonschema
import pytest
from click.testing import CliRunner

from parlantish.backends import ScriptedBackend
from parlantish.cli.main import _register, cli
from parlantish.compiler.answers import example_answer
from parlantish.errors import BackendUnavailableError, UserError
from parlantish.eval import Evaluator, load_suite, read_results
from parlantish.eval.analysis import as_records, build_report
from parlantish.eval.ruler import TokenRuler
from parlantish.eval.stats import wilson_interval

from .conftest import BLUEPRINTS, ROOT

SUITE = f"""
suite: turns
arms: [direct, blueprint]
samples: 2
seed: 3
scenarios:
  - id: refund-chat
    blueprint: {BLUEPRINTS / "support-refunds.yaml"}
    variables: {{customer_name: Dana}}
    turns:
      - user: "I was charged twice."
        checks: [no_comma]
      - user: "Can you just refund it?"
        checks: [{{max_words: 40}}]
      - user: "Thanks. Anything else?"
        checks: [{{contains: "Dana"}}]
        carry: true
"""


def reply_for(request):
    """Each turn's reply names the turn it answers (by counting user messages)."""
    users = sum(1 for m in request.messages if m.role == "user")
    text = f"Hello Dana. Turn {users} answered" + (", with a comma" if users == 3 else ".")
    if request.constraint is None:
        return text
    value = example_answer(request.constraint.payload)
    value["reply"] = text
    return json.dumps(value)


def run(tmp_path, backend, suite_text=SUITE, **options):
    path = tmp_path / "suite.yaml"
    path.write_text(suite_text)
    evaluator = Evaluator(
        load_suite(path), backend, tmp_path / "out", ruler=TokenRuler(), **options
    )
    evaluator.run()
    return read_results(tmp_path / "out" / "results.jsonl")


def test_each_turn_is_recorded_and_the_arms_own_replies_roll_forward(tmp_path):
    backend = ScriptedBackend(reply_for)
    records = run(tmp_path, backend)
    assert len(records) == 2 * 2 * 3  # arms x samples x turns
    assert sorted({r["turn"] for r in records}) == [1, 2, 3]
    by_conversation = {}
    for record in records:
        by_conversation.setdefault(record["conversation"], []).append(record)
    assert len(by_conversation) == 4
    for request in backend.requests:
        assistants = [m.content for m in request.messages if m.role == "assistant"]
        users = [m for m in request.messages if m.role == "user"]
        # Every earlier turn's reply is this conversation's own recorded text.
        assert [f"Turn {n + 1} answered" in a for n, a in enumerate(assistants)] == [True] * len(
            assistants
        )
        assert len(assistants) == len(users) - 1
    third = next(r for r in records if r["turn"] == 3)
    # Carried checks: turn 3 also runs turns 1 and 2's checks.
    assert {"no_comma", "max_words", "contains"} <= {c["name"] for c in third["checks"]}
    # The comma of turn 3's reply breaks turn 1's no_comma, carried to turn 3.
    assert not third["passed"]
    assert [c["name"] for c in third["checks"] if not c["passed"]] == ["no_comma"]
    assert all(r["passed"] for r in records if r["turn"] == 1)


def test_a_failed_turn_is_recorded_and_later_turns_still_run(tmp_path):
    def flaky(request):
        if sum(1 for m in request.messages if m.role == "user") == 2:
            raise BackendUnavailableError("down at turn 2")
        return reply_for(request)

    records = run(tmp_path, ScriptedBackend(flaky), transport_retries=0)
    assert sorted(r["turn"] for r in records if r["error_kind"] == "backend") == [2] * 4
    assert len([r for r in records if r["turn"] == 3]) == 4


def test_a_resumed_run_replays_recorded_turns(tmp_path):
    run(tmp_path, ScriptedBackend(reply_for))
    out = tmp_path / "out" / "results.jsonl"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    kept = [r for r in rows if r["turn"] == 1]
    out.write_text("".join(json.dumps(r) + "\n" for r in kept))
    backend = ScriptedBackend(reply_for)
    records = run(tmp_path, backend)
    assert len(records) == 12
    assert all(sum(1 for m in r.messages if m.role == "user") > 1 for r in backend.requests)


def test_the_per_turn_report_matches_a_recount(tmp_path):
    records = run(tmp_path, ScriptedBackend(reply_for))
    report = build_report(as_records(records), {"seed": 0}).model_dump(mode="json")
    schema = json.loads((ROOT / "blueprints" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    for label, arm in report["arms"].items():
        for entry in arm["per_turn"]:
            at = [
                r
                for r in records
                if r["arm"] == label and r["turn"] == entry["turn"] and r["error_kind"] != "backend"
            ]
            passed = sum(r["passed"] for r in at)
            assert (entry["n"], entry["passed"]) == (len(at), passed)
            assert (entry["ci_low"], entry["ci_high"]) == pytest.approx(
                wilson_interval(passed, len(at))
            )
    results_schema = json.loads((ROOT / "blueprints" / "results.schema.json").read_text())
    for record in records:
        jsonschema.validate(record, results_schema)


def multiif_csv(path, rows):
    columns = ["key", "turns", "responses", "turn_index", "language"]
    for n in (1, 2, 3):
        columns += [f"turn_{n}_prompt", f"turn_{n}_instruction_id_list", f"turn_{n}_kwargs"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


def turn(n, text, ids, kwargs):
    return {
        f"turn_{n}_prompt": json.dumps({"role": "user", "content": text}),
        f"turn_{n}_instruction_id_list": json.dumps(ids),
        f"turn_{n}_kwargs": json.dumps([json.dumps(k) for k in kwargs]),
    }


ROWS = [
    {
        "key": "1001",
        "language": "English",
        **turn(1, "Write about tides.", ["punctuation:no_comma"], [{}]),
        **turn(
            2,
            "Now in lowercase.",
            ["punctuation:no_comma", "change_case:english_lowercase"],
            [{}, {}],
        ),
        **turn(
            3,
            "Add a title.",
            ["punctuation:no_comma", "change_case:english_lowercase", "detectable_format:title"],
            [{}, {}, {}],
        ),
    },
    {
        "key": "1002",
        "language": "English",
        **turn(
            1,
            "Say hi.",
            ["length_constraints:number_words"],
            [{"relation": "less than", "num_words": 20}],
        ),
        **turn(2, "Say bye.", [], []),
        "turn_3_prompt": "",
    },
]


def test_a_multiif_csv_becomes_multi_turn_scenarios(tmp_path):
    path = tmp_path / "multi.csv"
    multiif_csv(path, ROWS)
    suite = load_suite(path)
    assert [len(s.turns) for s in suite.scenarios] == [3, 2]
    assert [c.name for c in suite.scenarios[0].turn_checks(2)][-2:] == [
        "punctuation:no_comma",
        "change_case:english_lowercase",
    ] or len(suite.scenarios[0].turn_checks(2)) == 2
    evaluator = Evaluator(
        suite,
        ScriptedBackend(reply_for),
        tmp_path / "out",
        arms=["direct"],
        samples=1,
        ruler=TokenRuler(),
    )
    evaluator.run()
    records = read_results(tmp_path / "out" / "results.jsonl")
    assert sorted((r["scenario"], r["turn"]) for r in records) == [
        ("multiif-1001", 1),
        ("multiif-1001", 2),
        ("multiif-1001", 3),
        ("multiif-1002", 1),
        ("multiif-1002", 2),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"turn_1_prompt": "{not json"}, "turn_1_prompt is not JSON"),
        ({"turn_1_instruction_id_list": '["no:such_id"]'}, "no:such_id"),
        ({"turn_1_kwargs": "[]"}, "1 instruction ids but 0 kwargs"),
    ],
)
def test_bad_rows_are_located_or_skipped(tmp_path, change, message):
    path = tmp_path / "bad.csv"
    multiif_csv(path, [ROWS[0], {**ROWS[1], **change}])
    with pytest.raises(UserError, match=message) as caught:
        load_suite(path)
    assert caught.value.location.line == 3  # the header, the good row, then the bad one
    suite = load_suite(path, skip_bad=True)
    assert len(suite.scenarios) == 1 and len(suite.bad_rows) == 1 and message in suite.bad_rows[0]


def test_the_cli_lists_skipped_rows_before_anything_loads(tmp_path):
    path = tmp_path / "bad.csv"
    multiif_csv(path, [{**ROWS[1], "turn_1_kwargs": "[]"}, ROWS[0]])
    _register()
    result = CliRunner().invoke(
        cli, ["eval", str(path), "--out", str(tmp_path / "out"), "--skip-bad", "--arms", "nope"]
    )
    assert "skipped" in result.output and "kwargs" in result.output
    assert isinstance(result.exception, UserError) and "nope" in str(result.exception)


def test_a_gap_between_turns_is_a_located_error(tmp_path):
    path = tmp_path / "gap.csv"
    gap = {**ROWS[0], "turn_2_prompt": ""}
    multiif_csv(path, [gap])
    with pytest.raises(UserError, match="gap"):
        load_suite(path)


def test_a_file_without_instruction_columns_is_refused(tmp_path):
    path = tmp_path / "bare.csv"
    path.write_text('key,turn_1_prompt\n1,"{""role"": ""user"", ""content"": ""hi""}"\n')
    with pytest.raises(UserError, match="missing columns"):
        load_suite(path)
