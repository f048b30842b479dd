"""Statistics for consistency evaluations: pure functions of counts and outcomes.

Proportions (Wilson intervals), consistency over repeated samples (unbiased pass^k, agreement),
paired comparisons of two arms (exact McNemar / sign test, bootstrap interval, Cohen's h), and the
length analysis: where along an output an instruction is first broken, as survival data.

Length data is one ``Exposure`` per output: the token lengths of its units (segments or token
windows) in order, and the 1-based unit in which the first violation happened (``None`` when the
output ended without one: censored). The constant-rate model says every token breaks the
instruction independently with probability ``e``, so an output survives ``n`` tokens with
probability ``(1-e)^n``; a violation is known only to lie inside its unit (interval-censored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy import stats as sps

__all__ = [
    "Exposure",
    "HazardPoint",
    "LikelihoodRatioTest",
    "RateFit",
    "SignTest",
    "cohens_h",
    "constant_rate_lr_test",
    "fit_constant_rate",
    "hazard_by_unit",
    "kaplan_meier",
    "mcnemar_exact",
    "paired_bootstrap_ci",
    "pairwise_agreement",
    "pass_hat_k",
    "pass_hat_k_curve",
    "position_bins",
    "sign_test",
    "wilson_interval",
]

CHI2_95_1DF = float(sps.chi2.ppf(0.95, 1))
_TINY = 1e-12


# -- proportions and consistency -------------------------------------------------------------


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n`` (``(0, 1)`` when ``n == 0``)."""
    if n == 0:
        return (0.0, 1.0)
    ci = sps.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of the probability that ``k`` fresh samples all pass, from ``n`` samples
    of which ``c`` passed: C(c, k) / C(n, k) (requires 1 <= k <= n)."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and n={n}, got {k}")
    if not 0 <= c <= n:
        raise ValueError(f"c must be between 0 and n={n}, got {c}")
    return math.comb(c, k) / math.comb(n, k)


def pass_hat_k_curve(n: int, c: int) -> list[float]:
    """``pass_hat_k`` for k = 1 … n."""
    return [pass_hat_k(n, c, k) for k in range(1, n + 1)]


def pairwise_agreement(n: int, c: int) -> float:
    """Probability that two different samples (of ``n``, ``c`` passing) have the same outcome
    (1.0 when fewer than two samples)."""
    if n < 2:
        return 1.0
    return (math.comb(c, 2) + math.comb(n - c, 2)) / math.comb(n, 2)


