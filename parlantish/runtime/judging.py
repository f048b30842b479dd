"""Judging a reply: every check's verdict, with where a locatable check was first broken.

Part of the attempt pipeline (``attempt.py``, ``stepwise.py``): no other code runs checks on an
output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from parlantish.checks import Check
from parlantish.runtime.result import CheckOutcome

__all__ = ["failure_reason", "judge"]


def _loose_verdict(check: Check, text: str) -> bool | None:
    """The verdict in the check's loose mode, for checks that have one (IFEval's)."""
    params = check.params
    if "mode" not in type(params).model_fields:
        return None
    loose = type(params).model_validate(params.model_dump() | {"mode": "loose"})
    value = check.type.function(text, loose)
    return bool(value[0] if isinstance(value, tuple) else value)


def _first_violation(check: Check, text: str, boundaries: Sequence[int]) -> int | None:
    """The 1-based unit from whose end on every longer prefix fails."""
    if not boundaries:
        return None
    verdicts = [check(text[:boundary]).passed for boundary in boundaries]
    if verdicts[-1]:
        return None
    unit = len(verdicts)
    while unit > 1 and not verdicts[unit - 2]:
        unit -= 1
    return unit


def _first_failure_offset(check: Check, text: str) -> int | None:
    """The end of the shortest failing prefix cut at a word end (binary search: a locatable
    check's failure on a prefix stays a failure on every longer prefix)."""
    ends = [i for i in range(1, len(text) + 1) if i == len(text) or text[i].isspace()]
    low, high = 0, len(ends) - 1
    if high < 0 or check(text[: ends[high]]).passed:
        return None
    while low < high:
        middle = (low + high) // 2
        if check(text[: ends[middle]]).passed:
            low = middle + 1
        else:
            high = middle
    return ends[low]


def _outcome(check: Check, text: str, boundaries: Sequence[int] | None) -> CheckOutcome:
    result = check(text)
    located = check.locatable and not result.passed
    return CheckOutcome(
        name=result.name,
        passed=result.passed,
        detail=result.detail,
        deterministic=result.deterministic,
        locatable=check.locatable,
        passed_loose=_loose_verdict(check, text),
        first_violation=(
            _first_violation(check, text, boundaries) if located and boundaries else None
        ),
        first_failure_offset=_first_failure_offset(check, text) if located else None,
    )


async def judge(
    checks: Sequence[Check], text: str, boundaries: Sequence[int] | None = None
) -> list[CheckOutcome]:
    """Every check's verdict on ``text``. Checks that call a model (judges) run in a worker
    thread so the event loop keeps serving other requests."""

    def run() -> list[CheckOutcome]:
        return [_outcome(check, text, boundaries) for check in checks]

    if any(not check.type.deterministic for check in checks):
        return await asyncio.to_thread(run)
    return run()


def failure_reason(outcomes: Sequence[CheckOutcome]) -> str | None:
    """The failed checks as one line (``name: detail; …``), or ``None`` when all passed."""
    failed = [o for o in outcomes if not o.passed]
    return "; ".join(f"{o.name}: {o.detail}" if o.detail else o.name for o in failed) or None
