"""What goes into a backend and what comes out: requests, sampling settings, results, usage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from parlantish.core.constraints import Constraint

__all__ = [
    "MODEL_DEFAULTED",
    "ChatMessage",
    "Completion",
    "GenerationRequest",
    "GenerationResult",
    "SamplingSettings",
    "StreamDelta",
    "Usage",
]


class ChatMessage(BaseModel):
    """One message in OpenAI chat format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str
    name: str | None = None

    def to_openai(self) -> dict[str, str]:
        data = {"role": self.role, "content": self.content}
        if self.name is not None:
            data["name"] = self.name
        return data


#: ``SamplingSettings`` fields whose None means "the model's default" (its generation config).
MODEL_DEFAULTED = ("top_k", "min_p", "repetition_penalty", "frequency_penalty", "presence_penalty")


class SamplingSettings(BaseModel):
    """How to sample. Defaults are greedy and short; evaluators set ``temperature`` > 0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.0, ge=0.0, le=5.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, ge=1)
    seed: int | None = None
    n: int = Field(1, ge=1, le=128)
    stop: tuple[str, ...] = ()
    # None, the default of the five below: the model's own default (its generation config, as
    # vLLM's server applies it; no cut and no penalty when it sets none). A value set, even a
    # neutral one (top_k 0, penalties 0 or 1), is sent and wins.
    top_k: int | None = Field(None, ge=-1, description="0 or -1: no top-k cut.")
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(None, gt=0.0, le=2.0, description="1: no penalty.")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    min_tokens: int = Field(0, ge=0, description="Tokens before EOS or a stop string may end.")
    include_stop_str_in_output: bool = False

    def engine_options(self) -> dict[str, Any]:
        """The settings beyond the OpenAI basics that differ from their defaults, named as
        vLLM's ``SamplingParams`` and its server's request body name them."""
        extras = (
            "top_k",
            "min_p",
            "repetition_penalty",
            "frequency_penalty",
            "presence_penalty",
            "min_tokens",
            "include_stop_str_in_output",
        )
        defaults = type(self).model_fields
        return {
            name: getattr(self, name)
            for name in extras
            if getattr(self, name) is not None
            and (name in MODEL_DEFAULTED or getattr(self, name) != defaults[name].default)
        }


class GenerationRequest(BaseModel):
    """One generation: chat ``messages`` or a raw ``prompt``, sampling, at most one constraint.

    ``continue_final_message`` treats a final assistant message as the start of the reply
    (prefilled text the model continues), which is how long forced text is given cheaply.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    sampling: SamplingSettings = SamplingSettings()
    constraint: Constraint | None = None
    continue_final_message: bool = False

    @field_validator("messages", mode="before")
    @classmethod
    def _coerce_messages(cls, value: Any) -> Any:
        if isinstance(value, list):
            return tuple(value)
        return value

    @model_validator(mode="after")
    def _one_input(self) -> GenerationRequest:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        if self.continue_final_message and (
            self.messages is None or self.messages[-1].role != "assistant"
        ):
            raise ValueError("continue_final_message needs a final assistant message")
        return self


class Usage(BaseModel):
    """Token counts; add two to sum usage over attempts.

    ``completion_tokens`` were decoded one step each (``decoded_tokens``); ``prefilled_tokens``
    counts forced text a stepwise plan sent as a prefilled prefix after its first request
    (counted in ``prompt_tokens`` too, never decoded). ``reply_tokens`` counts the visible reply
    returned and ``checkpoint_tokens`` the decoded tokens outside it (checkpoints, forced
    restatements, reminders), in the backend's tokenizer; ``None`` when it has none at hand."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prefilled_tokens: int = 0
    reply_tokens: int | None = None
    checkpoint_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def decoded_tokens(self) -> int:
        return self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            prefilled_tokens=self.prefilled_tokens + other.prefilled_tokens,
            reply_tokens=_add_known(self.reply_tokens, other.reply_tokens),
            checkpoint_tokens=_add_known(self.checkpoint_tokens, other.checkpoint_tokens),
        )

    def to_dict(self) -> dict[str, int]:
        """The counts, with ``total_tokens`` and ``decoded_tokens``; ``reply_tokens`` and
        ``checkpoint_tokens`` only when counted."""
        known = {
            name: value
            for name, value in (
                ("reply_tokens", self.reply_tokens),
                ("checkpoint_tokens", self.checkpoint_tokens),
            )
            if value is not None
        }
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "decoded_tokens": self.decoded_tokens,
            "prefilled_tokens": self.prefilled_tokens,
            **known,
        }


def _add_known(a: int | None, b: int | None) -> int | None:
    """A sum of counts where ``None`` is a count not taken (``None`` only if both are)."""
    return None if a is None and b is None else (a or 0) + (b or 0)


FinishReason = Literal["stop", "length", "abort", "error"]


class Completion(BaseModel):
    """One sampled continuation (a request with ``n`` > 1 has several)."""

    model_config = ConfigDict(frozen=True)

    text: str
    finish_reason: FinishReason
    completion_tokens: int


class GenerationResult(BaseModel):
    """What a backend produced for one request."""

    model_config = ConfigDict(frozen=True)

    completions: tuple[Completion, ...]
    prompt_tokens: int
    latency_s: float
    model: str = ""

    @property
    def text(self) -> str:
        """The first completion's text."""
        return self.completions[0].text

    @property
    def finish_reason(self) -> FinishReason:
        return self.completions[0].finish_reason

    @property
    def usage(self) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens,
            completion_tokens=sum(c.completion_tokens for c in self.completions),
        )

    def to_dict(self) -> dict[str, Any]:
        """The CLI's ``--json`` shape: text, finish_reason, usage, latency_s (+ texts if n>1)."""
        data: dict[str, Any] = {
            "text": self.text,
            "finish_reason": self.finish_reason,
            "usage": self.usage.to_dict(),
            "latency_s": round(self.latency_s, 4),
            "model": self.model,
        }
        if len(self.completions) > 1:
            data["texts"] = [c.text for c in self.completions]
        return data


class StreamDelta(BaseModel):
    """A piece of streamed text; the last one carries the full ``result``."""

    model_config = ConfigDict(frozen=True)

    text: str
    result: GenerationResult | None = None
