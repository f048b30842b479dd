"""Two runs compared pair by pair: pairing, what is left out, per arm, per turn and overall.

The runs are hand-made with known pass/fail patterns; expected values are computed by hand or
with independent code (the binomial test of scipy, the Wilson formula written out)."""

import math
from statistics import NormalDist

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from parlantish.errors import UserError
from parlantish.eval import stats
from parlantish.eval.compare import compare_runs
from parlantish.eval.compare_model import RunRef
from parlantish.eval.records import ArmGroup, BlueprintRef, CheckRecord, SampleRecord

KINDS = {"direct": "direct", "cot": "cot"}

# One letter per sample: both runs pass (=), only A passes (a), only B passes (b), neither (-).
PATTERN = {"s0": "===a-", "s1": "==bb-", "s2": "==bbb", "s3": "=abb-"}
# So: 8 both, 2 only A (McNemar's b), 7 only B (c), 3 neither; A passes 10/20, B 15/20.


def row(
    scenario="s0",
    arm="blueprint",
    sample=0,
    passed=True,
    *,
    length=None,
    turn=None,
    suite="unit",
    backend_error=False,
):
    """A valid results row: one check, ``no_comma``; a turn row carries ``turn`` and
    ``conversation`` and a key ending in ``|tN``, as the runner writes them."""
    suffix = "" if length is None else f"@{length}"
    conversation = f"{scenario}|{arm}{suffix}|{sample}"
    error_kind = "backend" if backend_error else (None if passed else "checks")
    checks = [] if backend_error else [CheckRecord(name="no_comma", passed=passed)]
    return SampleRecord(
        key=conversation if turn is None else f"{conversation}|t{turn}",
        suite=suite,
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
        passed=passed and not backend_error,
        error="down" if backend_error else None,
        error_kind=error_kind,
        checks=checks,
        turn=turn,
        conversation=None if turn is None else conversation,
    )


def runs_from(pattern, **fields):
    """Runs A and B following ``pattern`` (scenario -> one letter per sample)."""
    a, b = [], []
    for scenario, letters in pattern.items():
        for sample, letter in enumerate(letters):
            a.append(row(scenario, sample=sample, passed=letter in "=a", **fields))
            b.append(row(scenario, sample=sample, passed=letter in "=b", **fields))
    return a, b


def ref(name, suite="unit", records=0):
    return RunRef(path=name, suite=suite, records=records)


def compare(a, b, **options):
    return compare_runs(a, b, a=ref("A"), b=ref("B"), **options)


