"""The demo `make demo` runs: a guarded reply on the embedded model, beside an unguarded one.

It shows the mechanism parlantish is built on: at each checkpoint the model must write the
recalled instructions word for word (forced by constrained decoding) before it answers, and the
reply comes last; then the blueprint's checks judge the reply. The same conversation without
the blueprint's checkpoints (the `direct` arm) is generated in the same batch for comparison.

The consistency evaluation (many samples, with and without blueprints, with statistics) is the
evaluator's job, not built yet; see the README's Status section.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from parlantish import Guard
from parlantish.backends import SamplingSettings, resolve_backend
from parlantish.compiler import compile_plan
from parlantish.errors import ParlantishError

BLUEPRINT = Path(__file__).parents[1] / "blueprints" / "support-refunds.yaml"
CONVERSATION = [
    {"role": "user", "content": "You charged me twice this month. Refund me right now!"}
]
VARIABLES = {"customer_name": "Dana"}


async def both(guard: Guard, backend):  # type: ignore[no-untyped-def]
    direct = compile_plan(guard.blueprint, VARIABLES, CONVERSATION, arm="direct")
    return await asyncio.gather(
        guard.areply(CONVERSATION, VARIABLES),
        backend.agenerate(direct.request(SamplingSettings(max_tokens=300))),
    )


def main() -> int:
    backend = resolve_backend("embedded")
    guard = Guard(
        BLUEPRINT, backend, then="return", retries=0, max_tokens=900, temperature=0.7, seed=3
    )
    print(f"blueprint {guard.blueprint.name} ({guard.blueprint.hash}) on the embedded model")
    guarded, direct = asyncio.run(both(guard, backend))
    print("\n== with the blueprint: checkpoints (recall and question forced, answer generated)")
    for checkpoint in guarded.checkpoints:
        print(f"[{checkpoint.id}]")
        for text in checkpoint.recall:
            print(f"  recalled: {text}")
        print(f"  asked:    {checkpoint.ask}")
        print(f"  answered: {checkpoint.answer!r}")
    print(f"reply: {guarded.text}")
    for check in guarded.checks:
        print(f"  check {check.name}: {'pass' if check.passed else 'FAIL'} {check.detail}")
    print(f"({guarded.usage.completion_tokens} tokens, {guarded.latency_s:.1f} s)")
    print("\n== without it (direct arm: same system prompt and conversation, no checkpoints)")
    print(f"reply: {direct.text.strip()}")
    print(f"({direct.usage.completion_tokens} tokens, {direct.latency_s:.1f} s)")
    backend.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ParlantishError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
