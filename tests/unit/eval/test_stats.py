"""Statistics against hand-computed and textbook values."""

import math
import random

import pytest

from parlantish.eval import stats
from parlantish.eval.stats import Exposure


def test_wilson_interval_matches_textbook_values():
    # Newcombe (1998) / Wikipedia's worked values for the Wilson score interval.
    low, high = stats.wilson_interval(3, 10)
    assert low == pytest.approx(0.1078, abs=1e-4) and high == pytest.approx(0.6032, abs=1e-4)
    low, high = stats.wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-4)
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_pass_hat_k_is_the_unbiased_combinatorial_estimate():
    assert stats.pass_hat_k_curve(5, 3) == pytest.approx([0.6, 0.3, 0.1, 0.0, 0.0])
    assert stats.pass_hat_k(4, 4, 4) == 1.0
    # Unbiased: averaging over every subset of size k equals the estimator.
    outcomes = [1, 1, 0, 1, 0, 1]
    import itertools

    subsets = list(itertools.combinations(outcomes, 3))
    assert stats.pass_hat_k(6, 4, 3) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))
    with pytest.raises(ValueError):
        stats.pass_hat_k(3, 1, 4)


def test_pairwise_agreement():
    assert stats.pairwise_agreement(4, 2) == pytest.approx(2 / 6)
    assert stats.pairwise_agreement(5, 5) == 1.0
    assert stats.pairwise_agreement(1, 0) == 1.0


def test_exact_mcnemar_and_sign_test():
    # 8 vs 2 discordant pairs: p = 2 * P(X <= 2 | n=10, 1/2) = 2 * 56 / 1024.
    assert stats.mcnemar_exact(8, 2) == pytest.approx(0.109375)
    assert stats.mcnemar_exact(0, 0) == 1.0
    test = stats.sign_test([0.5, 0.2, -0.1, 0.0, 0.3, 0.0])
    assert (test.positive, test.negative, test.ties) == (3, 1, 2)
    assert test.p_value == pytest.approx(0.625)  # 2 * P(X <= 1 | n=4) = 2 * 5 / 16


def test_paired_bootstrap_interval_is_reproducible_and_sensible():
    diffs = [1, 0, 0, 1, -1, 1, 0, 1, 1, 0]
    first = stats.paired_bootstrap_ci(diffs, seed=3)
    assert first == stats.paired_bootstrap_ci(diffs, seed=3)
    assert first[0] < sum(diffs) / len(diffs) < first[1]
    assert stats.paired_bootstrap_ci([0.25, 0.25]) == (0.25, 0.25)


def test_cohens_h():
    assert stats.cohens_h(0.5, 0.5) == 0.0
    assert stats.cohens_h(1.0, 0.0) == pytest.approx(math.pi)


def test_kaplan_meier_matches_a_hand_computed_example():
    # Events at 3, 5, 5, 8 tokens; censored at 6, 10, 10 (one-token units make positions exact).
    exposures = [Exposure((1,) * t, t) for t in (3, 5, 5, 8)] + [
        Exposure((1,) * t) for t in (6, 10, 10)
    ]
    curve = dict(stats.kaplan_meier(exposures))
    assert curve[3.0] == pytest.approx(6 / 7)
    assert curve[5.0] == pytest.approx(4 / 7)
    assert curve[8.0] == pytest.approx(4 / 7 * 2 / 3)
    assert stats.kaplan_meier([Exposure((1, 1))]) == [(0.0, 1.0), (2.0, 1.0)]


def test_constant_rate_fit_is_the_geometric_closed_form_for_one_token_units():
    # 3 events in 1-token units and 40 tokens survived in all: e = 3 / 43 exactly.
    exposures = [Exposure((1,) * 10, 4), Exposure((1,) * 10, 7), Exposure((1,) * 5, 5)] + [
        Exposure((1,) * 8) for _ in range(3)
    ]
    fit = stats.fit_constant_rate(exposures)
    assert (fit.events, fit.tokens) == (3, 4 + 7 + 5 + 24)
    assert fit.e == pytest.approx(3 / 40)
    assert fit.low < fit.e < fit.high
    # Wider units: the interval-censored likelihood is maximal at the returned e.
    wide = [Exposure((10,) * 5, 3), Exposure((10,) * 5), Exposure((10,) * 5, 1)]
    fit = stats.fit_constant_rate(wide)
    ll = stats._log_likelihood
    survived, events = stats._rate_terms(wide)
    assert ll(fit.e, survived, events) >= ll(fit.e * 1.01, survived, events)
    assert ll(fit.e, survived, events) >= ll(fit.e * 0.99, survived, events)


def test_no_violation_gives_zero_with_a_likelihood_upper_bound():
    fit = stats.fit_constant_rate([Exposure((10,) * 10) for _ in range(5)])
    assert fit.e == 0.0 and fit.events == 0
    assert fit.high == pytest.approx(1 - math.exp(-stats.CHI2_95_1DF / 2 / 500))


def simulate(hazard, outputs=600, units=12, width=8, seed=0):
    rng = random.Random(seed)
    result = []
    for _ in range(outputs):
        event = None
        for unit in range(1, units + 1):
            if any(rng.random() < hazard(unit) for _ in range(width)):
                event = unit
                break
        result.append(Exposure((width,) * units, event))
    return result


def test_constant_rate_is_recovered_and_not_rejected():
    exposures = simulate(lambda unit: 0.01, seed=4)
    fit = stats.fit_constant_rate(exposures)
    assert fit.low < 0.01 < fit.high
    test = stats.constant_rate_lr_test(exposures)
    assert test.df == len(stats.position_bins(12)) - 1
    assert test.p_value > 0.05


def test_a_falling_hazard_is_detected():
    exposures = simulate(lambda unit: 0.05 if unit <= 2 else 0.002, seed=5)
    test = stats.constant_rate_lr_test(exposures)
    assert test.p_value < 0.001 and test.trend == "falls"


def test_hazard_by_unit_counts_outputs_at_risk():
    exposures = [Exposure((4, 4, 4), 2), Exposure((4, 4, 4)), Exposure((4, 4), 1)]
    points = stats.hazard_by_unit(exposures)
    assert [(p.at_risk, p.events) for p in points] == [(3, 1), (2, 1), (1, 0)]
    assert points[0].per_unit == pytest.approx(1 / 3)
    assert points[0].per_token == pytest.approx(1 - (2 / 3) ** (1 / 4))


def test_position_bins_double():
    assert [(b.start, b.stop - 1) for b in stats.position_bins(12)] == [
        (1, 1),
        (2, 3),
        (4, 7),
        (8, 12),
    ]
    assert stats.position_bins(0) == []
