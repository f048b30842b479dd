"""Guard overhead: 16 concurrent guarded calls vs the same compiled requests sent straight to the
backend, on the embedded engine; and the Guard's own cost per call with generation taken out
(a scripted backend answering instantly). Targets (issue: guard runtime): guard/raw throughput
>= 0.95, overhead < 2 ms per call. Ends with one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish import Guard
from parlantish.backends import SamplingSettings, ScriptedBackend, resolve_backend

TRIAGE = Path(__file__).parents[1] / "blueprints" / "ticket-triage.yaml"
CONCURRENT = 16
ROUNDS = 2
TICKETS = [
    "The invoice total is wrong.",
    "Nobody can log in.",
    "Exports are very slow.",
    "Our API key leaked.",
    "A project vanished.",
    "Billing charged twice.",
    "The app crashes on start.",
    "Search is slow.",
]


def calls() -> list[tuple[list[dict[str, str]], None]]:
    return [
        ([{"role": "user", "content": f"Ticket {i}: {TICKETS[i % len(TICKETS)]}"}], None)
        for i in range(CONCURRENT)
    ]


def overhead_ms(guard_for_plans: Guard) -> float:
    """Median ms per guarded call when generation is instant (compile, parse, checks, result)."""
    plan = guard_for_plans.plan(calls()[0][0])

    def valid(schema: dict) -> object:
        return False if schema.get("type") == "boolean" else schema.get("enum", ["x"])[0]

    answer = {
        c.id: {
            **({"recall": dict(c.recall)} if c.recall else {}),
            "ask": c.ask,
            "answer": valid(c.answer_schema),
        }
        for c in plan.checkpoints
    }
    answer["reply"] = {"category": "billing", "severity": "low", "reason": "wrong total"}
    guard = Guard(TRIAGE, ScriptedBackend([json.dumps(answer)], cycle=True, validate=False))
    message = calls()[0][0]
    guard.reply(message)
    samples = []
    for _ in range(300):
        started = time.perf_counter()
        guard.reply(message)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    engine = resolve_backend("embedded")
    guard = Guard(TRIAGE, engine, then="return", retries=0, temperature=0.0)
    requests = [
        guard.plan(messages).request(SamplingSettings(max_tokens=guard.plan(messages).max_tokens))
        for messages, _ in calls()
    ]
    engine.generate_many(requests[:2])  # warm-up
    guard_tok_s, raw_tok_s = [], []
    for round_index in range(ROUNDS):
        order = ["raw", "guard"] if round_index % 2 == 0 else ["guard", "raw"]
        for which in order:
            started = time.perf_counter()
            if which == "raw":
                results = engine.generate_many(requests)
                tokens = sum(r.usage.completion_tokens for r in results)
                raw_tok_s.append(tokens / (time.perf_counter() - started))
            else:
                replies = guard.reply_many(calls())
                tokens = sum(r.usage.completion_tokens for r in replies)
                guard_tok_s.append(tokens / (time.perf_counter() - started))
    figures = {
        "concurrent": CONCURRENT,
        "raw_tok_s": round(statistics.median(raw_tok_s), 1),
        "guard_tok_s": round(statistics.median(guard_tok_s), 1),
        "guard_over_raw": round(statistics.median(guard_tok_s) / statistics.median(raw_tok_s), 3),
        "overhead_ms_per_call": round(overhead_ms(guard), 3),
        "target_guard_over_raw": 0.95,
        "target_overhead_ms": 2.0,
    }
    print(
        f"raw backend {figures['raw_tok_s']} tok/s, guarded {figures['guard_tok_s']} tok/s: "
        f"guard/raw {figures['guard_over_raw']} (target >= 0.95)"
    )
    print(
        f"guard overhead without generation: {figures['overhead_ms_per_call']} ms/call (target < 2)"
    )
    print(json.dumps(figures))
    engine.close()


if __name__ == "__main__":
    main()
