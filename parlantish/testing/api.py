"""Consistency tests in code: ``assert_consistent``, ``consistency`` and ``compare``, with
async variants. Every sample is one attempt of the attempt pipeline; the verdict is the
sequential test's (``parlantish.eval.sequential``)."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from parlantish.backends import Backend
from parlantish.backends.base import LoopThread
from parlantish.blueprint import Blueprint, load_blueprint
from parlantish.checks import Check, build_checks
from parlantish.compiler import Plan, compile_plan
from parlantish.core import SamplingSettings
from parlantish.eval.sequential import SequentialPlan
from parlantish.eval.stats import mcnemar_exact, paired_bootstrap_ci, wilson_interval
from parlantish.testing.result import CompareResult, ConsistencyResult, judge_agreement
from parlantish.testing.sampling import sample_fixed, sample_seed, sample_until_decided
from parlantish.testing.settings import active

__all__ = [
    "ConsistencyError",
    "aassert_consistent",
    "acompare",
    "aconsistency",
    "assert_consistent",
    "compare",
    "consistency",
    "run_blocking",
    "run_consistency",
]

T = TypeVar("T")
Messages = Sequence[Mapping[str, Any]]
_loop: LoopThread | None = None


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code (also from inside a running event loop)."""
    global _loop
    if _loop is None:
        _loop = LoopThread()
    return _loop.run(coro)


def _blueprint(blueprint: Blueprint | str | Path) -> Blueprint:
    return blueprint if isinstance(blueprint, Blueprint) else load_blueprint(blueprint)


def _checks(blueprint: Blueprint, checks: Sequence[Any] | None) -> list[Check]:
    """The blueprint's own checks, then ``checks`` (the files' check syntax)."""
    return build_checks([*blueprint.spec.checks, *(checks or [])])


def _sampling(temperature: float, max_tokens: int | None, plan_max: int) -> SamplingSettings:
    return SamplingSettings(temperature=temperature, max_tokens=max_tokens or plan_max)


async def aconsistency(
    blueprint: Blueprint | str | Path,
    messages: Messages,
    *,
    variables: Mapping[str, Any] | None = None,
    checks: Sequence[Any] | None = None,
    samples: int = 20,
    min_pass_rate: float = 0.8,
    confidence: float = 0.95,
    margin: float = 0.1,
    arm: str = "blueprint",
    temperature: float = 0.7,
    max_tokens: int | None = None,
    seed: int | None = None,
    backend: str | Backend | None = None,
    concurrency: int = 4,
) -> ConsistencyResult:
    """Sample ``blueprint`` on ``messages`` until the sequential test decides whether its pass
    rate reaches ``min_pass_rate`` (at most ``samples``, overridden by the run's
    ``--parlantish-samples``), and return the typed result.

    ``checks`` are added to the blueprint's own. The test fails an agent whose pass rate is
    ``min_pass_rate - margin`` or less, and passes one at ``min_pass_rate`` or more, each with
    probability at least ``confidence`` when ``samples`` suffices
    (``parlantish.eval.sequential.samples_needed``); the result states the error rates it
    actually has. Seeds derive from ``seed`` (default: the run's ``--parlantish-seed``)."""
    settings = active()
    loaded = _blueprint(blueprint)
    plan = compile_plan(loaded, variables, messages, arm=arm)
    maximum = settings.samples or samples
    base = seed if seed is not None else settings.seed or 0
    return await run_consistency(
        plan,
        settings.resolve(backend),
        _sampling(temperature, max_tokens, plan.max_tokens),
        _checks(loaded, checks),
        SequentialPlan.for_threshold(min_pass_rate, margin, confidence, maximum),
        [sample_seed(base, index) for index in range(maximum)],
        seed=base,
        label=f"{plan.blueprint_name} ({arm})",
        concurrency=concurrency,
    )


async def run_consistency(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    sequential: SequentialPlan,
    seeds: Sequence[int],
    *,
    seed: int,
    label: str,
    concurrency: int = 4,
) -> ConsistencyResult:
    """Sample ``plan`` on ``seeds`` until ``sequential`` decides; the typed result."""
    sampled = await sample_until_decided(
        plan, backend, sampling, checks, sequential, seeds, concurrency=concurrency
    )
    attempts = sampled.attempts
    judged = [a for a in attempts if a.error_kind != "backend"]
    passed = sum(a.passed for a in judged)
    error = next((a.error for a in attempts if a.error_kind == "backend"), None)
    return ConsistencyResult(
        verdict=sampled.verdict or "error",
        pass_rate=passed / len(judged) if judged else 0.0,
        passed_samples=passed,
        samples_used=len(judged),
        max_samples=sequential.max_samples,
        generated=sampled.generated,
        stopped_early=len(attempts) < sequential.max_samples,
        min_pass_rate=sequential.p_good,
        margin=sequential.p_good - sequential.p_bad,
        confidence=1.0 - sequential.alpha,
        interval=wilson_interval(passed, len(judged), 1.0 - sequential.alpha),
        error_rates=sequential.error_rates,
        seed=seed,
        attempts=attempts,
        judge=judge_agreement(judged),
        error=error,
        label=label,
    )


