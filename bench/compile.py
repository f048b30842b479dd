"""Compile speed: a 20-checkpoint blueprint, first compile and cached compile; and the
enforced arm on IFEval's prompts: compile time per prompt (p50, p99) and the share of IFEval
instructions the constraint enforces (per instruction type too).

Targets (issue: blueprint language and compiler): cached < 1 ms, first compile < 50 ms.
Prints a table, then one JSON line with the figures. Pure CPU, no engine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from parlantish.blueprint import load_blueprint_text
from parlantish.compiler import clear_cache, compile_plan
from parlantish.eval.ifeval_import import load_ifeval_scenarios

IFEVAL = Path(__file__).parents[1] / "examples" / "data" / "ifeval_input_data.jsonl"

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
    if IFEVAL.exists():
        figures |= ifeval_enforced(IFEVAL)
        print(
            f"{'IFEval enforced compile':<28}{figures['ifeval_compile_p50_ms']:>10.2f} ms p50, "
            f"{figures['ifeval_compile_p99_ms']:.2f} ms p99 ({figures['ifeval_prompts']} prompts)"
        )
        print(
            f"{'IFEval instructions enforced':<28}{figures['ifeval_enforced_share']:>10.3f}"
            f"   ({figures['ifeval_enforced']} of {figures['ifeval_instructions']}; "
            f"{figures['ifeval_shaped_in_part']} more shaped in part; "
            f"{figures['ifeval_prompts_fully_enforced']} prompts fully enforced)"
        )
        for name, (done, total) in sorted(figures["ifeval_by_type"].items()):
            print(f"  {name:<44}{done:>4} / {total:<4}", file=sys.stderr)
    print(json.dumps(figures))


def ifeval_enforced(path: Path) -> dict[str, object]:
    """Each IFEval prompt compiled for the enforced arm (first compile, cache cleared)."""
    scenarios = load_ifeval_scenarios(path)
    times: list[float] = []
    by_type: Counter[str] = Counter()
    total: Counter[str] = Counter()
    in_part = whole = 0
    for scenario in scenarios:
        clear_cache()
        started = time.perf_counter()
        plan = compile_plan(
            scenario.blueprint,
            scenario.variables,
            scenario.messages,
            arm="enforced",
            checks=list(scenario.checks),
        )
        times.append((time.perf_counter() - started) * 1000)
        held = [plan.enforcement.holds(i, c.name) for i, c in enumerate(scenario.checks)]
        for check, holds in zip(scenario.checks, held, strict=True):
            total[check.type.name] += 1
            by_type[check.type.name] += holds
        whole += all(held)
        in_part += sum(d.why.startswith("in part:") for d in plan.enforcement.decisions)
    cuts = statistics.quantiles(times, n=100)
    return {
        "ifeval_prompts": len(scenarios),
        "ifeval_compile_p50_ms": round(statistics.median(times), 3),
        "ifeval_compile_p99_ms": round(cuts[98], 3),
        "ifeval_instructions": sum(total.values()),
        "ifeval_enforced": sum(by_type.values()),
        "ifeval_enforced_share": round(sum(by_type.values()) / max(1, sum(total.values())), 4),
        "ifeval_prompts_fully_enforced": whole,
        "ifeval_shaped_in_part": in_part,
        "ifeval_by_type": {name: [by_type[name], total[name]] for name in total},
    }


if __name__ == "__main__":
    main()
