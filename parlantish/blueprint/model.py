"""The blueprint file format as pydantic models: the one source of its JSON Schema.

``blueprints/blueprint.schema.json`` is generated from these models (``parlantish schema``) and a
test keeps the published file and the models identical. Every model forbids unknown keys.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "AnswerSpec",
    "BlueprintFile",
    "Checkpoint",
    "OnFail",
    "RepairSpec",
    "ReplySpec",
    "SegmentCount",
    "SegmentsSpec",
    "VariableSpec",
]

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class VariableSpec(_Strict):
    """A typed input supplied per call, usable in every template as ``{{ name }}``."""

    type: Literal["string", "integer", "number", "boolean", "array", "object"] = Field(
        "string", description="JSON type of the value."
    )
    description: str | None = Field(None, description="What the variable means.")
    default: Any = Field(None, description="Value used when a call does not give one.")
    enum: list[Any] | None = Field(None, min_length=1, description="The allowed values.")
    minimum: float | None = Field(None, description="Lowest allowed number.")
    maximum: float | None = Field(None, description="Highest allowed number.")
    min_length: int | None = Field(None, ge=0, description="Shortest allowed string.")
    max_length: int | None = Field(None, ge=0, description="Longest allowed string.")
    pattern: str | None = Field(None, description="Regex a string value must match.")


class AnswerSpec(_Strict):
    """The type of a checkpoint's answer (or of a field of a typed reply)."""

    type: Literal["string", "boolean", "integer", "number", "enum", "list", "object"] = Field(
        description="What kind of answer the model must give."
    )
    description: str | None = Field(None, description="Shown to the model in the schema.")
    max_length: int | None = Field(None, ge=1, description="string: most characters.")
    min_length: int | None = Field(None, ge=0, description="string: fewest characters.")
    pattern: str | None = Field(None, description="string: regex the answer must match.")
    minimum: float | None = Field(None, description="integer/number: lowest value.")
    maximum: float | None = Field(None, description="integer/number: highest value.")
    values: list[str] | None = Field(None, min_length=1, description="enum: the allowed answers.")
    items: AnswerSpec | None = Field(None, description="list: the type of each item.")
    min_items: int | None = Field(None, ge=0, description="list: fewest items.")
    max_items: int | None = Field(None, ge=1, description="list: most items.")
    properties: dict[str, AnswerSpec] | None = Field(
        None, description="object: its fields, in order (all required)."
    )


class Checkpoint(_Strict):
    """A point where the model restates instructions (forced) and answers a query."""

    id: str = Field(pattern=IDENTIFIER, description="Unique name of the checkpoint.")
    recall: list[str] = Field(
        default_factory=list,
        description="Instruction ids whose text is forced into the output here.",
    )
    ask: str = Field(min_length=1, description="The query (a template), also forced.")
    answer: AnswerSpec = Field(
        default_factory=lambda: AnswerSpec(type="string", max_length=300),
        description="Type of the answer (default: a string of at most 300 characters).",
    )


class ReplySpec(_Strict):
    """The final answer: free text, or a typed object."""

    recall: list[str] = Field(
        default_factory=list, description="Instruction ids forced just before the reply."
    )
    type: Literal["text", "object"] = Field("text", description="Free text or a typed object.")
    max_length: int | None = Field(None, ge=1, description="text: most characters.")
    min_length: int | None = Field(None, ge=0, description="text: fewest characters.")
    properties: dict[str, AnswerSpec] | None = Field(
        None, description="object: the reply's fields, in order (all required)."
    )


