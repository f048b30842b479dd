"""Sequential verdicts on a pass rate: Wald's sequential probability ratio test, truncated.

A consistency test asks whether an agent's pass rate ``p`` reaches ``min_pass_rate``. The test
decides between two simple hypotheses, ``p = p_good`` (``min_pass_rate``) and ``p = p_bad``
(``min_pass_rate - margin``), after every sample: it passes as soon as the log-likelihood
ratio ``log L(p_good) / L(p_bad)`` reaches ``log((1 - alpha) / beta)``, fails as soon as it
falls to ``log(alpha / (1 - beta))``, and otherwise draws another sample, up to
``max_samples``; there the undecided test passes when the successes reach a final cut chosen
to balance the two errors. The error rates it promises are computed exactly (dynamic
programming over the (samples, successes) lattice, no Wald approximation):

- ``alpha``: the probability of failing an agent whose pass rate is ``min_pass_rate`` or more;
- ``beta``: the probability of passing one whose pass rate is ``min_pass_rate - margin`` or less
  (both bounds hold beyond the hypotheses: the probability of passing grows with ``p``).

Between the two the verdict may go either way. Wald's test minimises the expected number of
samples at both hypotheses among all tests with the same error rates (Wald-Wolfowitz), which is
why it is preferred here to a confidence sequence (valid at every ``p``, but wider).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from scipy import stats as sps

__all__ = [
    "OperatingPoint",
    "SequentialPlan",
    "Verdict",
    "fixed_sample_size",
    "samples_needed",
]

Verdict = Literal["pass", "fail"]


@dataclass(frozen=True)
class OperatingPoint:
    """How the test behaves at one true pass rate: the probability that it passes, and the
    expected number of samples it draws."""

    p: float
    pass_probability: float
    expected_samples: float


@dataclass(frozen=True)
class SequentialPlan:
    """A truncated SPRT of ``p >= p_good`` against ``p <= p_bad`` (``p_bad < p_good``)."""

    p_good: float
    p_bad: float
    alpha: float = 0.05
    beta: float = 0.05
    max_samples: int = 100

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_bad < self.p_good <= 1.0:
            raise ValueError(f"need 0 <= p_bad < p_good <= 1, got {self.p_bad}, {self.p_good}")
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise ValueError("alpha and beta must lie in (0, 0.5)")
        if self.max_samples < 1:
            raise ValueError("max_samples must be at least 1")

    @classmethod
    def for_threshold(
        cls, min_pass_rate: float, margin: float, confidence: float, max_samples: int
    ) -> SequentialPlan:
        """The plan for a consistency assertion: both error rates ``1 - confidence``."""
        error = 1.0 - confidence
        return cls(min_pass_rate, max(0.0, min_pass_rate - margin), error, error, max_samples)

    # -- the rule ------------------------------------------------------------------------------

    def llr(self, successes: int, n: int) -> float:
        """``log L(p_good) / L(p_bad)`` after ``successes`` of ``n`` (may be ±inf)."""
        total = 0.0
        if successes:
            total += successes * _log_ratio(self.p_good, self.p_bad)
        if n - successes:
            total += (n - successes) * _log_ratio(1 - self.p_good, 1 - self.p_bad)
        return total

    @property
    def wald_bounds(self) -> tuple[float, float]:
        """Wald's thresholds of the log-likelihood ratio: (pass at or above, fail at or below)."""
        return math.log((1 - self.alpha) / self.beta), math.log(self.alpha / (1 - self.beta))

    @property
    def upper(self) -> float:
        """Pass once the log-likelihood ratio reaches this."""
        return self._calibrated[0]

    @property
    def lower(self) -> float:
        """Fail once the log-likelihood ratio falls to this."""
        return self._calibrated[1]

    @property
    def final_cut(self) -> int:
        """Successes at ``max_samples`` from which a still undecided test passes."""
        return self._calibrated[2]

    def decide(self, successes: int, n: int) -> Verdict | None:
        """The verdict after ``successes`` of ``n`` samples, or ``None``: draw another."""
        if n > self.max_samples:
            raise ValueError(f"{n} samples is past max_samples={self.max_samples}")
        value = self.llr(successes, n)
        if value >= self.upper:
            return "pass"
        if value <= self.lower:
            return "fail"
        if n == self.max_samples:
            return "pass" if successes >= self.final_cut else "fail"
        return None

    def first_decidable(self) -> int:
        """The fewest samples after which some outcome decides the test early."""
        for n in range(1, self.max_samples + 1):
            if self.decide(n, n) is not None or self.decide(0, n) is not None:
                return n
        return self.max_samples

    # -- exact operating characteristic --------------------------------------------------------

    def _bounds(self, upper: float, lower: float) -> tuple[np.ndarray, np.ndarray]:
        """Per n: the fewest successes that pass early (n + 1: none), the most that fail early
        (-1: none)."""
        passes = np.zeros(self.max_samples + 1, dtype=np.int64)
        fails = np.full(self.max_samples + 1, -1, dtype=np.int64)
        win = _log_ratio(self.p_good, self.p_bad)
        loss = _log_ratio(1 - self.p_good, 1 - self.p_bad)
        for n in range(1, self.max_samples + 1):
            k = np.arange(n + 1)
            with np.errstate(invalid="ignore"):
                values = np.where(k > 0, k * win, 0.0) + np.where(n - k > 0, (n - k) * loss, 0.0)
            up = np.nonzero(values >= upper)[0]
            down = np.nonzero(values <= lower)[0]
            passes[n] = up[0] if up.size else n + 1
            fails[n] = down[-1] if down.size else -1
        return passes, fails

    def _run(
        self, p: float, bounds: tuple[np.ndarray, np.ndarray]
    ) -> tuple[float, float, np.ndarray]:
        """Exact early-pass probability, expected samples, and the distribution of successes
        among paths still undecided at ``max_samples``."""
        passes, fails = bounds
        mass = np.zeros(self.max_samples + 1)
        mass[0] = 1.0
        passed = expected = 0.0
        for n in range(1, self.max_samples + 1):
            expected += mass.sum()  # every path still running draws sample n
            moved = np.zeros_like(mass)
            moved[1 : n + 1] += mass[:n] * p
            moved[:n] += mass[:n] * (1 - p)
            passed += moved[passes[n] : n + 1].sum()
            moved[passes[n] : n + 1] = 0.0
            moved[: fails[n] + 1] = 0.0
            mass = moved
        return float(passed), float(expected), mass

    def _errors(self, upper: float, lower: float) -> tuple[float, float, int]:
        """Exact (alpha', beta') with these thresholds, and the final cut that balances them:
        the one with the smallest worse relative error, ``max(alpha' / alpha, beta' / beta)``."""
        bounds = self._bounds(upper, lower)
        good_early, _, good = self._run(self.p_good, bounds)
        bad_early, _, bad = self._run(self.p_bad, bounds)
        good_fail_early = 1.0 - good_early - good.sum()
        fail_below = np.concatenate([[0.0], np.cumsum(good)])  # P(undecided, k < cut) at good
        pass_from = np.concatenate([np.cumsum(bad[::-1])[::-1], [0.0]])  # P(undecided, k >= cut)
        alphas = good_fail_early + fail_below
        betas = bad_early + pass_from
        cut = int(np.argmin(np.maximum(alphas / self.alpha, betas / self.beta)))
        return float(alphas[cut]), float(betas[cut]), cut

    @cached_property
    def _calibrated(self) -> tuple[float, float, int, float, float]:
        """Wald's thresholds widened, side by side, until the exact error rates meet the
        targets (Wald's bounds are approximate, and truncation adds error); when
        ``max_samples`` is too small for that, the widening with the smallest worse relative
        error."""
        wald_upper, wald_lower = self.wald_bounds
        widen_up = widen_down = 0.0
        best: tuple[float, float, int, float, float] | None = None
        best_score = math.inf
        stale = 0
        for _ in range(60):
            upper, lower = wald_upper + widen_up, wald_lower - widen_down
            alpha, beta, cut = self._errors(upper, lower)
            score = max(alpha / self.alpha, beta / self.beta)
            if score < best_score - 1e-12:
                best, best_score, stale = (upper, lower, cut, alpha, beta), score, 0
            else:
                stale += 1
            if score <= 1.0 + 1e-12 or stale >= 6:
                break
            if beta > self.beta:
                widen_up += 0.1
            if alpha > self.alpha:
                widen_down += 0.1
        assert best is not None
        return best

    def operating_point(self, p: float) -> OperatingPoint:
        """The exact probability of passing and the expected samples at pass rate ``p``."""
        passed, expected, undecided = self._run(p, self._bounds(self.upper, self.lower))
        passed += float(undecided[self.final_cut :].sum())
        return OperatingPoint(p, min(1.0, passed), expected)

    @property
    def error_rates(self) -> tuple[float, float]:
        """The exact ``(alpha, beta)`` this plan achieves: failing at ``p_good``, passing at
        ``p_bad`` (above the targets when ``max_samples`` is too small for them)."""
        return self._calibrated[3], self._calibrated[4]

    @property
    def meets_targets(self) -> bool:
        alpha, beta = self.error_rates
        return alpha <= self.alpha + 1e-12 and beta <= self.beta + 1e-12


