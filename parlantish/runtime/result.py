"""What a guarded call returns: the reply, the checkpoint trace, check verdicts, usage, attempts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parlantish.core.types import Usage

__all__ = [
    "Attempt",
    "CheckOutcome",
    "CheckpointTrace",
    "ErrorKind",
    "GuardReply",
    "SegmentRepair",
]


ErrorKind = Literal["backend", "cut", "malformed", "checks"]


class CheckOutcome(BaseModel):
    """One check's verdict on a reply: ``passed_loose`` for checks with a loose mode (IFEval),
    and for locatable checks that failed, where along the reply they were first broken
    (``first_violation``: the 1-based unit, when the caller cut the reply into units;
    ``first_failure_offset``: the character offset of the shortest failing prefix)."""

    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str = ""
    deterministic: bool = True
    locatable: bool = False
    passed_loose: bool | None = None
    first_violation: int | None = None
    first_failure_offset: int | None = None
    #: How the plan held the check: enforced by the constraint, repaired, reminded, or none.
    tier: Literal["enforced", "repaired", "reminded", "none"] = "none"


class CheckpointTrace(BaseModel):
    """What the model wrote at one checkpoint: the forced recall and query, and its answer."""

    model_config = ConfigDict(frozen=True)

    id: str
    recall: list[str]
    ask: str
    answer: Any


class SegmentRepair(BaseModel):
    """A segment the repair tier rejected: which one, on which resample, and why. ``cut``: the
    last sample, still failing, was cut back to its first sentences that pass (``text`` is the
    sample before the cut)."""

    model_config = ConfigDict(frozen=True)

    segment: int  # 0-based
    attempt: int  # 0: the first sample of the segment
    check: str
    detail: str = ""
    text: str
    cut: bool = False


class Attempt(BaseModel):
    """One attempt of the pipeline (plan → generate → parse → checks → verdict) and its fate.

    ``error_kind`` says why it was not accepted: ``backend`` (the generation failed),
    ``cut`` (the output hit ``max_tokens`` before it could be read), ``malformed`` (the output
    does not have the plan's shape), ``checks`` (a check failed); ``None`` when accepted.
    ``parsed`` (the output read back) is kept for the caller and never serialised.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    index: int
    backend: str
    temperature: float
    seed: int | None = None
    max_tokens: int | None = None  # the engine's: the reply budget plus the checkpoints'
    reply_budget: int | None = None  # the caller's max_tokens, bounding the visible reply
    raw: str | None = None
    text: str | None = None
    reply: Any = None
    checkpoints: list[CheckpointTrace] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)
    reasoning: str | None = None
    usage: Usage = Usage()
    latency_s: float = 0.0
    finish_reason: str | None = None
    execution: str = "fused"
    requests: int = 1  # generations made (stepwise: one per step and resample)
    repairs: list[SegmentRepair] = Field(default_factory=list)
    checks: list[CheckOutcome] = Field(default_factory=list)
    passed: bool = False
    error: str | None = None  # transport failure, cut or malformed output
    error_kind: ErrorKind | None = None
    rejected_because: str | None = None  # None when this attempt was accepted
    parsed: Any = Field(default=None, exclude=True, repr=False)

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
    finish_reason: str | None = None  # "length" when the reply was cut at max_tokens

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
            "finish_reason": self.finish_reason,
            "blueprint": self.blueprint,
            "latency_s": round(self.latency_s, 4),
        }
