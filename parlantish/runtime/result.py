"""What a guarded call returns: the reply, the checkpoint trace, check verdicts, usage, attempts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from parlantish.core.types import Usage

__all__ = ["Attempt", "CheckOutcome", "CheckpointTrace", "GuardReply"]


class CheckOutcome(BaseModel):
    """One check's verdict on a reply."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str = ""
    deterministic: bool = True


class CheckpointTrace(BaseModel):
    """What the model wrote at one checkpoint: the forced recall and query, and its answer."""

    model_config = ConfigDict(frozen=True)

    id: str
    recall: list[str]
    ask: str
    answer: Any


class Attempt(BaseModel):
    """One generation of a guarded call and its fate."""

    model_config = ConfigDict(frozen=True)

    index: int
    backend: str
    temperature: float
    seed: int | None = None
    raw: str | None = None
    reply: Any = None
    usage: Usage = Usage()
    latency_s: float = 0.0
    checks: list[CheckOutcome] = Field(default_factory=list)
    error: str | None = None  # transport failure or malformed output
    rejected_because: str | None = None  # None when this attempt was accepted

    @property
    def accepted(self) -> bool:
        return self.error is None and self.rejected_because is None


class GuardReply(BaseModel):
    """The result of a guarded call.

    ``passed`` is False only when the policy returned a reply whose checks failed
    (``then: return``); by default such a call raises instead.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    text: str
    reply: Any  # str, dict for typed replies, or the caller's pydantic model
    checkpoints: list[CheckpointTrace]
    checks: list[CheckOutcome]
    passed: bool
    usage: Usage
    attempts: list[Attempt]
    raw: str
    blueprint: dict[str, str]
    plan_key: str
    latency_s: float
    segments: list[str] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape."""
        reply = (
            self.reply.model_dump(mode="json") if isinstance(self.reply, BaseModel) else self.reply
        )
        return {
            "reply": reply,
            "text": self.text,
            "passed": self.passed,
            "checkpoints": [c.model_dump(mode="json") for c in self.checkpoints],
            "checks": [c.model_dump(mode="json") for c in self.checks],
            "usage": {
                **self.usage.to_dict(),
                "per_attempt": [a.usage.to_dict() for a in self.attempts],
            },
            "attempts": [
                a.model_dump(mode="json", exclude={"raw"}) | {"accepted": a.accepted}
                for a in self.attempts
            ],
            "raw": self.raw,
            "blueprint": self.blueprint,
            "latency_s": round(self.latency_s, 4),
        }
