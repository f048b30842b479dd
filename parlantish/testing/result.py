"""What a consistency test returns: typed results, and the message a failed assertion shows."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parlantish.checks.judge import judge_votes
from parlantish.eval.stats import pairwise_agreement
from parlantish.runtime.result import Attempt

__all__ = ["CompareResult", "ConsistencyResult", "JudgeAgreement", "judge_agreement"]

SHOWN_FAILURES = 3


class JudgeAgreement(BaseModel):
    """How often a repeated judge disagreed with itself: over every judged reply, the
    probability that two of its repeats on the same reply differ."""

    model_config = ConfigDict(frozen=True)

    judged: int = 0
    split: int = 0  # replies on which the repeats were not unanimous
    disagreement_rate: float = 0.0


def judge_agreement(attempts: list[Attempt]) -> JudgeAgreement | None:
    """The judges' disagreement over repeats in ``attempts`` (``None``: no repeated judge)."""
    rates = []
    split = 0
    for attempt in attempts:
        for outcome in attempt.checks:
            votes = judge_votes(outcome.detail) if not outcome.deterministic else None
            if votes is None:
                continue
            yes, repeats = votes
            rates.append(1.0 - pairwise_agreement(repeats, yes))
            split += 0 < yes < repeats
    if not rates:
        return None
    return JudgeAgreement(judged=len(rates), split=split, disagreement_rate=sum(rates) / len(rates))


def _failure_line(attempt: Attempt, width: int = 160) -> str:
    if attempt.error_kind != "checks":
        return (
            f"  sample {attempt.index} (seed {attempt.seed}): {attempt.error_kind}: {attempt.error}"
        )
    text = attempt.text or ""
    parts = []
    for outcome in attempt.checks:
        if outcome.passed:
            continue
        where = (
            f" at offset {outcome.first_failure_offset}"
            if outcome.first_failure_offset is not None
            else ""
        )
        detail = f" ({outcome.detail})" if outcome.detail else ""
        parts.append(f"{outcome.name}{where}{detail}")
    shown = text if len(text) <= width else text[: width - 1] + "…"
    return (
        f"  sample {attempt.index} (seed {attempt.seed}) failed {'; '.join(parts)}:\n    {shown!r}"
    )


class ConsistencyResult(BaseModel):
    """The verdict of a consistency test and the evidence for it.

    ``verdict`` is ``pass`` or ``fail`` from the sequential test (``error`` when a generation
    failed: no verdict on the agent). ``samples_used`` is how many samples it took;
    ``error_rates`` are the exact (alpha, beta) the test promises with this many samples at
    most: failing an agent at ``min_pass_rate``, passing one at ``min_pass_rate - margin``.
    ``interval`` is the Wilson interval of the pass rate (descriptive: it does not account for
    the early stop).
    """

    model_config = ConfigDict(frozen=True)

    verdict: Literal["pass", "fail", "error"]
    pass_rate: float
    passed_samples: int
    samples_used: int
    max_samples: int
    generated: int  # samples drawn, including those drawn in parallel after the verdict
    stopped_early: bool
    min_pass_rate: float
    margin: float
    confidence: float
    interval: tuple[float, float]
    error_rates: tuple[float, float]
    seed: int
    attempts: list[Attempt] = Field(repr=False)
    judge: JudgeAgreement | None = None
    error: str | None = None
    label: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failures(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.passed]

    def summary(self) -> str:
        """One line: verdict, rate, interval, samples."""
        low, high = self.interval
        stop = "stopped early" if self.stopped_early else "all samples"
        alpha, beta = self.error_rates
        return (
            f"{self.label + ': ' if self.label else ''}{self.verdict}: pass rate "
            f"{self.pass_rate:.2f} ({self.passed_samples}/{self.samples_used}, "
            f"{self.confidence:.0%} interval {low:.2f}-{high:.2f}) against min_pass_rate "
            f"{self.min_pass_rate:.2f}; {self.samples_used} of at most {self.max_samples} "
            f"samples ({stop}); error rates {alpha:.3f} (failing at {self.min_pass_rate:.2f}), "
            f"{beta:.3f} (passing at {max(0.0, self.min_pass_rate - self.margin):.2f})"
        )

    def message(self) -> str:
        """The readable failure: summary, the judge's disagreement, the failing samples."""
        lines = [self.summary()]
        if self.error:
            lines.append(f"no verdict: a generation failed: {self.error}")
        if self.judge is not None:
            lines.append(
                f"judge disagreement over repeats: {self.judge.disagreement_rate:.2f} "
                f"({self.judge.split} of {self.judge.judged} verdicts split)"
            )
        failures = self.failures
        if failures:
            lines.append(
                f"{len(failures)} failing samples, first {min(len(failures), SHOWN_FAILURES)}:"
            )
            lines.extend(_failure_line(a) for a in failures[:SHOWN_FAILURES])
        return "\n".join(lines)


class CompareResult(BaseModel):
    """Two arms sampled on the same seeds: ``difference`` is rate(a) - rate(b), with a paired
    bootstrap interval and the exact McNemar p-value of the discordant pairs."""

    model_config = ConfigDict(frozen=True)

    arms: tuple[str, str]
    samples: int
    pass_rates: tuple[float, float]
    difference: float
    interval: tuple[float, float]
    p_value: float
    only_a: int  # pairs where only arm a passed
    only_b: int
    confidence: float
    seeds: list[int]
    attempts: tuple[list[Attempt], list[Attempt]] = Field(repr=False)
    errors: int = 0

    def summary(self) -> str:
        low, high = self.interval
        return (
            f"{self.arms[0]} {self.pass_rates[0]:.2f} vs {self.arms[1]} {self.pass_rates[1]:.2f}"
            f" over {self.samples} paired samples: difference {self.difference:+.2f} "
            f"({self.confidence:.0%} interval {low:+.2f} to {high:+.2f}), McNemar p = "
            f"{self.p_value:.3g} ({self.only_a} pairs only {self.arms[0]} passed, "
            f"{self.only_b} only {self.arms[1]})"
        )