class SegmentCount(_Strict):
    """A range of segment counts; segments past ``min`` are optional."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)


#: The fewest tokens a segment may have: a short sentence ("You can see the tides rise.") is 7
#: tokens in the embedded model's tokenizer; below that every segment is cut mid-sentence.
MIN_SEGMENT_TOKENS = 8
#: What a progress template may name besides the blueprint's variables (``segments.progress``).
PROGRESS_VARIABLES = ("words", "sentences", "segments_done", "segments_left")


class SegmentsSpec(_Strict):
    """Long-form replies: free text in bounded segments with forced reminders between them."""

    count: int | SegmentCount = Field(description="How many segments (a number or {min, max}).")
    max_tokens: int = Field(ge=1, description="Most tokens in one segment.")
    recall: list[str] = Field(
        default_factory=list, description="Instruction ids restated between segments."
    )
    every: int = Field(1, ge=1, description="Restate after every N segments.")
    min_tokens: int | None = Field(
        None,
        ge=1,
        description="Stepwise execution: a segment ends at the first sentence end after this "
        "many tokens (default: half of max_tokens), or at max_tokens.",
    )
    progress: str | None = Field(
        None,
        max_length=2000,
        description="Stepwise execution: a template stating the reply's progress, added to each "
        "reminder (e.g. '{{ words }} of at most 200 words written'). Variables: words, "
        "sentences, segments_done, segments_left, and the blueprint's own. Fused plans leave "
        "it out: their reminders are fixed text in the constraint.",
    )

    @field_validator("max_tokens")
    @classmethod
    def _holds_a_sentence(cls, value: int) -> int:
        if value < MIN_SEGMENT_TOKENS:
            raise ValueError(
                f"a segment of {value} tokens cannot hold a sentence: give max_tokens of at "
                f"least {MIN_SEGMENT_TOKENS}"
            )
        return value

    @model_validator(mode="after")
    def _min_within_max(self) -> SegmentsSpec:
        if self.min_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError(
                f"min_tokens ({self.min_tokens}) must not exceed max_tokens ({self.max_tokens})"
            )
        return self

    @property
    def sentence_min_tokens(self) -> int:
        """Tokens a stepwise segment writes before a sentence end may close it."""
        return self.min_tokens if self.min_tokens is not None else max(1, self.max_tokens // 2)


class RepairSpec(_Strict):
    """The repair tier: after each segment, locatable checks judge the reply so far, and a
    failing segment is sampled again (stepwise execution only)."""

    max_attempts: int = Field(
        0, ge=0, le=10, description="Resamples of a failing segment (0: repair off)."
    )


class OnFail(_Strict):
    """What the runtime does when a check fails (semantics belong to the runtime)."""

    retries: int = Field(0, ge=0, le=20, description="How many more attempts.")
    reask: bool = Field(True, description="Append the failed checks' messages when retrying.")
    temperature: float | None = Field(None, ge=0, le=5, description="Temperature for retries.")
    fallback: str | None = Field(None, description="Blueprint file or backend to fall back to.")
    then: Literal["raise", "return", "fallback"] = Field(
        "raise",
        description="After the last retry: raise, return with failures marked, or fall back.",
    )


class BlueprintFile(_Strict):
    """A reasoning blueprint: key instructions, checkpoints that recall them, and the reply."""

    schema_ref: str | None = Field(None, alias="$schema", description="JSON Schema of this file.")
    blueprint: str = Field(pattern=NAME, description="The blueprint's name.")
    version: str | int | float | None = Field(None, description="Version of this blueprint.")
    description: str | None = Field(None, description="What the blueprint is for.")
    extends: str | None = Field(
        None, description="A base blueprint file (relative path) whose parts this one reuses."
    )
    variables: dict[str, VariableSpec] = Field(
        default_factory=dict, description="Typed inputs supplied per call."
    )
    instructions: dict[str, str] = Field(
        default_factory=dict, description="Instruction id → text (a template over the variables)."
    )
    system: str | None = Field(
        None, description="System prompt template; sees the variables and `instructions`."
    )
    checkpoints: list[Checkpoint] = Field(
        default_factory=list, description="Ordered checkpoints, answered before the reply."
    )
    reply: ReplySpec = Field(default_factory=ReplySpec, description="The final answer.")
    segments: SegmentsSpec | None = Field(None, description="Long-form reply in segments.")
    checks: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description="Checks on the reply: a name, or {name: parameters} (`parlantish check list`).",
    )
    on_fail: OnFail | None = Field(None, description="Policy when checks fail.")
    enforce: Literal["auto"] | bool | None = Field(
        None,
        description="Compile the checks the reply's constraint can guarantee into it: auto (what "
        "compiles), true (every check; one that cannot compile is an error), false (none). Unset: "
        "the arm decides (the enforced arm auto, the others off). A check's own enforce wins.",
    )
    execution: Literal["auto", "fused", "stepwise"] = Field(
        "auto",
        description="Long-form replies: fused (one request, forced text decoded), stepwise (one "
        "request per step, forced text prefilled), or auto (stepwise where the backend can "
        "continue a message).",
    )
    repair: RepairSpec | None = Field(None, description="Resample failing segments.")
