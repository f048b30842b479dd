"""One ``results.jsonl`` row as a typed model: what the runner writes and every reader assumes.

The JSON Schema of these rows is published as ``blueprints/results.schema.json`` (generated from
``SampleRecord``, checked for drift by a test). Fields are added, never renamed; a change to the
meaning of a field raises ``schema_version``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from parlantish.errors import UserError

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "ArmGroup",
    "BlueprintRef",
    "CheckRecord",
    "CheckpointRecord",
    "ErrorKind",
    "LengthUnits",
    "SampleRecord",
    "UsageRecord",
    "as_records",
    "first_validation_error",
    "load_record",
    "results_json_schema",
]

RESULTS_SCHEMA_VERSION: Literal[1] = 1
SCHEMA_ID = "https://parlantish.dev/schemas/results.schema.json"

ErrorKind = Literal["backend", "cut", "malformed", "checks"]
"""Why a sample did not pass: the backend failed (no output; left out of rates), the output was
cut at ``max_tokens`` and could not be read, the output could not be read, or a check failed."""

# The finish reasons backends report (``parlantish.core.FinishReason``), as written in files.
FinishReason = Literal["stop", "length", "abort", "error"]


class _Record(BaseModel):
    # Every field is written, so the published schema (serialization mode) lists them all as
    # required; unknown fields are errors.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ArmGroup(BaseModel):
    """The group samples are compared in: an arm and its length setting (``max_tokens`` sweep)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_serialization_defaults_required=True
    )

    arm: str = Field(description="The arm's name.")
    length: int | None = Field(None, description="The swept max_tokens, or null when not swept.")

    @property
    def label(self) -> str:
        """``name`` or ``name@length``: for display only, never parsed back."""
        return self.arm if self.length is None else f"{self.arm}@{self.length}"


class BlueprintRef(_Record):
    """The blueprint a sample's plan was compiled from."""

    name: str
    hash: str


class CheckRecord(_Record):
    """One check's verdict on a sample's visible text."""

    name: str
    passed: bool
    detail: str = ""
    deterministic: bool = Field(True, description="False for checks that may vary (LLM judges).")
    locatable: bool = Field(False, description="Whether a violation can be placed along the text.")
    passed_loose: bool | None = Field(
        None, description="The verdict in loose mode (IFEval checks), else null."
    )
    first_violation: int | None = Field(
        None, ge=1, description="The unit (1-based) where a locatable check first fails."
    )
    first_failure_offset: int | None = Field(
        None, ge=0, description="The character offset in the text where the check first fails."
    )
    span: list[int] | None = Field(
        None, description="[start, end) of the part of the text judged, when not all of it."
    )
    tier: Literal["enforced", "repaired", "reminded", "none"] = Field(
        "none",
        description="How the plan held the check: enforced by the constraint (a failure is a "
        "defect), repaired (failing segments resampled), reminded (checkpoints and reminders), "
        "or none (a baseline arm).",
    )


class CheckpointRecord(_Record):
    """What the model wrote at one checkpoint of the reply."""

    id: str
    recall: list[str]
    ask: str
    answer: Any


class UsageRecord(_Record):
    """Tokens spent on the sample."""

    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    total_tokens: int = Field(0, ge=0)
    decoded_tokens: int = Field(0, ge=0, description="Tokens decoded one step each.")
    prefilled_tokens: int = Field(
        0, ge=0, description="Forced text sent as a prefilled prefix (stepwise execution)."
    )
    reply_tokens: int | None = Field(
        None, ge=0, description="The visible reply's tokens; null without a tokenizer."
    )
    checkpoint_tokens: int | None = Field(
        None,
        ge=0,
        description="Decoded tokens outside the visible reply (checkpoints, forced text); "
        "null without a tokenizer.",
    )


class LengthUnits(_Record):
    """The visible text cut into units (segments or token windows) for the length analysis."""

    kind: Literal["segments", "windows"]
    window: int | None = Field(None, description="Tokens per window when kind is windows.")
    boundaries: list[int] = Field(description="Character offset where each unit ends.")
    tokens: list[int] = Field(description="Tokens in each unit.")
    locatable_checks: int = Field(ge=0)
    first_violation: int | None = Field(
        None, ge=1, description="The first unit (1-based) where any locatable check fails."
    )


