"""``report.json`` as typed models: every number the report of a run holds, at full precision.

``parlantish.eval.analysis.build_report`` fills these from the records; renderers (table, HTML,
JUnit) read them and round only what they show. The JSON Schema is published as
``blueprints/report.schema.json`` (generated from ``Report``, checked for drift by a test).
Fields are added, never renamed; a change to the meaning of a field raises ``schema_version``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parlantish.eval.records import ArmGroup

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "ArmSummary",
    "CheckLength",
    "Comparison",
    "Consistency",
    "Cost",
    "HazardEntry",
    "IfevalScores",
    "LengthAnalysis",
    "LrBin",
    "LrTest",
    "McNemar",
    "Overhead",
    "Rate",
    "ReplicaThroughput",
    "Report",
    "RunInfo",
    "ScenarioCell",
    "SignTest",
    "SuiteRef",
    "ThresholdResult",
    "ThresholdsOutcome",
    "Throughput",
    "TurnRate",
    "report_json_schema",
]

REPORT_SCHEMA_VERSION: Literal[1] = 1
SCHEMA_ID = "https://parlantish.dev/schemas/report.schema.json"

Point = tuple[float, float]
Interval = tuple[float, float]


class _Model(BaseModel):
    # Every field is written, so the published schema (serialization mode) lists them all as
    # required; unknown fields are errors.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class Rate(_Model):
    """Samples passing out of ``n``, with a Wilson 95% interval."""

    n: int
    passed: int
    pass_rate: float
    ci: Interval


class IfevalScores(_Model):
    """IFEval accuracies over the samples that have checks with a loose mode."""

    prompts: int
    instructions: int
    prompt_level_strict: float
    prompt_level_loose: float
    instruction_level_strict: float
    instruction_level_loose: float


class Consistency(_Model):
    """pass^k for k = 1… (mean over scenarios) and the pairwise agreement of samples."""

    pass_hat_k: list[float]
    agreement: float | None
    scenarios: int


class Cost(_Model):
    """Tokens and latency per sample."""

    prompt_tokens_mean: float
    completion_tokens_mean: float
    completion_tokens_total: int
    latency_s_mean: float
    latency_s_p50: float
    latency_s_p95: float


class CheckLength(_Model):
    """The constant-rate fit of one locatable check."""

    outputs: int
    violations: int
    e: float
    e_ci: Interval


class HazardEntry(_Model):
    """The empirical hazard at one unit position."""

    unit: int
    start_token: float
    end_token: float
    at_risk: int
    events: int
    per_token: float


class LrBin(_Model):
    """The rate fitted in one bin of unit positions."""

    units: tuple[int, int]
    e: float
    events: int
    tokens: int


class LrTest(_Model):
    """Likelihood-ratio test of a constant per-token rate against per-bin rates."""

    statistic: float
    df: int
    p_value: float
    trend: Literal["rises", "falls", "flat"]
    bins: list[LrBin]


class LengthAnalysis(_Model):
    """Do errors compound as (1-e)^n? Survival, hazard, the fit and its test, for one group."""

    units: list[str]
    outputs: int
    violations: int
    tokens_observed: int
    e: float
    e_ci: Interval
    survival: list[Point] = Field(description="Kaplan–Meier steps (tokens, S), thinned.")
    predicted: list[Point] = Field(description="(1-e)^n on a grid of token counts.")
    hazard: list[HazardEntry]
    lr_test: LrTest
    conclusion: str
    per_check: dict[str, CheckLength]


class TurnRate(_Model):
    """The pass rate at one turn of multi-turn conversations (backend errors left out), and
    how many of the instructions checked at turn 1 are still followed (``retention``)."""

    turn: int
    n: int
    passed: int
    pass_rate: float
    ci_low: float
    ci_high: float
    retention: float | None = Field(
        None, description="Turn 1's checks still passed at this turn, over those re-checked."
    )


class Recovery(_Model):
    """Error injection: of the conversations where the suite put in a reply (``inject``), the
    turns right after it that passed their checks (backend errors left out)."""

    n: int = Field(description="Turns judged right after an injected reply.")
    passed: int
    pass_rate: float
    ci_low: float
    ci_high: float
    injected: int = Field(description="Injected turns.")


class ArmSummary(_Model):
    """One group's results: the pass rate of the samples judged (backend errors left out),
    checks, consistency, cost, length."""

    group: ArmGroup = Field(description="The arm and its length setting.")
    n: int = Field(description="Samples judged.")
    passed: int
    pass_rate: float
    ci: Interval
    samples: int
    errors: int = Field(description="Samples whose backend failed (left out of rates).")
    output_errors: int = Field(description="Samples whose output was cut or malformed.")
    per_check: dict[str, Rate]
    per_tier: dict[str, Rate] = Field(
        default_factory=dict,
        description="Check verdicts by tier (enforced, repaired, reminded, none).",
    )
    enforced_broken: int = Field(
        0, description="Failed verdicts of enforced checks: defects of the constraint (expect 0)."
    )
    consistency: Consistency
    cost: Cost | None = Field(description="Null when no sample was judged.")
    length: LengthAnalysis
    ifeval: IfevalScores | None = None
    per_turn: list[TurnRate] = Field(
        default_factory=list, description="Multi-turn conversations: one entry per turn."
    )
    recovery: Recovery | None = Field(
        None, description="Error injection: recovery right after injected replies, else null."
    )
    degenerate: int = Field(
        0,
        description="Judged replies that loop (the not_degenerate check with its defaults "
        "fails), whatever checks the suite asked for.",
    )


class Throughput(_Model):
    """Generation throughput read off the rows: completion tokens over the span from the
    first row's start (``finished_at`` − ``latency_s``) to the last row's finish (a resumed
    run's pause included)."""

    records: int = Field(description="Generated rows (injected turns left out).")
    completion_tokens: int
    span_s: float
    tokens_per_s: float | None = Field(
        description="Null when the span is under a second (the finish times' resolution)."
    )


class ReplicaThroughput(Throughput):
    """One engine replica's share of a cluster run."""

    replica: int


class McNemar(_Model):
    only_arm_passed: int
    only_baseline_passed: int
    p_value: float


class SignTest(_Model):
    better: int
    worse: int
    ties: int
    p_value: float


class Comparison(_Model):
    """An arm against a baseline arm of the same length, paired by (scenario, sample)."""

    arm: str
    baseline: str
    length: int | None
    pairs: int
    scenarios: int
    pass_rate: float
    baseline_pass_rate: float
    difference: float
    difference_ci: Interval
    mcnemar: McNemar
    sign_test: SignTest
    cohens_h: float


class Overhead(_Model):
    """Completion tokens of a blueprint arm against a ``cot`` arm of the same length."""

    arm: str
    baseline: str
    length: int | None
    completion_tokens_mean: float
    baseline_completion_tokens_mean: float
    ratio: float | None


class ScenarioCell(_Model):
    """One scenario on one group."""

    n: int
    passed: int
    pass_rate: float
    pass_hat_k: list[float] = Field(default_factory=list)
    agreement: float | None = None
    errors: int = 0
    failed_checks: dict[str, int] = Field(default_factory=dict)
    latency_s: float = 0.0


class ThresholdResult(_Model):
    name: str
    passed: bool
    actual: int | float | None


class ThresholdsOutcome(_Model):
    """The suite's thresholds checked: ``parlantish eval`` exits with 1 when one fails."""

    results: list[ThresholdResult]
    passed: bool
    case_pass_rate: float


class SuiteRef(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    name: str | None = None
    path: str | None = None
    hash: str | None = None


class RunInfo(BaseModel):
    """What produced the run: a copy of ``run.json`` (fields it gains later pass through)."""

    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    suite: SuiteRef = Field(default_factory=SuiteRef)
    backend: str | None = None
    model: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)
    seed: int | None = None
    thresholds: dict[str, Any] = Field(default_factory=dict)
    arms: list[dict[str, Any]] = Field(default_factory=list)
    samples: int | None = None


class Report(_Model):
    """The report of a run. Groups (arm, length) are keyed by their display label in ``arms``
    and ``scenarios``; the typed pair is ``ArmSummary.group``."""

    schema_version: Literal[1] = REPORT_SCHEMA_VERSION
    report_version: Literal[1] = Field(1, description="Older name of schema_version.")
    run: RunInfo
    samples: int
    arms: dict[str, ArmSummary]
    comparisons: list[Comparison]
    overhead: dict[str, Overhead]
    scenarios: dict[str, dict[str, ScenarioCell]]
    thresholds: ThresholdsOutcome
    throughput: Throughput | None = Field(
        None, description="The run's generation throughput; null when no row was generated."
    )
    replicas: list[ReplicaThroughput] = Field(
        default_factory=list,
        description="A cluster run's throughput per engine replica (empty for a local run).",
    )


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``report.json``, generated from ``Report``."""
    schema = Report.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
