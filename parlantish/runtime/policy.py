"""Failure policies: what a guarded call does when checks fail or output is malformed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from parlantish.blueprint.model import OnFail
from parlantish.core.types import ChatMessage
from parlantish.runtime.result import Attempt

__all__ = ["FailurePolicy", "reask_conversation"]

Then = Literal["raise", "return", "fallback"]


@dataclass(frozen=True)
class FailurePolicy:
    """How many attempts, how each retry differs, and what happens after the last one.

    - ``retries``: attempts after the first when checks fail or the output is malformed;
    - ``reask``: a retry shows the model its rejected reply and the failed checks' messages;
    - ``temperature``: sampling temperature for retries (default: the call's, raised by 0.3 per
      retry up to 1.0, so a retry does not repeat a greedy failure); each retry gets a new seed;
    - ``then``: after the last attempt, ``raise`` (``AttemptsExhaustedError`` with every
      attempt), ``return`` (the last reply, ``passed=False``) or ``fallback``;
    - ``fallback``: a blueprint file (``*.yaml``/``*.yml``/``*.json``, relative to the
      blueprint) or a backend spec used for one more guarded call;
    - ``transport_retries``: retries of a generation that failed in transport (connection,
      timeout, 5xx, 429), with exponential backoff, within the call's deadline.
    """

    retries: int = 0
    reask: bool = True
    temperature: float | None = None
    then: Then = "raise"
    fallback: str | None = None
    transport_retries: int = 2

    @classmethod
    def from_on_fail(cls, on_fail: OnFail | None, **overrides: Any) -> FailurePolicy:
        """The blueprint's ``on_fail``, with keyword overrides from code."""
        base = cls()
        if on_fail is not None:
            base = cls(
                retries=on_fail.retries,
                reask=on_fail.reask,
                temperature=on_fail.temperature,
                then=on_fail.then,
                fallback=on_fail.fallback,
            )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def temperature_for(self, attempt: int, base: float) -> float:
        if attempt == 0:
            return base
        if self.temperature is not None:
            return self.temperature
        return min(1.0, max(base, 0.0) + 0.3 * attempt)

    @staticmethod
    def seed_for(attempt: int, base: int | None) -> int | None:
        if attempt == 0:
            return base
        return (base or 0) + 1000 * attempt


def reask_conversation(conversation: list[ChatMessage], attempt: Attempt) -> list[ChatMessage]:
    """``conversation`` with the rejected reply of ``attempt`` and a user turn saying why it
    was rejected (the ``reask`` of a retry)."""
    note = attempt.rejected_because or attempt.error or "it did not follow the instructions"
    return [
        *conversation,
        ChatMessage(role="assistant", content=attempt.raw or ""),
        ChatMessage(
            role="user",
            content=f"That reply was rejected: {note}. "
            "Write it again, following every instruction.",
        ),
    ]
