"""Compile speed: a 20-checkpoint blueprint, first compile and cached compile.

Targets (issue: blueprint language and compiler): cached < 1 ms, first compile < 50 ms.
Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import json
import statistics
import time

from parlantish.blueprint import load_blueprint_text
from parlantish.compiler import clear_cache, compile_plan

CHECKPOINTS = 20
ROUNDS = 50


def blueprint_text(checkpoints: int) -> str:
    lines = ["blueprint: bench", "variables:", "  name: {type: string}", "instructions:"]
    lines += [
        f"  rule{i}: Rule number {i} applies to {{{{ name }}}} in every reply."
        for i in range(checkpoints)
    ]
    lines += ["system: You are a careful agent serving {{ name }}.", "checkpoints:"]
    for i in range(checkpoints):
        answer = [
            "{type: boolean}",
            "{type: string, max_length: 100}",
            "{type: enum, values: [a, b, c]}",
            "{type: integer, minimum: 0, maximum: 9}",
        ][i % 4]
        lines += [
            f"  - id: c{i}",
            f"    recall: [rule{i}, rule{(i + 1) % checkpoints}]",
            f"    ask: Does rule {i} apply to {{{{ name }}}}?",
            f"    answer: {answer}",
        ]
    lines += ["reply:", "  recall: [rule0]", "  max_length: 400"]
    return "\n".join(lines) + "\n"


def timed(function, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    text = blueprint_text(CHECKPOINTS)
    messages = [{"role": "user", "content": "Hello"}]
    load_ms = timed(lambda: load_blueprint_text(text), 10)
    blueprint = load_blueprint_text(text)
    compile_plan(blueprint, {"name": "warm-up"}, messages)  # import-time work out of the way

    def first() -> None:
        clear_cache()
        compile_plan(blueprint, {"name": "Dana"}, messages)

    first_ms = timed(first, ROUNDS)
    compile_plan(blueprint, {"name": "Dana"}, messages)
    cached_ms = timed(lambda: compile_plan(blueprint, {"name": "Dana"}, messages), ROUNDS * 20)
    figures = {
        "checkpoints": CHECKPOINTS,
        "load_ms": round(statistics.median(load_ms), 3),
        "first_compile_ms": round(statistics.median(first_ms), 3),
        "first_compile_p90_ms": round(statistics.quantiles(first_ms, n=10)[-1], 3),
        "cached_compile_ms": round(statistics.median(cached_ms), 4),
        "cached_compile_p90_ms": round(statistics.quantiles(cached_ms, n=10)[-1], 4),
        "first_compile_target_ms": 50,
        "cached_compile_target_ms": 1,
    }
    print(f"{'load (parse + validate)':<28}{figures['load_ms']:>10.2f} ms")
    print(f"{'first compile (median)':<28}{figures['first_compile_ms']:>10.2f} ms   target < 50")
    print(f"{'cached compile (median)':<28}{figures['cached_compile_ms']:>10.4f} ms   target < 1")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
