"""Scoring IFEval-format records: one response against its instruction list, strict and loose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parlantish.checks.base import CheckSpecError, get_check_type

__all__ = ["IfevalScore", "Summary", "score_record"]


@dataclass(frozen=True)
class IfevalScore:
    """Per-instruction verdicts for one response."""

    key: Any
    strict: list[bool]
    loose: list[bool]


def score_record(record: dict[str, Any]) -> IfevalScore:
    """Score one record with ``response``, ``instruction_id_list`` and ``kwargs``.

    Kwargs whose value is ``null`` are dropped, as IFEval's own evaluation does.
    Raises ``CheckSpecError`` (with the index in ``path``) for unknown ids or bad kwargs.
    """
    response = record.get("response")
    ids = record.get("instruction_id_list")
    kwargs_list = record.get("kwargs") or [{} for _ in ids or []]
    if not isinstance(response, str):
        raise CheckSpecError('each line needs a text "response"')
    if (
        not isinstance(ids, list)
        or not isinstance(kwargs_list, list)
        or len(ids) != len(kwargs_list)
    ):
        raise CheckSpecError('"instruction_id_list" and "kwargs" must be lists of the same length')
    strict, loose = [], []
    for index, (instruction_id, kwargs) in enumerate(zip(ids, kwargs_list, strict=True)):
        params = {k: v for k, v in (kwargs or {}).items() if v is not None}
        check_type = get_check_type(str(instruction_id), ("instruction_id_list", index))
        strict.append(
            check_type.bind({**params, "mode": "strict"}, ("kwargs", index))(response).passed
        )
        loose.append(
            check_type.bind({**params, "mode": "loose"}, ("kwargs", index))(response).passed
        )
    return IfevalScore(record.get("key"), strict, loose)


@dataclass
class Summary:
    """Prompt-level and instruction-level accuracy, strict and loose."""

    prompts: int = 0
    instructions: int = 0
    prompt_strict: int = 0
    prompt_loose: int = 0
    instruction_strict: int = 0
    instruction_loose: int = 0

    def add(self, score: IfevalScore) -> None:
        self.prompts += 1
        self.instructions += len(score.strict)
        self.prompt_strict += all(score.strict)
        self.prompt_loose += all(score.loose)
        self.instruction_strict += sum(score.strict)
        self.instruction_loose += sum(score.loose)

    def to_dict(self) -> dict[str, Any]:
        def ratio(a: int, b: int) -> float:
            return round(a / b, 4) if b else 0.0

        return {
            "prompts": self.prompts,
            "instructions": self.instructions,
            "prompt_level_strict": ratio(self.prompt_strict, self.prompts),
            "prompt_level_loose": ratio(self.prompt_loose, self.prompts),
            "instruction_level_strict": ratio(self.instruction_strict, self.instructions),
            "instruction_level_loose": ratio(self.instruction_loose, self.instructions),
        }
