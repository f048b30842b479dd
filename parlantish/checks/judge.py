"""An LLM-judge check: a yes/no question about the output, answered by any parlantish backend.

The judge writes ``{"reasoning": …, "verdict": true|false}`` under a JSON-schema constraint, so
its answer always parses. Verdicts depend on a model: results are marked non-deterministic.
"""

from __future__ import annotations

import json

from pydantic import Field

from parlantish.backends import Constraint, GenerationRequest, SamplingSettings, resolve_backend
from parlantish.checks.base import CheckParams, register
from parlantish.errors import ParlantishError

__all__ = ["JUDGE_SCHEMA", "JudgeParams"]

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


class JudgeParams(CheckParams):
    question: str = Field(min_length=1, description="A yes/no question about the output.")
    backend: str = Field("embedded", description="Backend spec of the judge model.")
    template: str = Field(DEFAULT_TEMPLATE, description="Prompt with {question} and {output}.")
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(400, ge=16)


@register("judge", JudgeParams, family="judge", deterministic=False, primary="question")
def judge(text: str, p: JudgeParams) -> tuple[bool, str]:
    """Ask a model whether the output satisfies ``question``; its reasoning is the detail."""
    prompt = p.template.replace("{question}", p.question).replace("{output}", text)
    request = GenerationRequest(
        messages=[{"role": "user", "content": prompt}],
        sampling=SamplingSettings(temperature=p.temperature, max_tokens=p.max_tokens),
        constraint=Constraint.json_schema(JUDGE_SCHEMA, check=False),
    )
    try:
        result = resolve_backend(p.backend).generate(request)
        answer = json.loads(result.text)
        return bool(answer["verdict"]), str(answer["reasoning"])
    except (ParlantishError, ValueError, KeyError, TypeError) as e:
        return False, f"judge failed: {type(e).__name__}: {e}"
