"""Sampling a plan until the sequential test decides: every sample is one attempt of the
pipeline, drawn a few at a time so the backend can batch them, judged in seed order."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from parlantish.backends import Backend
from parlantish.checks import Check
from parlantish.compiler import Plan
from parlantish.core import SamplingSettings
from parlantish.eval.sequential import SequentialPlan, Verdict
from parlantish.runtime.attempt import Transport, run_attempt
from parlantish.runtime.result import Attempt

__all__ = ["Sampled", "sample_fixed", "sample_seed", "sample_until_decided"]


def sample_seed(*parts: Any) -> int:
    """A sample's seed from its parts, derived as the evaluator derives its own (a suite's
    seed, scenario, length and sample give the same seed as ``parlantish eval``)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Sampled:
    """The attempts the verdict rests on, in seed order, and what was drawn beyond them."""

    attempts: list[Attempt]
    verdict: Verdict | None  # None: a generation failed
    generated: int


async def _draw(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    seeds: Sequence[int],
    indices: range,
) -> list[Attempt]:
    return list(
        await asyncio.gather(
            *(
                run_attempt(
                    plan,
                    backend,
                    sampling.model_copy(update={"seed": seeds[i]}),
                    checks,
                    index=i,
                    transport=Transport(retries=2, backoff_s=0.2),
                )
                for i in indices
            )
        )
    )


async def sample_until_decided(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    sequential: SequentialPlan,
    seeds: Sequence[int],
    *,
    concurrency: int = 4,
) -> Sampled:
    """Draw samples (``concurrency`` at a time; the first batch as many as any verdict needs)
    and stop at the first prefix, in seed order, on which ``sequential`` decides. A backend
    failure stops sampling with no verdict."""
    attempts: list[Attempt] = []
    generated = 0
    passed = 0
    first = max(concurrency, sequential.first_decidable())
    while generated < sequential.max_samples:
        size = min(first if generated == 0 else concurrency, sequential.max_samples - generated)
        batch = await _draw(
            plan, backend, sampling, checks, seeds, range(generated, generated + size)
        )
        generated += size
        for attempt in batch:
            attempts.append(attempt)
            if attempt.error_kind == "backend":
                return Sampled(attempts, None, generated)
            passed += attempt.passed
            verdict = sequential.decide(passed, len(attempts))
            if verdict is not None:
                return Sampled(attempts, verdict, generated)
    raise AssertionError("the sequential plan decides at max_samples")


async def sample_fixed(
    plan: Plan,
    backend: Backend,
    sampling: SamplingSettings,
    checks: Sequence[Check],
    seeds: Sequence[int],
    *,
    concurrency: int = 4,
) -> list[Attempt]:
    """Exactly one attempt per seed, ``concurrency`` at a time, in seed order."""
    attempts: list[Attempt] = []
    for start in range(0, len(seeds), concurrency):
        indices = range(start, min(start + concurrency, len(seeds)))
        attempts.extend(await _draw(plan, backend, sampling, checks, seeds, indices))
    return attempts