def consistency(
    blueprint: Blueprint | str | Path, messages: Messages, **options: Any
) -> ConsistencyResult:
    """Blocking :func:`aconsistency`."""
    return run_blocking(aconsistency(blueprint, messages, **options))


class ConsistencyError(AssertionError):
    """A consistency assertion failed; ``result`` holds the evidence."""

    def __init__(self, result: ConsistencyResult):
        self.result = result
        super().__init__(result.message())


async def aassert_consistent(
    blueprint: Blueprint | str | Path, messages: Messages, **options: Any
) -> ConsistencyResult:
    """:func:`aconsistency`, raising ``ConsistencyError`` (an ``AssertionError``) with a
    readable message unless the verdict is a pass."""
    result = await aconsistency(blueprint, messages, **options)
    if not result.passed:
        raise ConsistencyError(result)
    return result


def assert_consistent(
    blueprint: Blueprint | str | Path, messages: Messages, **options: Any
) -> ConsistencyResult:
    """Assert that ``blueprint`` on ``messages`` keeps its pass rate at ``min_pass_rate``
    (sampled until decided; see :func:`aconsistency` for the options)."""
    return run_blocking(aassert_consistent(blueprint, messages, **options))


async def acompare(
    blueprint: Blueprint | str | Path,
    messages: Messages,
    *,
    arms: tuple[str, str] = ("blueprint", "direct"),
    other: Blueprint | str | Path | None = None,
    variables: Mapping[str, Any] | None = None,
    checks: Sequence[Any] | None = None,
    samples: int = 20,
    confidence: float = 0.95,
    temperature: float = 0.7,
    max_tokens: int | None = None,
    seed: int | None = None,
    backend: str | Backend | None = None,
    concurrency: int = 4,
) -> CompareResult:
    """Run two arms (by default with and without the blueprint's checkpoints; ``other`` gives
    the second arm another blueprint) on the same seeds, judged by the same checks (the
    first blueprint's own plus ``checks``), and return the paired difference of pass rates."""
    settings = active()
    first = _blueprint(blueprint)
    second = _blueprint(other) if other is not None else first
    count = settings.samples or samples
    base = seed if seed is not None else settings.seed or 0
    seeds = [sample_seed(base, index) for index in range(count)]
    judged_by = _checks(first, checks)
    live = settings.resolve(backend)
    runs = []
    for loaded, arm in zip((first, second), arms, strict=True):
        plan = compile_plan(loaded, variables, messages, arm=arm)
        sampling = _sampling(temperature, max_tokens, plan.max_tokens)
        runs.append(
            await sample_fixed(plan, live, sampling, judged_by, seeds, concurrency=concurrency)
        )
    pairs = [
        (a.passed, b.passed)
        for a, b in zip(*runs, strict=True)
        if a.error_kind != "backend" and b.error_kind != "backend"
    ]
    differences = [float(a) - float(b) for a, b in pairs]
    n = len(pairs)
    only_a = sum(a and not b for a, b in pairs)
    only_b = sum(b and not a for a, b in pairs)
    rate_a = sum(a for a, _ in pairs) / n if n else 0.0
    rate_b = sum(b for _, b in pairs) / n if n else 0.0
    names = (arms[0], arms[1] if other is None else f"{arms[1]}:{second.spec.blueprint}")
    return CompareResult(
        arms=names,
        samples=n,
        pass_rates=(rate_a, rate_b),
        difference=rate_a - rate_b,
        interval=paired_bootstrap_ci(differences, confidence) if differences else (-1.0, 1.0),
        p_value=mcnemar_exact(only_a, only_b),
        only_a=only_a,
        only_b=only_b,
        confidence=confidence,
        seeds=seeds,
        attempts=(runs[0], runs[1]),
        errors=count - n,
    )


def compare(blueprint: Blueprint | str | Path, messages: Messages, **options: Any) -> CompareResult:
    """Blocking :func:`acompare`."""
    return run_blocking(acompare(blueprint, messages, **options))
