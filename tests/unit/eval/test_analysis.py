"""The report from records: groups are (arm, length) pairs, output failures are failures (not
errors), and numbers keep full precision. Expected values are computed by hand."""

import pytest

from parlantish.errors import UserError
from parlantish.eval.analysis import build_report
from parlantish.eval.records import ArmGroup, BlueprintRef, CheckRecord, SampleRecord

KINDS = {"direct": "direct", "cot": "cot", "blueprint": "blueprint"}


def record(*, arm="blueprint", length=None, scenario="s1", sample=0, error_kind=None, **fields):
    """A sample record: passed unless ``error_kind`` is set; one check, ``no_comma``."""
    passed = fields.pop("passed", error_kind is None)
    checks = []
    if error_kind in (None, "checks"):
        checks = [CheckRecord(name="no_comma", passed=passed, locatable=True)]
    suffix = "" if length is None else f"@{length}"
    return SampleRecord(
        key=f"{scenario}|{arm}{suffix}|{sample}",
        suite="unit",
        scenario=scenario,
        arm=arm,
        arm_kind=KINDS.get(arm, "blueprint"),
        length=length,
        sample=sample,
        seed=sample,
        temperature=0.7,
        max_tokens=length or 256,
        messages_hash="m",
        plan_key="p",
        blueprint=BlueprintRef(name="b", hash="h"),
        backend="scripted",
        passed=passed,
        error_kind=error_kind,
        checks=checks,
        **fields,
    )


def _pairs(arm, length, outcomes, scenario="s1"):
    return [
        record(arm=arm, length=length, scenario=scenario, sample=i, error_kind=outcome)
        for i, outcome in enumerate(outcomes)
    ]


def test_groups_are_arm_and_length_pairs_labelled_for_display():
    rows = _pairs("direct", 64, [None, "checks"]) + _pairs("direct", 128, [None, None])
    rows += _pairs("blueprint", 64, [None, None]) + _pairs("blueprint", 128, [None, None])
    report = build_report(rows, {"arms": [{"name": "direct"}, {"name": "blueprint"}]})
    assert list(report.arms) == ["direct@64", "direct@128", "blueprint@64", "blueprint@128"]
    assert report.arms["direct@64"].group == ArmGroup(arm="direct", length=64)
    assert report.arms["direct@64"].pass_rate == 0.5
    # Comparisons pair groups of the same length only, and name arms without the length.
    assert [(c.arm, c.baseline, c.length) for c in report.comparisons] == [
        ("blueprint", "direct", 64),
        ("blueprint", "direct", 128),
    ]
    assert set(report.scenarios["s1"]) == {
        "direct@64",
        "direct@128",
        "blueprint@64",
        "blueprint@128",
    }


def test_cut_and_malformed_outputs_are_failures_and_backend_errors_are_left_out():
    rows = _pairs("blueprint", None, [None, "cut", "malformed", "checks", "backend"])
    rows[-1] = rows[-1].model_copy(update={"error": "down"})
    arm = build_report(rows).arms["blueprint"]
    assert (arm.samples, arm.n, arm.passed, arm.errors, arm.output_errors) == (5, 4, 1, 1, 2)
    assert arm.pass_rate == 0.25
    cell = build_report(rows).scenarios["s1"]["blueprint"]
    assert (cell.n, cell.passed, cell.errors) == (4, 1, 1)


def test_numbers_keep_full_precision():
    rows = _pairs("blueprint", None, [None, "checks", "checks"])
    arm = build_report(rows).arms["blueprint"]
    assert arm.pass_rate == 1 / 3
    assert arm.consistency.pass_hat_k == [1 / 3, 0.0, 0.0]
    assert arm.consistency.agreement == pytest.approx(1 / 3)  # pairs that agree: 1 of 3
    assert arm.consistency.agreement != round(arm.consistency.agreement, 6)


def test_a_scenario_whose_samples_all_hit_backend_errors_counts_them():
    rows = _pairs("blueprint", None, ["backend", "backend"])
    rows = [r.model_copy(update={"error": "down", "latency_s": 0.5}) for r in rows]
    cell = build_report(rows).scenarios["s1"]["blueprint"]
    assert (cell.n, cell.errors, cell.latency_s) == (0, 2, 1.0)


def test_a_pass_rate_threshold_on_an_arm_holds_for_each_of_its_lengths():
    rows = _pairs("blueprint", 64, [None, None]) + _pairs("blueprint", 128, [None, "checks"])
    manifest = {"thresholds": {"pass_rate": {"blueprint": 0.9}}}
    results = build_report(rows, manifest).thresholds.results
    assert [(t.name, t.passed, t.actual) for t in results] == [
        ("pass_rate[blueprint@64] >= 0.9", True, 1.0),
        ("pass_rate[blueprint@128] >= 0.9", False, 0.5),
    ]


def test_rows_read_from_an_older_results_file_are_grouped_the_same():
    new = _pairs("blueprint", 64, [None, "checks"]) + _pairs("direct", 64, [None, None])
    old = []
    for r in new:
        row = r.model_dump(mode="json", exclude={"schema_version", "execution", "attempts"})
        row["arm"] = f"{r.arm}@{r.length}"
        row["error_kind"] = None
        old.append(row)
    assert build_report(old) == build_report(new)


def test_a_run_without_a_manifest_is_named_by_its_records():
    report = build_report(_pairs("direct", None, [None]), {"seed": 3})
    assert (report.run.suite.name, report.run.backend, report.run.seed) == (
        "unit",
        "scripted",
        3,
    )


def test_bad_rows_and_bad_manifests_are_user_errors():
    row = record().model_dump(mode="json") | {"passed": "maybe"}
    with pytest.raises(UserError, match=r"'s1\|blueprint\|0'.*passed"):
        build_report([row])
    with pytest.raises(UserError, match=r"run\.json"):
        build_report([record()], {"thresholds": {"pass_rate": {"blueprint": "high"}}})


def test_looping_replies_are_counted_per_arm_whatever_the_checks():
    looping = "the cat sat on the mat " * 8  # one 4-gram eight times
    stuttering = "Sure" + "!" * 40
    plain = "The cat sat on the mat, then it left for the garden."
    rows = [
        record(arm="direct", text=looping, passed=True),
        record(arm="direct", sample=1, text=plain, passed=True),
        record(arm="blueprint", text=stuttering, passed=True),
        record(arm="blueprint", sample=1, text=plain, passed=True),
        record(arm="blueprint", sample=2, text=looping, error_kind="backend"),  # not judged
    ]
    report = build_report(rows)
    assert report.arms["direct"].degenerate == 1
    assert report.arms["blueprint"].degenerate == 1
