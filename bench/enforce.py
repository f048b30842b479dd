"""The enforce tier's cost: IFEval prompts run on the direct arm and on the enforced arm, one
arm at a time on one embedded engine (each arm's requests all in flight), alternating for the
given number of rounds: completion tokens per second of each, their ratio, and the share of
looping replies per arm (``not_degenerate`` with its defaults).

Target (issue: enforce tier): throughput enforced ÷ direct ≥ 0.85. Ends with one JSON line:
``throughput_enforced_over_direct``, ``tok_s`` and ``degenerate_rate`` per arm.

    python bench/enforce.py [PROMPTS] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import resolve_backend
from parlantish.checks.text import DegenerationParams, not_degenerate
from parlantish.eval import Evaluator, load_suite

ROOT = Path(__file__).parents[1]
IFEVAL = ROOT / "examples" / "data" / "ifeval_input_data.jsonl"
ARMS = ("direct", "enforced")


def run_arm(engine, arm: str, prompts: int, out: Path) -> dict[str, float]:
    evaluator = Evaluator(load_suite(IFEVAL), engine, out, arms=[arm], limit=prompts, samples=1)
    started = time.perf_counter()
    store = asyncio.run(evaluator.arun())
    wall = time.perf_counter() - started
    rows = list(store.records.values())
    tokens = sum(r["usage"]["completion_tokens"] for r in rows)
    loops = sum(1 for r in rows if not not_degenerate(r["text"], DegenerationParams())[0])
    return {
        "wall_s": wall,
        "tokens": tokens,
        "tok_s": tokens / wall,
        "loops": loops,
        "rows": len(rows),
        "passed": sum(r["passed"] for r in rows),
    }


def main() -> None:
    prompts = int(sys.argv[1]) if len(sys.argv) > 1 else 48
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    engine = resolve_backend("embedded")
    runs: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_index in range(rounds):
            for arm in ARMS:
                out = Path(scratch) / f"{arm}-{round_index}"
                runs[arm].append(run_arm(engine, arm, prompts, out))
    asyncio.run(engine.aclose())
    tok_s = {arm: statistics.median(r["tok_s"] for r in runs[arm]) for arm in ARMS}
    for arm in ARMS:
        last = runs[arm][-1]
        print(
            f"{arm:<9}{tok_s[arm]:>8.1f} tok/s  {last['tokens'] / last['rows']:>6.0f} tokens "
            f"per reply  {last['loops']}/{last['rows']} looping  {last['passed']} passed"
        )
    figures = {
        "prompts": prompts,
        "rounds": rounds,
        "tok_s": {arm: round(tok_s[arm], 1) for arm in ARMS},
        "tokens_per_reply": {
            arm: round(runs[arm][-1]["tokens"] / runs[arm][-1]["rows"], 1) for arm in ARMS
        },
        "throughput_enforced_over_direct": round(tok_s["enforced"] / tok_s["direct"], 3),
        "degenerate_rate": {
            arm: round(runs[arm][-1]["loops"] / runs[arm][-1]["rows"], 3) for arm in ARMS
        },
        "pass_rate": {
            arm: round(runs[arm][-1]["passed"] / runs[arm][-1]["rows"], 3) for arm in ARMS
        },
        "target_throughput_enforced_over_direct": 0.85,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
