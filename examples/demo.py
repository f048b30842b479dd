"""The demo `make demo` runs: one blueprint, compiled and generated on the embedded model.

It shows the mechanism parlantish is built on: at each checkpoint the model must write the
recalled instructions word for word (forced by constrained decoding) before it answers, and
the reply comes last. The same request without the blueprint (the `direct` arm) is generated
beside it in one batch for comparison.

The consistency evaluation (many samples, with and without blueprints, with statistics) is the
evaluator's job; see the README's roadmap.
"""

from __future__ import annotations

import sys
from pathlib import Path

from parlantish.backends import SamplingSettings, resolve_backend
from parlantish.blueprint import load_blueprint
from parlantish.compiler import compile_plan
from parlantish.errors import ParlantishError

BLUEPRINT = Path(__file__).parents[1] / "blueprints" / "support-refunds.yaml"
CONVERSATION = [
    {"role": "user", "content": "You charged me twice this month. Refund me right now!"}
]
VARIABLES = {"customer_name": "Dana"}


def main() -> int:
    blueprint = load_blueprint(BLUEPRINT)
    plans = {
        arm: compile_plan(blueprint, VARIABLES, CONVERSATION, arm=arm)
        for arm in ("blueprint", "direct")
    }
    print(
        f"blueprint {blueprint.name} ({blueprint.hash}) on the embedded model; "
        "generating both arms..."
    )
    backend = resolve_backend("embedded")
    requests = [
        p.request(SamplingSettings(max_tokens=min(p.max_tokens, 900))) for p in plans.values()
    ]
    results = dict(zip(plans, backend.generate_many(requests), strict=True))
    for arm, result in results.items():
        if isinstance(result, ParlantishError):
            print(f"{arm}: failed: {result}", file=sys.stderr)
            return 1
    guarded = plans["blueprint"].parse(results["blueprint"].text)
    print("\n== with the blueprint: checkpoints (recall and question forced, answer generated)")
    for answer in guarded.checkpoints:
        print(f"[{answer.id}]")
        for text in answer.recall:
            print(f"  recalled: {text}")
        print(f"  asked:    {answer.ask}")
        print(f"  answered: {answer.answer!r}")
    print(f"reply: {guarded.text}")
    usage = results["blueprint"].usage
    print(f"({usage.completion_tokens} tokens, {results['blueprint'].latency_s:.1f} s)")
    print("\n== without it (direct arm, same system prompt and conversation)")
    print(f"reply: {results['direct'].text.strip()}")
    print(
        f"({results['direct'].usage.completion_tokens} tokens, {results['direct'].latency_s:.1f} s)"
    )
    backend.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ParlantishError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
