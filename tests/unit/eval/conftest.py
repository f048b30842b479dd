"""Helpers for evaluator tests: small suites and a scripted backend answering in each plan's
shape."""

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from parlantish.backends import ScriptedBackend
from parlantish.compiler import example_output

ROOT = Path(__file__).parents[3]
BLUEPRINTS = ROOT / "blueprints"
IFEVAL = ROOT / "examples" / "data" / "ifeval_input_data.jsonl"

SUITE = f"""
suite: unit-suite
arms: [direct, cot, blueprint]
samples: 3
seed: 1
scenarios:
  - id: refund
    blueprint: {BLUEPRINTS / "support-refunds.yaml"}
    variables: {{customer_name: Dana}}
    messages: [{{role: user, content: "Refund me now!"}}]
    checks: [no_comma]
  - id: article
    blueprint: {BLUEPRINTS / "longform-writer.yaml"}
    variables: {{topic: tides}}
    messages: [{{role: user, content: "Write it."}}]
    segments: {{count: {{min: 2, max: 4}}, max_tokens: 16, recall: [no_lists]}}
    checks: [no_comma]
"""


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def plan_shaped(evaluator, reply_for, **options):
    """A scripted backend answering each of the evaluator's requests with
    ``example_output(plan, reply_for(plan, rng))``."""
    plans = {}
    for item in evaluator.plan():
        constraint = item.plan.constraint.key if item.plan.constraint else None
        plans[(item.plan.messages, constraint)] = item.plan
    rng = random.Random(0)

    def answer(request):
        constraint = request.constraint.key if request.constraint else None
        plan = plans[(tuple(request.messages), constraint)]
        return example_output(plan, reply_for(plan, rng))

    return ScriptedBackend(answer, **options)


def comma_sometimes(plan, rng):
    """Segments of plain words; about one in four segments has a comma."""
    segments = [" ".join(["word"] * 8) + ("," if rng.random() < 0.25 else "") for _ in range(3)]
    return segments if plan.mode == "longform" else " ".join(segments)


SCRIPTED_RUN = textwrap.dedent(
    """
    import sys
    from parlantish.backends import ScriptedBackend
    from parlantish.compiler import example_output
    from parlantish.errors import UserError
    from parlantish.eval import Evaluator, load_suite
    from parlantish.eval.ruler import TokenRuler

    suite, out, samples, concurrency, delay_s = sys.argv[1:]
    ev = Evaluator(load_suite(suite), ScriptedBackend(), out, samples=int(samples),
                   concurrency=int(concurrency), ruler=TokenRuler())
    plans = {}
    for item in ev.plan():
        key = item.plan.constraint.key if item.plan.constraint else None
        plans[(item.plan.messages, key)] = item.plan

    def answer(request):
        key = request.constraint.key if request.constraint else None
        plan = plans[(tuple(request.messages), key)]
        text = ["alpha beta", "gamma delta"]
        return example_output(plan, text if plan.mode == "longform" else " ".join(text))

    ev.backend = ScriptedBackend(answer, delay_s=float(delay_s))
    try:
        ev.run()
    except UserError as e:
        print(e.message, file=sys.stderr)
        sys.exit(3)
    """
)


def start_scripted_run(suite_file, out, *, samples, concurrency, delay_s):
    """``parlantish.eval`` running ``suite_file`` into ``out`` in a real subprocess, on a
    scripted backend answering in each plan's shape after ``delay_s``; exit code 3 (and the
    message on stderr) for a ``UserError``."""
    args = [str(suite_file), str(out), str(samples), str(concurrency), str(delay_s)]
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPTED_RUN, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
