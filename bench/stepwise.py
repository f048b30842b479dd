"""Stepwise execution against fused: the long-form writer blueprint, 8 topics x 2 samples,
16 concurrent, on the embedded engine; arms fused, stepwise (remind only) and repair (stepwise
with resampling of failing segments), with the same seeds and segment settings, rounds side by
side (the arm order alternates between rounds). Targets (issue: stepwise generation):
stepwise_vs_fused_wall <= 0.7; decode_per_visible.stepwise <= 1.3 (aim 1.15) and below fused;
pass_rate.repair >= 0.95. Ends with one JSON line.

decode_per_visible: completion tokens decoded over all steps and attempts / tokens of the
visible reply (the engine's tokenizer). prefix_cache_hit_rate: the engine's prefix-cache hits /
queries over the stepwise and repair rounds (null when the engine exposes no counters).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import resolve_backend
from parlantish.blueprint import load_blueprint
from parlantish.checks import build_checks
from parlantish.compiler import compile_plan
from parlantish.core import SamplingSettings
from parlantish.runtime.attempt import run_attempt

WRITER = Path(__file__).parents[1] / "blueprints" / "longform-writer.yaml"
TOPICS = [
    "why the sea has tides",
    "how bees make honey",
    "why the sky is blue",
    "how a fridge keeps food cold",
    "why leaves change colour",
    "how vaccines train the body",
    "why bread rises",
    "how a rainbow forms",
]
SAMPLES = 2
CONCURRENT = 16
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
ARMS = ("blueprint", "stepwise", "repair")  # blueprint = fused
NAMES = {"blueprint": "fused", "stepwise": "stepwise", "repair": "repair"}


def prefix_cache_counts(engine) -> tuple[float, float] | None:
    try:
        metrics = engine.llm.get_metrics()
    except Exception:  # stats disabled on this engine
        return None
    hits = queries = 0.0
    for metric in metrics:
        if metric.name == "vllm:prefix_cache_hits":
            hits += getattr(metric, "value", 0.0)
        elif metric.name == "vllm:prefix_cache_queries":
            queries += getattr(metric, "value", 0.0)
    return (hits, queries) if queries else None


async def run_arm(engine, blueprint, checks, arm: str) -> tuple[float, list]:
    plans = [
        compile_plan(
            blueprint, {"topic": topic}, [{"role": "user", "content": "Write it."}], arm=arm
        )
        for topic in TOPICS
    ]
    jobs = [(plan, sample) for plan in plans for sample in range(SAMPLES)]
    limit = asyncio.Semaphore(CONCURRENT)

    async def one(plan, sample):
        sampling = SamplingSettings(
            temperature=0.7, top_p=0.95, seed=1000 + sample, max_tokens=plan.max_tokens
        )
        async with limit:
            return await run_attempt(plan, engine, sampling, checks)

    started = time.perf_counter()
    attempts = await asyncio.gather(*(one(plan, sample) for plan, sample in jobs))
    return time.perf_counter() - started, attempts


def main() -> None:
    # Stats on: the engine's prefix-cache counters are kept only then.
    engine = resolve_backend("embedded", disable_log_stats=False)
    tokenizer = engine.llm.get_tokenizer()
    blueprint = load_blueprint(WRITER)
    checks = build_checks(blueprint.spec.checks)
    walls: dict[str, list[float]] = {arm: [] for arm in ARMS}
    decoded = dict.fromkeys(ARMS, 0)
    visible = dict.fromkeys(ARMS, 0)
    passed = dict.fromkeys(ARMS, 0)
    judged = dict.fromkeys(ARMS, 0)
    repairs = dict.fromkeys(ARMS, 0)
    cache_before = prefix_cache_counts(engine)
    asyncio.run(run_arm(engine, blueprint, checks, "stepwise"))  # warm-up, not counted
    for round_index in range(ROUNDS):
        order = ARMS if round_index % 2 == 0 else tuple(reversed(ARMS))
        for arm in order:
            wall, attempts = asyncio.run(run_arm(engine, blueprint, checks, arm))
            walls[arm].append(wall)
            for attempt in attempts:
                decoded[arm] += attempt.usage.completion_tokens
                visible[arm] += len(tokenizer.encode(attempt.text or "", add_special_tokens=False))
                judged[arm] += attempt.error_kind != "backend"
                passed[arm] += attempt.passed
                repairs[arm] += len(attempt.repairs)
            print(
                f"round {round_index + 1} {NAMES[arm]:>8}: {wall:6.1f} s, "
                f"{sum(a.passed for a in attempts)}/{len(attempts)} passed"
            )
    cache_after = prefix_cache_counts(engine)
    hit_rate = None
    if cache_before is not None and cache_after is not None:
        queries = cache_after[1] - cache_before[1]
        hit_rate = (cache_after[0] - cache_before[0]) / queries if queries else None
    wall = {arm: statistics.median(values) for arm, values in walls.items()}
    figures = {
        "stepwise_vs_fused_wall": wall["stepwise"] / wall["blueprint"],
        "repair_vs_fused_wall": wall["repair"] / wall["blueprint"],
        "decode_per_visible": {NAMES[a]: decoded[a] / max(visible[a], 1) for a in ARMS},
        "pass_rate": {NAMES[a]: passed[a] / max(judged[a], 1) for a in ARMS},
        "repairs_per_reply": {NAMES[a]: repairs[a] / max(judged[a], 1) for a in ARMS},
        "prefix_cache_hit_rate": hit_rate,
        "wall_s": {NAMES[a]: wall[a] for a in ARMS},
        "samples_per_arm_round": len(TOPICS) * SAMPLES,
        "rounds": ROUNDS,
    }
    print(json.dumps(figures))
    engine.close()


if __name__ == "__main__":
    main()
