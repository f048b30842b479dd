"""The truncated SPRT against hand-computed values and brute-force enumeration."""

import itertools
import math

import pytest

from parlantish.eval.sequential import SequentialPlan, fixed_sample_size, samples_needed


def test_the_log_likelihood_ratio_by_hand():
    plan = SequentialPlan(0.8, 0.6, max_samples=10)
    assert plan.llr(3, 5) == pytest.approx(3 * math.log(0.8 / 0.6) + 2 * math.log(0.2 / 0.4))
    assert plan.wald_bounds == pytest.approx((math.log(19), -math.log(19)))


def test_all_must_pass_fails_on_the_first_failure():
    # p_good = 1: one failure is decisive; passing needs n successes with 0.9^n <= 0.05.
    plan = SequentialPlan.for_threshold(1.0, 0.1, 0.95, 40)
    assert plan.decide(0, 1) == "fail" and plan.decide(4, 5) == "fail"
    assert plan.decide(28, 28) is None and plan.decide(29, 29) == "pass"
    assert plan.error_rates == pytest.approx((0.0, 0.9**29))
    assert fixed_sample_size(1.0, 0.9, 0.05, 0.05) == (29, 29)  # 0.9^28 = 0.052 > 0.05


def test_fixed_sample_size_by_hand():
    # 0.9 vs 0.5 with 10% errors: n = 9, pass on >= 7 successes:
    # P(K <= 6 | 0.9) = 0.0530, P(K >= 7 | 0.5) = 0.0898; n = 8 fails both ways.
    assert fixed_sample_size(0.9, 0.5, 0.1, 0.1) == (9, 7)


def _enumerated(plan, p):
    """Probability of passing and expected samples, over every outcome sequence."""
    passed = expected = 0.0
    for outcomes in itertools.product((0, 1), repeat=plan.max_samples):
        k = 0
        for n, outcome in enumerate(outcomes, 1):
            k += outcome
            verdict = plan.decide(k, n)
            if verdict is not None:
                break
        weight = p ** sum(outcomes) * (1 - p) ** (plan.max_samples - sum(outcomes))
        passed += weight * (verdict == "pass")
        expected += weight * n
    return passed, expected


@pytest.mark.parametrize("p", [0.3, 0.65, 0.9])
def test_the_exact_operating_characteristic_matches_enumeration(p):
    plan = SequentialPlan(0.8, 0.5, 0.1, 0.1, max_samples=10)
    point = plan.operating_point(p)
    passed, expected = _enumerated(plan, p)
    assert point.pass_probability == pytest.approx(passed, abs=1e-12)
    assert point.expected_samples == pytest.approx(expected, abs=1e-12)


def test_enough_samples_meet_both_error_rates_and_save_samples():
    fixed, _ = fixed_sample_size(0.8, 0.6, 0.05, 0.05)
    needed = samples_needed(0.8, 0.2, 0.95)
    assert needed <= fixed and SequentialPlan.for_threshold(0.8, 0.2, 0.95, needed).meets_targets
    # Room beyond the fixed size lets the test stop earlier on average.
    plan = SequentialPlan.for_threshold(0.8, 0.2, 0.95, 2 * fixed)
    assert plan.meets_targets
    assert plan.operating_point(0.8).expected_samples < 0.6 * fixed
    # The probability of passing grows with the pass rate.
    chances = [plan.operating_point(p).pass_probability for p in (0.4, 0.6, 0.7, 0.8, 0.95)]
    assert chances == sorted(chances)


def test_too_few_samples_say_so():
    plan = SequentialPlan.for_threshold(0.8, 0.1, 0.95, 10)
    assert not plan.meets_targets and min(plan.error_rates) > 0.05
    with pytest.raises(ValueError):
        SequentialPlan(0.5, 0.6)
