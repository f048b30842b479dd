"""A compiled plan: the rendered messages, one constraint, and how to read the output back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from parlantish.checks.enforce import Enforcement, Tier
from parlantish.core.constraints import Constraint
from parlantish.core.types import ChatMessage, GenerationRequest, SamplingSettings
from parlantish.errors import MalformedResponseError

if TYPE_CHECKING:
    from parlantish.compiler.stream import StreamParser

__all__ = [
    "Arm",
    "CheckpointAnswer",
    "CompiledCheckpoint",
    "Layout",
    "OutputParseError",
    "ParsedOutput",
    "Plan",
    "Tier",
]

Arm = Literal["blueprint", "direct", "cot", "stepwise", "repair", "remind", "enforced"]
#: ``blueprint`` is the fused long-form plan (one request); ``stepwise`` and ``repair`` run the
#: same plan one step per request (``repair`` also resamples failing segments); ``remind`` is
#: the blueprint with enforcement off, ``enforced`` the blueprint with enforcement ``auto``.
ARMS: tuple[str, ...] = ("blueprint", "direct", "cot", "stepwise", "repair", "remind", "enforced")
Execution = Literal["fused", "stepwise"]
#: Arms whose prompt recalls the instructions (checkpoints, reminders).
REMINDING_ARMS = ("blueprint", "stepwise", "repair", "remind", "enforced")


class OutputParseError(MalformedResponseError):
    """Generated text does not have the plan's shape (possible only without real constraints)."""


@dataclass(frozen=True)
class CompiledCheckpoint:
    """A checkpoint with its templates rendered: the forced texts and the answer's type."""

    id: str
    recall: tuple[tuple[str, str], ...]  # (instruction id, rendered text), forced
    ask: str  # forced
    answer_schema: dict[str, Any]

    @property
    def recall_texts(self) -> list[str]:
        return [text for _, text in self.recall]


@dataclass(frozen=True)
class CheckpointAnswer:
    """What the model wrote at one checkpoint."""

    id: str
    recall: tuple[str, ...]
    ask: str
    answer: Any

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "recall": list(self.recall), "ask": self.ask, "answer": self.answer}


@dataclass(frozen=True)
class ParsedOutput:
    """Generated text read back: the visible reply, checkpoint answers, and the pieces."""

    raw: str
    reply: Any  # str for text replies, dict for typed ones
    checkpoints: tuple[CheckpointAnswer, ...] = ()
    segments: tuple[str, ...] = ()  # long-form: the reply's segments, reminders removed
    reminders: tuple[str, ...] = ()  # long-form: the reminders found, in order
    reasoning: str | None = None  # cot arm

    @property
    def text(self) -> str:
        """The visible reply as text (typed replies as compact JSON)."""
        if isinstance(self.reply, str):
            return self.reply
        return json.dumps(self.reply, ensure_ascii=False)


class Layout(Protocol):
    """One way of laying out an output, owning its whole format in one module: the constraint
    (whose format tree also gives the conformance check the scripted backend applies), the
    parser, the stream parser and example text."""

    @property
    def mode(self) -> str: ...

    def constraint(self) -> Constraint | None: ...

    def parse(self, text: str) -> ParsedOutput: ...

    def stream_parser(self) -> StreamParser: ...

    def example(self, reply: Any, answers: Mapping[str, Any], reasoning: str) -> str: ...

    def max_tokens(self) -> int: ...

    def checkpoint_tokens(self) -> int: ...

    def parse_cut(self, text: str) -> ParsedOutput | None: ...


@dataclass(frozen=True)
class Plan:
    """Everything needed to make one generation for one arm, and to read its output.

    ``constraint`` is ``layout.constraint()``, computed once when the plan is compiled."""

    arm: str
    messages: tuple[ChatMessage, ...]
    layout: Layout
    blueprint_name: str
    blueprint_hash: str
    constraint: Constraint | None
    checkpoints: tuple[CompiledCheckpoint, ...] = ()
    execution: Execution = "fused"
    repair_attempts: int = 0  # resamples of a failing segment (stepwise plans)
    #: Which checks the constraint enforces, and why the others are not.
    enforcement: Enforcement = field(default_factory=Enforcement)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        digest.update(json.dumps([m.to_openai() for m in self.messages], sort_keys=True).encode())
        digest.update((self.constraint.key if self.constraint else "none").encode())
        digest.update(self.arm.encode())
        if self.execution != "fused" or self.repair_attempts:
            digest.update(f"{self.execution}/{self.repair_attempts}".encode())
        if self.enforcement.decisions:
            digest.update(self.enforcement.key().encode())
        object.__setattr__(self, "key", digest.hexdigest()[:16])

    @property
    def mode(self) -> str:
        return self.layout.mode

    def tier(self, index: int, check: str, locatable: bool) -> Tier:
        """How the plan holds a check: ``enforced`` by the constraint, ``repaired`` (resampled
        when it fails, stepwise), ``reminded`` (the blueprint's checkpoints and reminders), or
        ``none`` (a baseline arm). ``index`` is the check's place in the plan's check list."""
        if self.enforcement.holds(index, check):
            return "enforced"
        if self.repair_attempts and locatable:
            return "repaired"
        return "reminded" if self.arm in REMINDING_ARMS else "none"

    @property
    def max_tokens(self) -> int:
        """A token budget large enough for the forced texts and every bounded answer."""
        return self.layout.max_tokens()

    @property
    def checkpoint_tokens(self) -> int:
        """A bound on the tokens the plan spends outside the visible reply (forced
        restatements, checkpoint answers, reminders, reasoning), at worst a token a character."""
        return self.layout.checkpoint_tokens()

    def budget(self, reply_tokens: int | None) -> int:
        """The engine's ``max_tokens`` for a visible reply of at most ``reply_tokens``: the
        reply's budget plus the checkpoints' (:attr:`checkpoint_tokens`); without a reply
        budget, the plan's own (:attr:`max_tokens`)."""
        return self.max_tokens if reply_tokens is None else reply_tokens + self.checkpoint_tokens

    def parse_cut(self, text: str) -> ParsedOutput | None:
        """Read back an output cut at ``max_tokens`` inside its reply: every checkpoint
        complete and the reply as far as it got; ``None`` when it was cut before that."""
        return self.layout.parse_cut(text)

    def request(self, sampling: SamplingSettings | None = None) -> GenerationRequest:
        """The generation request; without ``sampling``, greedy with the plan's token budget."""
        sampling = sampling or SamplingSettings(max_tokens=self.max_tokens)
        return GenerationRequest(
            messages=self.messages, sampling=sampling, constraint=self.constraint
        )

    def parse(self, text: str) -> ParsedOutput:
        """Read generated text back (raises ``OutputParseError`` if it has the wrong shape)."""
        return self.layout.parse(text)

    def describe(self) -> dict[str, Any]:
        """JSON-ready: messages and the constraint (``type`` json_schema / structural_tag /
        grammar / none, and its payload)."""
        constraint = (
            self.constraint.describe() if self.constraint else {"type": "none", "payload": None}
        )
        return {
            "blueprint": {"name": self.blueprint_name, "hash": self.blueprint_hash},
            "arm": self.arm,
            "mode": self.mode,
            "execution": self.execution,
            "messages": [m.to_openai() for m in self.messages],
            "constraint": constraint,
            "max_tokens": self.max_tokens,
            "enforced": sorted(self.enforcement.enforced),
            "key": self.key,
        }
