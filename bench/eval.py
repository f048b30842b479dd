"""Evaluator throughput: one suite of 64 requests on the embedded engine, three ways.

1. the evaluator (``Evaluator.arun``: all samples submitted together, results appended to
   results.jsonl, checks and length cuts computed per sample);
2. a raw batched ``vllm.LLM.generate`` of the same compiled requests (same prompts, same
   constraints, same seeds);
3. a sequential loop over the same requests, one at a time (the first SEQUENTIAL requests, its
   throughput compared per token).

Throughput is completion tokens per second. Targets (issue: evaluator): eval/raw >= 0.9 and
eval/sequential >= 8. Ends with one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import resolve_backend
from parlantish.eval import Evaluator, load_suite

ROOT = Path(__file__).parents[1]
SCENARIOS = 32  # x 2 arms = 64 requests
SEQUENTIAL = 12
SUITE = f"""
suite: bench-eval
include: [{ROOT / "examples" / "data" / "ifeval_input_data.jsonl"}]
arms: [direct, blueprint]
samples: 1
sampling: {{temperature: 0.7, top_p: 0.95}}
segments: {{count: {{min: 1, max: 2}}, max_tokens: 32, recall: [rules]}}
concurrency: 256
"""


def run_evaluator(engine, suite, out) -> tuple[float, int]:
    evaluator = Evaluator(suite, engine, out, limit=SCENARIOS)
    started = time.perf_counter()
    store = asyncio.run(evaluator.arun())
    elapsed = time.perf_counter() - started
    return elapsed, sum(r["usage"]["completion_tokens"] for r in store.records.values())


def run_raw(engine, requests) -> tuple[float, int]:
    prompts = [{"prompt_token_ids": engine.render_prompt(r)} for r in requests]
    params = [engine.sampling_params(r) for r in requests]
    started = time.perf_counter()
    outputs = engine.llm.generate(prompts, params, use_tqdm=False)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(o.outputs[0].token_ids) for o in outputs)


def run_sequential(engine, requests) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = 0
    for request in requests:
        tokens += engine.generate(request).usage.completion_tokens
    return time.perf_counter() - started, tokens


def main() -> None:
    engine = resolve_backend("embedded")
    with tempfile.TemporaryDirectory() as scratch:
        suite_path = Path(scratch) / "suite.yaml"
        suite_path.write_text(SUITE)
        suite = load_suite(suite_path)
        requests = [
            item.plan.request(item.sampling)
            for item in Evaluator(suite, engine, scratch, limit=SCENARIOS).plan()
        ]
        run_raw(engine, requests[:2])  # warm-up: grammar compilation, caches
        results = {
            "raw": run_raw(engine, requests),
            "eval": run_evaluator(engine, suite, Path(scratch) / "out"),
            "sequential": run_sequential(engine, requests[:SEQUENTIAL]),
        }
    speed = {name: tokens / elapsed for name, (elapsed, tokens) in results.items()}
    figures = {
        "requests": len(requests),
        "sequential_requests": SEQUENTIAL,
        "eval_s": round(results["eval"][0], 1),
        "raw_s": round(results["raw"][0], 1),
        "eval_tok_s": round(speed["eval"], 1),
        "raw_tok_s": round(speed["raw"], 1),
        "sequential_tok_s": round(speed["sequential"], 1),
        "eval_over_raw": round(speed["eval"] / speed["raw"], 3),
        "eval_over_sequential": round(speed["eval"] / speed["sequential"], 2),
        "target_eval_over_raw": 0.9,
        "target_eval_over_sequential": 8,
    }
    for name in ("eval", "raw", "sequential"):
        elapsed, tokens = results[name]
        print(f"{name:<11} {tokens:>6} tokens in {elapsed:7.1f} s = {speed[name]:7.1f} tok/s")
    print(
        f"eval/raw: {figures['eval_over_raw']} (target >= 0.9); "
        f"eval/sequential: {figures['eval_over_sequential']}x (target >= 8x)"
    )
    print(json.dumps(figures))
    engine.close()


if __name__ == "__main__":
    main()
