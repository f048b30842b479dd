"""Check speed: every IFEval instruction of the 541 prompts on a synthetic response, strict mode,
plus the simple general checks. Target (issue: checks library): >= 20,000 simple checks/s on one
core. Prints the slowest check types, then one JSON line with the figures.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.checks import build_check

DATA = Path(__file__).parents[1] / "examples" / "data" / "ifeval_input_data.jsonl"
# "Simple" checks: string and regex scans, no tokenizer and no language model.
SIMPLE = [
    {"contains": "refund"},
    {"not_contains": "approved"},
    {"not_matches": r"(?i)refund (is|was) approved"},
    "no_comma",
    {"max_words": 200},
    {"starts_with": "Dear"},
    {"ends_with": "Thanks."},
    "quoted",
    {"forbidden_words": ["refund", "guarantee"]},
    {"bullets_count": {"at_most": 5}},
]


def synthetic_response(prompt: str) -> str:
    """A plausible answer: the prompt restated, a list, a postscript, ~150 words."""
    body = " ".join(prompt.split()[:60])
    return (
        f"Dear reader,\n\n{body}\n\n* first point about it\n* second point\n\n"
        f"**Summary** {body[:200]}\n\nP.S. Thanks."
    )


def main() -> None:
    records = [json.loads(line) for line in DATA.read_text().splitlines()]
    warm_started = time.perf_counter()
    seen: set[str] = set()
    for record in records:  # first use loads NLTK's Punkt and langdetect's profiles: not timed
        for instruction_id, kwargs in zip(
            record["instruction_id_list"], record["kwargs"], strict=True
        ):
            if instruction_id not in seen:
                seen.add(instruction_id)
                build_check({instruction_id: {k: v for k, v in kwargs.items() if v is not None}})(
                    "warm up"
                )
    warm_up_s = time.perf_counter() - warm_started
    per_type: dict[str, list[float]] = defaultdict(list)
    started = time.perf_counter()
    ifeval_checks = 0
    for record in records:
        response = synthetic_response(record["prompt"])
        for instruction_id, kwargs in zip(
            record["instruction_id_list"], record["kwargs"], strict=True
        ):
            check = build_check(
                {instruction_id: {k: v for k, v in kwargs.items() if v is not None}}
            )
            t0 = time.perf_counter()
            check(response)
            per_type[instruction_id].append(time.perf_counter() - t0)
            ifeval_checks += 1
    ifeval_elapsed = time.perf_counter() - started
    simple = [build_check(spec) for spec in SIMPLE]
    responses = [synthetic_response(r["prompt"]) for r in records]
    started = time.perf_counter()
    for response in responses:
        for check in simple:
            check(response)
    simple_elapsed = time.perf_counter() - started
    simple_checks = len(responses) * len(simple)
    slowest = sorted(per_type.items(), key=lambda item: -statistics.mean(item[1]))[:5]
    figures = {
        "warm_up_s": round(warm_up_s, 2),
        "ifeval_checks": ifeval_checks,
        "ifeval_checks_per_s": round(ifeval_checks / ifeval_elapsed),
        "simple_checks": simple_checks,
        "simple_checks_per_s": round(simple_checks / simple_elapsed),
        "target_simple_checks_per_s": 20000,
        "slowest_types_ms": {
            name: round(statistics.mean(times) * 1000, 3) for name, times in slowest
        },
    }
    print(f"warm-up (loading NLTK Punkt and langdetect profiles): {figures['warm_up_s']} s")
    print(f"IFEval: {ifeval_checks} checks, {figures['ifeval_checks_per_s']}/s")
    print(f"simple: {simple_checks} checks, {figures['simple_checks_per_s']}/s (target >= 20000)")
    for name, ms in figures["slowest_types_ms"].items():
        print(f"  slowest: {name:<45} {ms:8.3f} ms/check")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
