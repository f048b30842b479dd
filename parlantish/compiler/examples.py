"""Writing a valid output for a plan: for scripting tests of blueprints without a model.

``example_output(plan, "Hello Dana.")`` is text the plan's constraint accepts and ``plan.parse``
reads back into that reply (checkpoint answers filled from their types unless given). Use it with
the scripted backend to test code built on blueprints::

    backend = ScriptedBackend(lambda request: example_output(plan, "a reply"))

Each layout writes its own example (``layout.example``); this is the public entry point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from parlantish.compiler.answers import example_answer
from parlantish.compiler.plan import Plan

__all__ = ["example_answer", "example_output"]


def example_output(
    plan: Plan,
    reply: str | Sequence[str] | Mapping[str, Any],
    *,
    answers: Mapping[str, Any] | None = None,
    reasoning: str = "I follow every instruction.",
) -> str:
    """Text in the shape of ``plan``'s output with ``reply`` as the reply (for long-form plans a
    list of segments, or one string as a single segment; for typed replies a mapping)."""
    return plan.layout.example(reply, answers or {}, reasoning)