def _log_ratio(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if a == 0.0:
        return -math.inf
    if b == 0.0:
        return math.inf
    return math.log(a / b)


def fixed_sample_size(
    p_good: float, p_bad: float, alpha: float, beta: float, limit: int = 100_000
) -> tuple[int, int]:
    """The smallest fixed-sample test with the same error rates: ``(n, cut)``, passing when at
    least ``cut`` of ``n`` samples pass, with P(fail | p_good) <= alpha and
    P(pass | p_bad) <= beta (exact binomial tails)."""
    for n in range(1, limit + 1):
        # The highest cut that fails a good agent at most alpha of the time...
        cut = int(np.count_nonzero(sps.binom.cdf(np.arange(n + 1), n, p_good) <= alpha))
        # ...and whether it passes a bad one at most beta of the time.
        if sps.binom.sf(cut - 1, n, p_bad) <= beta:
            return n, cut
    raise ValueError(f"no fixed-sample test up to {limit} samples")


def samples_needed(
    min_pass_rate: float, margin: float, confidence: float, limit: int = 5_000
) -> int:
    """A ``max_samples`` at which the truncated SPRT meets both error rates: the smallest
    found by doubling from the fixed-sample size, then bisecting."""
    low = 1
    high = max(
        1,
        fixed_sample_size(
            min_pass_rate, max(0.0, min_pass_rate - margin), 1 - confidence, 1 - confidence
        )[0],
    )
    while not SequentialPlan.for_threshold(min_pass_rate, margin, confidence, high).meets_targets:
        high *= 2
        if high > limit:
            raise ValueError(f"more than {limit} samples needed")
    while low < high:
        middle = (low + high) // 2
        plan = SequentialPlan.for_threshold(min_pass_rate, margin, confidence, middle)
        if plan.meets_targets:
            high = middle
        else:
            low = middle + 1
    return low
