"""What ``parlantish compare`` writes: two runs compared sample by sample, as typed models.

``parlantish.eval.compare.compare_runs`` fills these from the records of two runs; the table
renderer rounds what it shows, the JSON keeps full precision. The JSON Schema is published as
``blueprints/compare.schema.json`` (generated from ``RunComparison``, checked for drift by a
test). Fields are added, never renamed; a change to the meaning of a field raises
``schema_version``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parlantish.eval.records import ArmGroup
from parlantish.eval.report_model import Interval

__all__ = [
    "COMPARE_SCHEMA_VERSION",
    "ArmDelta",
    "BootstrapSettings",
    "Delta",
    "Discordant",
    "Excluded",
    "GroupDelta",
    "RunComparison",
    "RunRef",
    "SideRate",
    "TurnDelta",
    "compare_json_schema",
]

COMPARE_SCHEMA_VERSION: Literal[1] = 1
SCHEMA_ID = "https://parlantish.dev/schemas/compare.schema.json"


class _Model(BaseModel):
    # Every field is written, so the published schema (serialization mode) lists them all as
    # required; unknown fields are errors.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class RunRef(_Model):
    """One of the two runs: where it was read from and what produced it."""

    path: str = Field(description="The run's output folder, as given.")
    suite: str | None = Field(description="The suite's name (run.json, else the records').")
    model: str | None = None
    backend: str | None = None
    records: int = Field(description="Rows read from its results.jsonl.")


class Excluded(_Model):
    """Samples that were not compared, by reason."""

    only_in_a: int = Field(description="Samples of run A with no counterpart in run B.")
    only_in_b: int = Field(description="Samples of run B with no counterpart in run A.")
    errored: int = Field(description="Pairs where either sample ended in a backend error.")
    injected: int = Field(
        0, description="Pairs of turns whose reply the suite put in (not judged in either run)."
    )


class BootstrapSettings(_Model):
    """How the interval of each difference was computed."""

    unit: Literal["scenario"] = Field(
        "scenario",
        description="What is resampled: whole scenarios with all their pairs (samples of one "
        "scenario are not independent).",
    )
    resamples: int
    seed: int


class SideRate(_Model):
    """The pass rate of one run over the compared pairs, with a Wilson interval."""

    passed: int
    pass_rate: float
    ci: Interval


class Discordant(_Model):
    """The exact McNemar test on the discordant pairs."""

    only_a_passed: int = Field(description="Pairs passed in run A only (McNemar's b).")
    only_b_passed: int = Field(description="Pairs passed in run B only (McNemar's c).")
    p_value: float = Field(description="Two-sided exact p-value (binomial, b of b + c at 1/2).")


class Delta(_Model):
    """Run B against run A over the same pairs: both pass rates, the difference B - A with a
    bootstrap interval, and McNemar's test."""

    pairs: int = Field(description="Pairs compared (judged in both runs).")
    scenarios: int = Field(description="Scenarios the pairs come from.")
    a: SideRate
    b: SideRate
    difference: float = Field(description="Pass rate of B minus pass rate of A.")
    difference_ci: Interval | None = Field(
        description="Percentile bootstrap interval of the difference, resampling scenarios; "
        "null with fewer than two scenarios (nothing to resample)."
    )
    mcnemar: Discordant


class TurnDelta(Delta):
    """The comparison at one turn of multi-turn conversations."""

    turn: int = Field(ge=1)


class GroupDelta(Delta):
    """The comparison over a set of pairs, and at each turn where the pairs are turns."""

    per_turn: list[TurnDelta] = Field(
        default_factory=list, description="Multi-turn conversations: one entry per turn."
    )


class ArmDelta(GroupDelta):
    """The comparison of one (arm, length) group."""

    group: ArmGroup = Field(description="The arm and its length setting.")


class RunComparison(_Model):
    """Two finished runs compared pair by pair: samples are paired by (scenario, arm, length,
    sample, turn). ``arms`` is keyed by the group's display label (``name`` or
    ``name@length``); ``overall`` pools every group."""

    schema_version: Literal[1] = COMPARE_SCHEMA_VERSION
    a: RunRef
    b: RunRef
    pairs: int = Field(description="Pairs compared, over all groups.")
    excluded: Excluded
    confidence: float = Field(description="The level of every interval.")
    bootstrap: BootstrapSettings
    arms: dict[str, ArmDelta]
    overall: GroupDelta = Field(description="Every group's pairs together.")
    warnings: list[str] = Field(
        default_factory=list, description="What may make the comparison misleading."
    )


def compare_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``parlantish compare --json``, generated from ``RunComparison``."""
    schema = RunComparison.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