# -- paired comparisons ----------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs: ``b`` pairs where only the
    first arm passed, ``c`` where only the second did."""
    if b + c == 0:
        return 1.0
    return float(sps.binomtest(b, b + c, 0.5).pvalue)


@dataclass(frozen=True)
class SignTest:
    """Sign test of paired differences: counts and the two-sided exact p-value."""

    positive: int
    negative: int
    ties: int
    p_value: float


def sign_test(differences: Sequence[float]) -> SignTest:
    """Exact two-sided sign test (ties dropped) of paired differences."""
    positive = sum(1 for d in differences if d > 0)
    negative = sum(1 for d in differences if d < 0)
    ties = len(differences) - positive - negative
    return SignTest(positive, negative, ties, mcnemar_exact(positive, negative))


def paired_bootstrap_ci(
    differences: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences (seeded, reproducible);
    a single value or identical values give a zero-width interval."""
    data = np.asarray(differences, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    if data.size == 1 or np.all(data == data[0]):
        return (float(data[0]), float(data[0]))
    result = sps.bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return (float(result.confidence_interval.low), float(result.confidence_interval.high))


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h, the effect size of a difference between two proportions
    (0.2 small, 0.5 medium, 0.8 large)."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


# -- length analysis -------------------------------------------------------------------------


@dataclass(frozen=True)
class Exposure:
    """One output seen as survival data: token length of each unit, and the 1-based unit holding
    the first violation (``None``: no violation before the output ended)."""

    unit_tokens: tuple[int, ...]
    event_unit: int | None = None

    def __post_init__(self) -> None:
        if self.event_unit is not None and not 1 <= self.event_unit <= len(self.unit_tokens):
            raise ValueError(f"event_unit {self.event_unit} outside 1..{len(self.unit_tokens)}")

    @property
    def observed_units(self) -> int:
        return self.event_unit if self.event_unit is not None else len(self.unit_tokens)

    @property
    def end_token(self) -> int:
        """Token position of the event (end of its unit) or of censoring (end of output)."""
        return sum(self.unit_tokens[: self.observed_units])


def kaplan_meier(exposures: Sequence[Exposure]) -> list[tuple[float, float]]:
    """Kaplan–Meier estimate of S(n) = P(no violation in the first n tokens), as ``(n, S)``
    steps starting at ``(0, 1)``; censoring at each output's end."""
    events = [x.end_token for x in exposures if x.event_unit is not None]
    censored = [x.end_token for x in exposures if x.event_unit is None]
    if not exposures:
        return [(0.0, 1.0)]
    if not events:
        return [(0.0, 1.0), (float(max(censored)), 1.0)]
    data = sps.CensoredData(uncensored=events, right=censored)
    sf = sps.ecdf(data).sf
    return [(0.0, 1.0)] + [
        (float(t), float(s)) for t, s in zip(sf.quantiles, sf.probabilities, strict=True)
    ]


@dataclass(frozen=True)
class HazardPoint:
    """The empirical hazard at one unit position."""

    unit: int
    start_token: float  # mean token position where the unit starts, over outputs at risk
    end_token: float
    at_risk: int
    events: int

    @property
    def per_unit(self) -> float:
        return self.events / self.at_risk if self.at_risk else 0.0

    @property
    def per_token(self) -> float:
        """The constant per-token rate that gives this unit's hazard over its mean length."""
        length = max(self.end_token - self.start_token, 1.0)
        return 1 - (1 - self.per_unit) ** (1 / length)


def hazard_by_unit(exposures: Sequence[Exposure]) -> list[HazardPoint]:
    """Per unit position: outputs at risk (reached the unit with no earlier violation), events
    there, and the mean token span of the unit."""
    points = []
    longest = max((x.observed_units for x in exposures), default=0)
    for unit in range(1, longest + 1):
        at_risk = [x for x in exposures if x.observed_units >= unit]
        starts = [sum(x.unit_tokens[: unit - 1]) for x in at_risk]
        ends = [sum(x.unit_tokens[:unit]) for x in at_risk]
        points.append(
            HazardPoint(
                unit=unit,
                start_token=float(np.mean(starts)),
                end_token=float(np.mean(ends)),
                at_risk=len(at_risk),
                events=sum(1 for x in at_risk if x.event_unit == unit),
            )
        )
    return points


@dataclass(frozen=True)
class RateFit:
    """Maximum-likelihood constant per-token violation rate ``e`` with a 95% profile-likelihood
    interval; ``tokens`` survived and ``events`` observed."""

    e: float
    low: float
    high: float
    log_likelihood: float
    events: int
    tokens: int

    def survival(self, n: float) -> float:
        """The survival the fit predicts after ``n`` tokens: (1-e)^n."""
        return (1 - self.e) ** n


def _rate_terms(exposures: Sequence[Exposure], units: range | None = None) -> tuple[int, list[int]]:
    """Tokens survived and the lengths of the units with an event (optionally only units whose
    1-based index is in ``units``)."""
    survived = 0
    event_lengths: list[int] = []
    for x in exposures:
        for index in range(1, x.observed_units + 1):
            if units is not None and index not in units:
                continue
            length = x.unit_tokens[index - 1]
            if index == x.event_unit:
                event_lengths.append(max(length, 1))
            else:
                survived += length
    return survived, event_lengths


def _log_likelihood(e: float, survived: int, event_lengths: Sequence[int]) -> float:
    e = min(max(e, _TINY), 1 - _TINY)
    total = survived * math.log1p(-e)
    for length in event_lengths:
        total += math.log(-math.expm1(length * math.log1p(-e)))
    return total


def _fit(survived: int, event_lengths: Sequence[int]) -> RateFit:
    events = len(event_lengths)
    tokens = survived + sum(event_lengths)
    if events == 0:
        # ll(e) = survived * log(1 - e) peaks at e = 0; the upper bound solves 2(0 - ll) = chi2.
        high = -math.expm1(-CHI2_95_1DF / 2 / survived) if survived else 1.0
        return RateFit(0.0, 0.0, high, 0.0, 0, tokens)
    if survived == 0:
        return RateFit(
            1.0, _profile_bound(survived, event_lengths, 1.0, 0.0), 1.0, 0.0, events, tokens
        )
    # Every event unit of length 1 makes this the geometric closed form events / tokens;
    # otherwise maximise on the log-odds scale.
    if all(length == 1 for length in event_lengths):
        best = events / tokens
    else:
        result = optimize.minimize_scalar(
            lambda z: -_log_likelihood(1 / (1 + math.exp(-z)), survived, event_lengths),
            bounds=(-30.0, 10.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        best = 1 / (1 + math.exp(-float(result.x)))
    peak = _log_likelihood(best, survived, event_lengths)
    low = _profile_bound(survived, event_lengths, best, 0.0)
    high = _profile_bound(survived, event_lengths, best, 1.0)
    return RateFit(best, low, high, peak, events, tokens)


def _profile_bound(
    survived: int, event_lengths: Sequence[int], best: float, toward: float
) -> float:
    peak = _log_likelihood(best, survived, event_lengths)

    def gap(e: float) -> float:
        return 2 * (peak - _log_likelihood(e, survived, event_lengths)) - CHI2_95_1DF

    edge = _TINY if toward == 0.0 else 1 - _TINY
    if gap(edge) <= 0:
        return toward
    return float(optimize.brentq(gap, min(best, edge), max(best, edge), xtol=1e-14))


def fit_constant_rate(exposures: Sequence[Exposure]) -> RateFit:
    """Fit the constant per-token violation rate ``e`` to the outputs (interval-censored
    geometric likelihood: survive ``(1-e)^L`` per unit of ``L`` tokens, violate with
    ``1-(1-e)^L``)."""
    survived, event_lengths = _rate_terms(exposures)
    return _fit(survived, event_lengths)


def position_bins(units: int) -> list[range]:
    """Doubling bins of unit positions: [1], [2-3], [4-7], [8-15], … covering 1..``units``."""
    bins = []
    start = 1
    while start <= units:
        stop = min(2 * start - 1, units)
        bins.append(range(start, stop + 1))
        start = stop + 1
    return bins


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """Constant ``e`` against a rate that may differ between position bins."""

    statistic: float
    df: int
    p_value: float
    bins: tuple[tuple[int, int, RateFit], ...]  # (first unit, last unit, fit in that bin)

    @property
    def trend(self) -> str:
        """``rises``, ``falls`` or ``flat``: the fitted rate of the first bin with exposure
        against the last one."""
        fits = [fit for _, _, fit in self.bins if fit.tokens > 0]
        if len(fits) < 2 or math.isclose(fits[0].e, fits[-1].e, rel_tol=1e-9, abs_tol=1e-12):
            return "flat"
        return "rises" if fits[-1].e > fits[0].e else "falls"


def constant_rate_lr_test(exposures: Sequence[Exposure]) -> LikelihoodRatioTest:
    """Likelihood-ratio test of "the per-token rate is the same at every position" against a
    rate fitted separately in each doubling bin of unit positions (chi-squared, bins - 1 df).
    The interval-censored likelihood separates over units, so each bin is fitted on its own."""
    longest = max((x.observed_units for x in exposures), default=0)
    constant = fit_constant_rate(exposures)
    fitted = []
    for positions in position_bins(longest):
        survived, event_lengths = _rate_terms(exposures, positions)
        if survived + sum(event_lengths) == 0:
            continue
        fitted.append((positions.start, positions.stop - 1, _fit(survived, event_lengths)))
    df = len(fitted) - 1
    if df < 1:
        return LikelihoodRatioTest(0.0, 0, 1.0, tuple(fitted))
    statistic = max(
        0.0, 2 * (sum(f.log_likelihood for _, _, f in fitted) - constant.log_likelihood)
    )
    p_value = float(sps.chi2.sf(statistic, df))
    return LikelihoodRatioTest(statistic, df, p_value, tuple(fitted))
