"""An LLM-judge check: a yes/no question about the output, answered by any parlantish backend.

The judge writes ``{"reasoning": …, "verdict": true|false}`` under a JSON-schema constraint, so
its answer always parses. Verdicts depend on a model: results are marked non-deterministic.
A verdict may be repeated (``repeats: 3, agree: 2``: asked three times with seeds 0, 1, 2; it
passes when at least two say yes); the detail then starts with the votes (``votes 2/3 yes``),
which :func:`judge_votes` reads back to measure how often the judge disagrees with itself.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable

from pydantic import Field, model_validator

from parlantish.backends import (
    Backend,
    Constraint,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    resolve_backend,
)
from parlantish.checks.base import CheckParams, register
from parlantish.errors import ParlantishError

__all__ = ["JUDGE_SCHEMA", "JudgeParams", "judge_backends", "judge_votes"]

JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 600},
        "verdict": {"type": "boolean"},
    },
    "required": ["reasoning", "verdict"],
    "additionalProperties": False,
}
DEFAULT_TEMPLATE = (
    "You are a strict reviewer. Read the text between the markers and answer the question "
    "about it with true or false, after a short reasoning.\n"
    "Question: {question}\n<<<TEXT\n{output}\nTEXT>>>"
)
_VOTES = re.compile(r"^votes (\d+)/(\d+) yes")


class JudgeParams(CheckParams):
    question: str = Field(min_length=1, description="A yes/no question about the output.")
    backend: str = Field("embedded", description="Backend spec of the judge model.")
    template: str = Field(DEFAULT_TEMPLATE, description="Prompt with {question} and {output}.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(400, ge=16)
    repeats: int = Field(1, ge=1, le=25, description="Times the judge is asked (seeds 0…).")
    agree: int | None = Field(
        None, ge=1, description="Yes votes needed to pass; default a majority of the repeats."
    )

    @model_validator(mode="after")
    def _votes_fit(self) -> JudgeParams:
        if self.agree is not None and self.agree > self.repeats:
            raise ValueError(f"agree={self.agree} is more than repeats={self.repeats}")
        if self.repeats > 1 and self.temperature == 0:
            raise ValueError("repeats of a greedy judge always agree: set a temperature above 0")
        return self

    @property
    def needed(self) -> int:
        return self.agree if self.agree is not None else self.repeats // 2 + 1


_resolver: Callable[[str], Backend] | None = None
_resolver_lock = threading.Lock()


def judge_backends(
    resolver: Callable[[str], Backend] | None,
) -> Callable[[str], Backend] | None:
    """Set how a judge's backend spec becomes a backend (``None``: :func:`resolve_backend`);
    the pytest plugin routes judges through its record/replay backends. Returns the previous
    resolver."""
    global _resolver
    with _resolver_lock:
        previous, _resolver = _resolver, resolver
    return previous


def judge_votes(detail: str) -> tuple[int, int] | None:
    """``(yes, repeats)`` from a repeated judge's detail, or ``None`` for a single verdict."""
    found = _VOTES.match(detail)
    return (int(found[1]), int(found[2])) if found else None


def _answer(result: GenerationResult | ParlantishError) -> tuple[bool, str]:
    if isinstance(result, ParlantishError):
        return False, f"judge failed: {type(result).__name__}: {result}"
    try:
        answer = json.loads(result.text)
        return bool(answer["verdict"]), str(answer["reasoning"])
    except (ValueError, KeyError, TypeError) as e:
        return False, f"judge failed: {type(e).__name__}: {e}"


@register("judge", JudgeParams, family="judge", deterministic=False, primary="question")
def judge(text: str, p: JudgeParams) -> tuple[bool, str]:
    """Ask a model whether the output satisfies ``question``; its reasoning is the detail.
    With ``repeats`` the question is asked that many times and ``agree`` yes votes pass."""
    prompt = p.template.replace("{question}", p.question).replace("{output}", text)
    requests = [
        GenerationRequest(
            messages=[{"role": "user", "content": prompt}],
            sampling=SamplingSettings(
                temperature=p.temperature,
                max_tokens=p.max_tokens,
                seed=index if p.repeats > 1 else None,
            ),
            constraint=Constraint.json_schema(JUDGE_SCHEMA, check=False),
        )
        for index in range(p.repeats)
    ]
    try:
        results = (_resolver or resolve_backend)(p.backend).generate_many(requests)
    except ParlantishError as e:
        return False, f"judge failed: {type(e).__name__}: {e}"
    answers = [_answer(result) for result in results]
    if p.repeats == 1:
        return answers[0]
    yes = sum(verdict for verdict, _ in answers)
    passed = yes >= p.needed
    reason = next((why for verdict, why in answers if verdict == passed), answers[0][1])
    return passed, f"votes {yes}/{p.repeats} yes (needs {p.needed}); {reason}"