class SampleRecord(_Record):
    """One ``results.jsonl`` row: one sample of one scenario on one arm (and length)."""

    schema_version: Literal[1] = RESULTS_SCHEMA_VERSION
    key: str = Field(description="Unique per sample: scenario, arm, length and sample index.")
    suite: str
    scenario: str
    arm: str = Field(description="The arm's name (the length is its own field).")
    arm_kind: Literal["direct", "cot", "blueprint", "stepwise", "repair", "remind", "enforced"]
    length: int | None = Field(None, description="The swept max_tokens, or null when not swept.")
    sample: int = Field(ge=0)
    seed: int
    temperature: float
    max_tokens: int | None
    messages_hash: str
    plan_key: str
    blueprint: BlueprintRef
    backend: str
    passed: bool = Field(False, description="Every check passed (false when error_kind is set).")
    error: str | None = None
    error_kind: ErrorKind | None = None
    checks: list[CheckRecord] = Field(default_factory=list)
    text: str = Field("", description="The visible reply text the checks judged.")
    raw: str = Field("", description="The generated text as the backend returned it.")
    reply: Any = Field(None, description="The reply: a string, or an object for typed replies.")
    checkpoints: list[CheckpointRecord] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    usage: UsageRecord = Field(default_factory=UsageRecord)
    latency_s: float = Field(0.0, ge=0)
    length_units: LengthUnits | None = None
    finished_at: AwareDatetime | None = None
    execution: Literal["fused", "stepwise"] | None = Field(
        None, description="How a long-form plan ran: one request, or one per step."
    )
    attempts: int = Field(1, ge=1, description="Generations made for this sample.")
    repairs: int = Field(
        0, ge=0, description="Segments resampled, or cut back, by the repair tier."
    )
    turn: int | None = Field(
        None, ge=1, description="The turn (1-based) of a multi-turn conversation, else null."
    )
    conversation: str | None = Field(
        None, description="The conversation a turn belongs to (its rows share it), else null."
    )
    injected: bool = Field(
        False,
        description="The suite put this turn's reply in (error injection): not generated, "
        "not judged, left out of pass rates; the next turn measures recovery.",
    )
    replica: int | None = Field(
        None,
        ge=0,
        description="The engine replica (Ray actor index) that produced the row in a cluster "
        "run, else null.",
    )

    @model_validator(mode="after")
    def _passed_means_no_error(self) -> SampleRecord:
        if self.passed and (self.error is not None or self.error_kind is not None):
            raise ValueError("a passed sample has no error")
        return self

    @property
    def group(self) -> ArmGroup:
        """The (arm, length) group the sample is compared in."""
        return ArmGroup(arm=self.arm, length=self.length)


def load_record(data: dict[str, Any]) -> SampleRecord:
    """A row read from a results file, as a ``SampleRecord``.

    Rows written before ``schema_version`` existed are upgraded: their ``arm`` carried an
    ``@length`` suffix, and ``error_kind`` was ``output`` for unreadable outputs and null for
    failed checks."""
    if "schema_version" in data:
        return SampleRecord.model_validate(data)
    row = dict(data)
    row["schema_version"] = RESULTS_SCHEMA_VERSION
    suffix = f"@{row['length']}" if row.get("length") is not None else None
    if suffix and isinstance(row.get("arm"), str) and row["arm"].endswith(suffix):
        row["arm"] = row["arm"].removesuffix(suffix)
    if row.get("error_kind") == "output":
        row["error_kind"] = "cut" if row.get("finish_reason") == "length" else "malformed"
    elif row.get("error_kind") is None and not row.get("passed") and row.get("error") is None:
        row["error_kind"] = "checks"
    return SampleRecord.model_validate(row)


def results_json_schema() -> dict[str, Any]:
    """The JSON Schema of one ``results.jsonl`` row, generated from ``SampleRecord``."""
    schema = SampleRecord.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def as_records(records: Iterable[SampleRecord | Mapping[str, Any]]) -> list[SampleRecord]:
    """Records as ``SampleRecord``s: rows read from a results file are validated (and upgraded
    when written before ``schema_version``)."""
    result = []
    for r in records:
        if isinstance(r, SampleRecord):
            result.append(r)
            continue
        try:
            result.append(load_record(dict(r)))
        except ValidationError as e:
            raise UserError(
                f"results record {r.get('key')!r} does not match the results schema: "
                f"{first_validation_error(e)}",
                hint="results.jsonl is written by `parlantish eval`; do not edit it by hand",
            ) from e
    return result


def first_validation_error(e: ValidationError) -> str:
    """The first problem of a validation error, as ``where: what``."""
    error = e.errors()[0]
    where = ".".join(map(str, error["loc"]))
    return f"{where}: {error['msg']}" if where else error["msg"]
