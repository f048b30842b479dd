"""Backend overhead: parlantish's engine backend vs calling ``vllm.LLM.generate`` directly, and
constrained vs unconstrained, 16 concurrent requests on the embedded model.

The same prompts (chat-templated token ids), greedy, so both paths generate the same tokens.
Runs are interleaved over several rounds (the machine is noisy) and throughputs compared side by
side. Targets (issue: foundation): parlantish/raw >= 0.97. Ends with one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings, resolve_backend

CONCURRENT = 16
MAX_TOKENS = 96
ROUNDS = 3
SCHEMA = {
    "type": "object",
    "properties": {
        "recall": {"const": "Never promise a refund; offer to escalate to a human instead."},
        "refund_asked": {"type": "boolean"},
        "reply": {"type": "string", "maxLength": 200},
    },
    "required": ["recall", "refund_asked", "reply"],
    "additionalProperties": False,
}
QUESTIONS = [
    "Can I get my money back?",
    "My order arrived broken.",
    "How do I change my password?",
    "You charged me twice!",
    "Is there a student discount?",
    "Cancel my subscription now.",
    "The app crashes on start.",
    "Where is my invoice?",
]


def requests(constrained: bool) -> list[GenerationRequest]:
    constraint = Constraint.json_schema(SCHEMA) if constrained else None
    return [
        GenerationRequest(
            messages=[
                {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)] + f" (ticket {i})"}
            ],
            sampling=SamplingSettings(max_tokens=MAX_TOKENS, temperature=0.0),
            constraint=constraint,
        )
        for i in range(CONCURRENT)
    ]


def run_parlantish(engine, batch) -> tuple[float, int]:
    started = time.perf_counter()
    results = engine.generate_many(batch)
    elapsed = time.perf_counter() - started
    return elapsed, sum(r.usage.completion_tokens for r in results)


def run_raw(engine, batch) -> tuple[float, int]:
    prompts = [{"prompt_token_ids": engine.render_prompt(r)} for r in batch]
    params = [engine.sampling_params(r) for r in batch]
    started = time.perf_counter()
    outputs = engine.llm.generate(prompts, params, use_tqdm=False)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(o.outputs[0].token_ids) for o in outputs)


def main() -> None:
    engine = resolve_backend("embedded")
    batches = {False: requests(False), True: requests(True)}
    run_parlantish(engine, batches[True][:2])  # warm-up: first grammar compile, caches
    run_raw(engine, batches[True][:2])
    throughput: dict[str, list[float]] = {
        k: [] for k in ("raw", "parlantish", "raw_c", "parlantish_c")
    }
    for round_index in range(ROUNDS):
        order = [("raw", run_raw), ("parlantish", run_parlantish)]
        if round_index % 2:
            order.reverse()
        for constrained in (False, True):
            for name, runner in order:
                elapsed, tokens = runner(engine, batches[constrained])
                throughput[name + ("_c" if constrained else "")].append(tokens / elapsed)
    median = {k: statistics.median(v) for k, v in throughput.items()}
    figures = {
        "concurrent": CONCURRENT,
        "max_tokens": MAX_TOKENS,
        "rounds": ROUNDS,
        "raw_tok_s": round(median["raw"], 1),
        "parlantish_tok_s": round(median["parlantish"], 1),
        "raw_constrained_tok_s": round(median["raw_c"], 1),
        "parlantish_constrained_tok_s": round(median["parlantish_c"], 1),
        "parlantish_over_raw": round(median["parlantish"] / median["raw"], 3),
        "parlantish_over_raw_constrained": round(median["parlantish_c"] / median["raw_c"], 3),
        "constrained_over_unconstrained": round(median["parlantish_c"] / median["parlantish"], 3),
        "target_parlantish_over_raw": 0.97,
    }
    print(f"{'':<34}{'tok/s':>10}")
    for label, key in (
        ("raw vllm.LLM.generate", "raw_tok_s"),
        ("parlantish VLLMEngine", "parlantish_tok_s"),
        ("raw, JSON schema", "raw_constrained_tok_s"),
        ("parlantish, JSON schema", "parlantish_constrained_tok_s"),
    ):
        print(f"{label:<34}{figures[key]:>10.1f}")
    print(
        f"parlantish/raw: {figures['parlantish_over_raw']} (constrained: "
        f"{figures['parlantish_over_raw_constrained']}), target >= 0.97; "
        f"constrained/unconstrained: {figures['constrained_over_unconstrained']}"
    )
    print(json.dumps(figures))
    engine.close()


if __name__ == "__main__":
    main()