def wilson(successes, n, confidence=0.95):
    """The Wilson score interval, written out from the textbook formula."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_one_arm_rates_difference_and_mcnemar_from_the_pattern():
    result = compare(*runs_from(PATTERN))
    arm = result.arms["blueprint"]
    assert arm.group == ArmGroup(arm="blueprint", length=None)
    assert (arm.pairs, arm.scenarios) == (20, 4)
    assert (arm.a.passed, arm.b.passed) == (10, 15)
    assert (arm.a.pass_rate, arm.b.pass_rate, arm.difference) == (0.5, 0.75, 0.25)
    assert (arm.mcnemar.only_a_passed, arm.mcnemar.only_b_passed) == (2, 7)
    # Two-sided exact McNemar: 2 * P(X <= 2), X ~ Binomial(9, 1/2) = 2 * (1 + 9 + 36) / 512.
    assert arm.mcnemar.p_value == pytest.approx(92 / 512)
    assert arm.mcnemar.p_value == pytest.approx(binomtest(2, 9, 0.5).pvalue)
    # Wilson intervals: 10/20 is [0.299, 0.701] and 15/20 is [0.531, 0.888] in the textbooks.
    assert arm.a.ci == pytest.approx(wilson(10, 20))
    assert arm.b.ci == pytest.approx(wilson(15, 20))
    assert [round(x, 3) for x in (*arm.a.ci, *arm.b.ci)] == [0.299, 0.701, 0.531, 0.888]


def test_the_interval_resamples_scenarios():
    arm = compare(*runs_from(PATTERN)).arms["blueprint"]
    # Equal pairs per scenario: the values resampled are the scenarios' own differences.
    per_scenario = [-1 / 5, 2 / 5, 3 / 5, 1 / 5]
    assert arm.difference_ci == pytest.approx(stats.paired_bootstrap_ci(per_scenario, seed=0))
    low, high = arm.difference_ci
    assert -1 <= low < arm.difference < high <= 1


def test_unequal_scenarios_keep_the_pooled_difference_inside_its_interval():
    pattern = {"s0": "bbbbbbbbbb", "s1": "a", "s2": "=-", "s3": "b-"}
    arm = compare(*runs_from(pattern)).arms["blueprint"]
    assert arm.difference == pytest.approx((11 - 1) / 15)
    low, high = arm.difference_ci
    assert low <= arm.difference <= high


def test_one_scenario_has_no_interval_to_resample():
    arm = compare(*runs_from({"only": "=ab-b"})).arms["blueprint"]
    assert arm.scenarios == 1 and arm.difference_ci is None
    assert arm.difference == pytest.approx(0.2)


def test_numbers_keep_full_precision():
    arm = compare(*runs_from({"s0": "b--", "s1": "=--"})).arms["blueprint"]
    assert arm.a.pass_rate == 1 / 6 and arm.b.pass_rate == 2 / 6
    assert arm.difference == 2 / 6 - 1 / 6  # not rounded
    data = compare(*runs_from({"s0": "b--", "s1": "=--"})).model_dump(mode="json")
    assert data["arms"]["blueprint"]["a"]["pass_rate"] == 1 / 6


def test_samples_in_one_run_only_and_backend_errors_are_left_out_and_counted():
    a, b = runs_from(PATTERN)
    a += [row("extra-a", sample=0), row("extra-a", sample=1)]
    b += [row("extra-b", sample=0)]
    # Two more pairs, each with a backend error in one run: out, whatever the other did.
    a += [row("s9", sample=0, backend_error=True), row("s9", sample=1, passed=False)]
    b += [row("s9", sample=0, passed=True), row("s9", sample=1, backend_error=True)]
    result = compare(a, b)
    assert result.pairs == 20
    excluded = result.excluded
    assert (excluded.only_in_a, excluded.only_in_b, excluded.errored) == (2, 1, 2)
    assert result.arms["blueprint"].mcnemar.only_b_passed == 7


def test_pairs_are_matched_by_their_parts_not_the_order_of_the_rows():
    a, b = runs_from(PATTERN)
    assert compare(a, list(reversed(b))) == compare(a, b)


def test_groups_are_arm_and_length_in_the_declared_order_and_overall_pools_them():
    a, b = [], []
    for arm, length, pattern in [
        ("blueprint", 128, {"s0": "=a", "s1": "bb"}),
        ("blueprint", 64, {"s0": "--", "s1": "=b"}),
        ("direct", 64, {"s0": "a-", "s1": "=-"}),
    ]:
        more_a, more_b = runs_from(pattern, arm=arm, length=length)
        a += more_a
        b += more_b
    result = compare(a, b, arms=["direct", "blueprint"])
    assert list(result.arms) == ["direct@64", "blueprint@64", "blueprint@128"]
    assert result.arms["blueprint@64"].group == ArmGroup(arm="blueprint", length=64)
    counts = {k: (v.pairs, v.a.passed, v.b.passed) for k, v in result.arms.items()}
    assert counts == {"direct@64": (4, 2, 1), "blueprint@64": (4, 1, 2), "blueprint@128": (4, 2, 3)}
    overall = result.overall
    assert (overall.pairs, overall.a.passed, overall.b.passed) == (12, 5, 6)
    assert (overall.mcnemar.only_a_passed, overall.mcnemar.only_b_passed) == (2, 3)
    assert overall.mcnemar.p_value == pytest.approx(binomtest(2, 5, 0.5).pvalue)
    assert overall.per_turn == []


def turns_runs(**fields):
    """Two conversations' scenarios × 3 samples × 3 turns. Turn 1: both runs pass everything;
    turn 2: A passes 2 of 6, B 5 (b=0, c=3); turn 3: A passes 4, B 1 (b=3, c=0)."""
    a, b = [], []
    for turn, letters in {1: "======", 2: "==bbb-", 3: "aaa=--"}.items():
        for index, letter in enumerate(letters):
            scenario, sample = ("chat", "talk")[index // 3], index % 3
            a.append(row(scenario, sample=sample, turn=turn, passed=letter in "=a", **fields))
            b.append(row(scenario, sample=sample, turn=turn, passed=letter in "=b", **fields))
    return a, b


def test_multi_turn_records_are_paired_turn_by_turn():
    a, b = turns_runs()
    arm = compare(a, b).arms["blueprint"]
    assert arm.pairs == 18
    assert [t.turn for t in arm.per_turn] == [1, 2, 3]
    first, second, third = arm.per_turn
    assert (first.pairs, first.a.passed, first.b.passed, first.mcnemar.p_value) == (6, 6, 6, 1.0)
    assert (second.a.passed, second.b.passed) == (2, 5)
    assert (second.mcnemar.only_a_passed, second.mcnemar.only_b_passed) == (0, 3)
    assert second.mcnemar.p_value == pytest.approx(binomtest(0, 3, 0.5).pvalue)  # 2/8
    assert second.mcnemar.p_value == pytest.approx(0.25)
    assert third.difference == pytest.approx(1 / 6 - 4 / 6)
    assert third.mcnemar.p_value == pytest.approx(binomtest(3, 3, 0.5).pvalue)
    assert third.b.ci == pytest.approx(wilson(1, 6))
    assert second.scenarios == 2 and second.difference_ci is not None
    assert compare(a, b).overall.per_turn == arm.per_turn


def test_a_turn_missing_in_one_run_is_left_out_alone():
    a, b = turns_runs()
    b = [r for r in b if not (r.scenario == "chat" and r.sample == 0 and r.turn == 3)]
    result = compare(a, b)
    assert result.excluded.only_in_a == 1
    assert [t.pairs for t in result.arms["blueprint"].per_turn] == [6, 6, 5]


def test_injected_turns_are_not_compared():
    a, b = turns_runs()
    a = [r.model_copy(update={"injected": True}) if r.turn == 2 else r for r in a]
    result = compare(a, b)
    assert result.excluded.injected == 6
    assert [t.turn for t in result.arms["blueprint"].per_turn] == [1, 3]


def test_runs_with_no_sample_in_common_are_an_error_naming_both_suites():
    a, _ = runs_from({"s0": "=="}, suite="refunds")
    _, b = runs_from({"other": "=="}, suite="triage")
    with pytest.raises(UserError) as error:
        compare_runs(a, b, a=ref("runs/a", "refunds"), b=ref("runs/b", "triage"))
    message = str(error.value)
    assert "no sample in common" in message
    assert "'refunds'" in message and "'triage'" in message


def test_runs_whose_common_samples_all_errored_are_an_error():
    a, _ = runs_from({"s0": "=="})
    b = [row("s0", sample=i, backend_error=True) for i in range(2)]
    with pytest.raises(UserError, match=r"no sample judged in both.*2 ended in a backend error"):
        compare(a, b)


def test_runs_of_different_suites_are_compared_with_a_warning():
    a, b = runs_from(PATTERN)
    result = compare_runs(a, b, a=ref("runs/a", "refunds"), b=ref("runs/b", "refunds-v2"))
    assert result.pairs == 20
    assert len(result.warnings) == 1 and "different suites" in result.warnings[0]
    assert compare(a, b).warnings == []


def test_rows_as_read_from_a_file_are_validated():
    a, b = runs_from(PATTERN)
    rows = [r.model_dump(mode="json") for r in a]
    assert compare(rows, b) == compare(a, b)
    rows[0]["passed"] = "maybe"
    with pytest.raises(UserError, match="does not match the results schema"):
        compare(rows, b)


OUTCOMES = st.sampled_from(["pass", "fail", "backend"])
ROWS = st.lists(
    st.tuples(
        st.sampled_from(["s0", "s1", "s2"]),
        st.sampled_from(["direct", "blueprint"]),
        st.sampled_from([None, 64]),
        st.integers(0, 3),
        st.sampled_from([None, 1, 2]),
        OUTCOMES,
    ),
    min_size=1,
    max_size=30,
    unique_by=lambda t: t[:5],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_a_run_compared_with_itself_shows_no_difference(rows):
    records = [
        row(
            s,
            arm,
            sample,
            outcome == "pass",
            length=length,
            turn=turn,
            backend_error=outcome == "backend",
        )
        for s, arm, length, sample, turn, outcome in rows
    ]
    if all(r.error_kind == "backend" for r in records):
        with pytest.raises(UserError):
            compare(records, records)
        return
    result = compare(records, records)
    assert result.excluded.only_in_a == result.excluded.only_in_b == 0
    assert result.excluded.errored == sum(r.error_kind == "backend" for r in records)
    deltas = [result.overall, *result.overall.per_turn]
    for arm in result.arms.values():
        deltas += [arm, *arm.per_turn]
    for delta in deltas:
        assert delta.difference == 0
        assert delta.mcnemar.p_value == 1
        assert delta.mcnemar.only_a_passed == delta.mcnemar.only_b_passed == 0
        assert delta.a == delta.b
        assert delta.difference_ci in (None, (0.0, 0.0))
