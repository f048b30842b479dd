"""Suite files: what an evaluation runs, as pydantic models read with located errors.

A suite lists scenarios (a conversation, variables, a blueprint, checks) and says how to run them:
which arms, how many samples, sampling settings, lengths to sweep, pass thresholds for CI.
IFEval-format JSONL files become scenarios through ``parlantish.eval.ifeval_import`` (a suite
can ``include`` them, or the file can be given instead of a suite).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from parlantish.blueprint import Blueprint, BlueprintError, load_blueprint
from parlantish.blueprint.files import (
    MAX_JSONL_BYTES,
    FileRefused,
    default_roots,
    read_limited,
    resolve_reference,
)
from parlantish.blueprint.model import SegmentsSpec
from parlantish.blueprint.schema import pydantic_problems
from parlantish.blueprint.semantics import segments_problems
from parlantish.blueprint.source import Problem, SourceDocument, read_source
from parlantish.checks import Check, CheckSpecError, build_checks
from parlantish.compiler import ARMS, validate_messages
from parlantish.core import SamplingSettings
from parlantish.errors import Location, UserError
from parlantish.eval.ifeval_import import is_jsonl, load_ifeval_scenarios
from parlantish.eval.scenario import (
    LoadedScenario,
    LoadedTurn,
    SuiteError,
    messages_hash,
    with_segments,
)

__all__ = [
    "ArmSpec",
    "LoadedSuite",
    "ScenarioSpec",
    "SuiteFile",
    "Thresholds",
    "TurnSpec",
    "load_suite",
    "suite_for_csv",
    "suite_for_jsonl",
    "suite_json_schema",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmSpec(_Strict):
    """An arm compared by name: a kind (``direct``, ``cot``, ``blueprint``, ``stepwise``,
    ``repair``) and, for variants, another blueprint file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: Literal["blueprint", "direct", "cot", "stepwise", "repair", "remind", "enforced"] = (
        "blueprint"
    )
    blueprint: str | None = Field(None, description="Blueprint file (relative to the suite).")


class SamplingSpec(_Strict):
    """Sampling for every request (consistency is about repeated sampling: temperature > 0).
    Cuts and penalties default to the model's own; seeds come from the suite's ``seed``."""

    temperature: float = Field(0.7, ge=0, le=5)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="Most tokens of the visible reply; the plan's checkpoints get their own "
        "budget on top. Default: the plan's own budget.",
    )
    # The five below default to the model's own (its generation config; no cut and no penalty
    # when it sets none: the embedded model's repetition penalty is 1.1, which keeps it out of
    # loops). A value given here is sent to every request.
    top_k: int | None = Field(
        None, ge=-1, description="Keep the k likeliest tokens; 0 or -1: no cut."
    )
    min_p: float | None = Field(
        None, ge=0, le=1, description="Drop tokens below min_p × the top one."
    )
    repetition_penalty: float | None = Field(None, gt=0, le=2, description="1: no penalty.")
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    stop: list[str] = Field(
        default_factory=list, max_length=4, description="Strings that end the whole output."
    )
    min_tokens: int = Field(0, ge=0, description="Tokens before EOS or a stop string may end.")

    def settings(self, *, max_tokens: int, seed: int | None) -> SamplingSettings:
        """The engine's sampling settings for one request (``max_tokens``: the engine's)."""
        return SamplingSettings(
            **self.model_dump(exclude={"max_tokens", "stop"}),
            stop=tuple(self.stop),
            max_tokens=max_tokens,
            seed=seed,
        )


class ImprovementThreshold(_Strict):
    """``arm`` must beat ``over`` by at least ``by`` in pass rate."""

    arm: str
    over: str
    by: float = 0.0


class Thresholds(_Strict):
    """Pass thresholds: a failed one makes ``parlantish eval`` exit with 1."""

    pass_rate: dict[str, float] = Field(
        default_factory=dict, description="Arm name → lowest acceptable pass rate."
    )
    case_pass_rate: float = Field(
        1.0, ge=0, le=1, description="A scenario × arm JUnit case fails below this pass rate."
    )
    improvement: list[ImprovementThreshold] = Field(default_factory=list)


class TurnSpec(_Strict):
    """One user turn of a multi-turn scenario, and the checks on the reply to it."""

    user: str = Field(min_length=1, description="What the user says at this turn.")
    checks: list[str | dict[str, Any]] = Field(default_factory=list)
    carry: bool = Field(False, description="The earlier turns' checks apply at this turn too.")
    inject: str | None = Field(
        None,
        min_length=1,
        description="Error injection: this assistant reply (e.g. one that breaks a rule) goes "
        "into the conversation at this turn instead of the arm's own; it is recorded with "
        "injected: true, left out of pass rates, and the next turn measures recovery.",
    )


class ScenarioSpec(_Strict):
    """One conversation to sample: ``messages`` (one turn), or ``turns`` after optional
    leading ``messages`` (a rollout: each arm's own replies go into the next turn)."""

    id: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    turns: list[TurnSpec] | None = Field(None, min_length=1, max_length=100)
    variables: dict[str, Any] = Field(default_factory=dict)
    blueprint: str | None = None
    checks: list[str | dict[str, Any]] = Field(default_factory=list)
    segments: SegmentsSpec | None = None

    @model_validator(mode="after")
    def _something_to_say(self) -> ScenarioSpec:
        if not self.messages and not self.turns:
            raise ValueError("a scenario needs `messages` or `turns`")
        if self.turns and self.turns[-1].inject is not None:
            raise ValueError("the last turn cannot be injected: no later turn would show recovery")
        return self


class SuiteFile(_Strict):
    """A consistency suite."""

    schema_ref: str | None = Field(None, alias="$schema")
    suite: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    blueprint: str | None = Field(None, description="Default blueprint file for scenarios.")
    arms: list[str | ArmSpec] = Field(
        default_factory=lambda: list[str | ArmSpec](["direct", "blueprint"])
    )
    samples: int = Field(5, ge=1, le=10_000)
    sampling: SamplingSpec = Field(default_factory=SamplingSpec)
    seed: int = 0
    lengths: list[int] | None = Field(None, min_length=1, description="max_tokens to sweep.")
    concurrency: int = Field(64, ge=1, le=4096)
    window_tokens: int = Field(32, ge=1, description="Token window of the length analysis.")
    checks: list[str | dict[str, Any]] = Field(
        default_factory=list, description="Checks applied to every scenario."
    )
    segments: SegmentsSpec | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    include: list[str] = Field(default_factory=list, description="IFEval-format JSONL files.")
    scenarios: list[ScenarioSpec] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _something_to_run(self) -> SuiteFile:
        if not self.scenarios and not self.include:
            raise ValueError("a suite needs `scenarios` or `include`")
        return self


SUITE_SCHEMA_ID = "https://parlantish.dev/schemas/suite.schema.json"


def suite_json_schema() -> dict[str, Any]:
    """The JSON Schema of suite files, generated from ``SuiteFile`` (for editors: put
    ``# yaml-language-server: $schema=…/suite.schema.json`` at the top of a suite)."""
    schema = SuiteFile.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SUITE_SCHEMA_ID,
        **schema,
    }


@dataclass(frozen=True)
class LoadedSuite:
    """A suite with its scenarios resolved: what the runner needs."""

    spec: SuiteFile
    path: str
    scenarios: tuple[LoadedScenario, ...]
    arms: tuple[ArmSpec, ...]
    arm_blueprints: dict[str, Blueprint] = field(default_factory=dict)  # variants by arm name
    hash: str = ""
    bad_rows: list[str] = field(default_factory=list)  # rows left out of an imported file

    def with_sampling(self, overrides: dict[str, Any]) -> LoadedSuite:
        """The suite with some of its ``sampling`` settings replaced (a command line's); a bad
        value is a ``UserError`` naming the setting."""
        if not overrides:
            return self
        try:
            sampling = SamplingSpec.model_validate(self.spec.sampling.model_dump() | overrides)
        except ValidationError as e:
            first = e.errors()[0]
            name = ".".join(str(part) for part in first["loc"])
            raise UserError(f"sampling.{name}: {first['msg']}") from e
        spec = self.spec.model_copy(update={"sampling": sampling})
        return dataclasses.replace(self, spec=spec)

    @property
    def name(self) -> str:
        return self.spec.suite


class _Loader:
    def __init__(self, doc: SourceDocument):
        self.doc = doc
        self.base = Path(doc.path).parent
        self.roots = default_roots(doc.path)
        self.problems: list[Problem] = []
        self.blueprints: dict[str, Blueprint] = {}

    def at(self, *path: Any) -> Location:
        return self.doc.locate(tuple(path))

    def reference(self, ref: str, *path: Any) -> Path:
        """A file the suite names, inside the allowed roots (else a located ``SuiteError``)."""
        try:
            return resolve_reference(ref, self.doc.path, self.roots)
        except FileRefused as e:
            raise SuiteError([Problem(self.at(*path), f"{e.message} ({e.hint})")]) from e

    def blueprint(self, ref: str, *path: Any, segments: SegmentsSpec | None = None) -> Blueprint:
        resolved = str(self.reference(ref, *path))
        if resolved not in self.blueprints:
            try:
                self.blueprints[resolved] = load_blueprint(resolved, roots=self.roots)
            except BlueprintError as e:
                # Located at the suite's reference first, then the blueprint's own problems.
                first = Problem(self.at(*path), f"blueprint {ref}: {e.problems[0]}")
                raise SuiteError([first, *e.problems]) from e
        loaded = self.blueprints[resolved]
        if segments is None:
            return loaded
        try:
            return with_segments(loaded, segments)
        except UserError as e:
            raise SuiteError([Problem(self.at(*path), str(e))]) from e

    def segments(self, segments: SegmentsSpec | None, *path: Any) -> None:
        problems = segments_problems(segments) if segments is not None else []
        if problems:
            raise SuiteError([Problem(self.at(*path), message) for message in problems])

    def checks(self, specs: list[Any], *path: Any) -> list[Check]:
        try:
            return build_checks(specs, path)
        except CheckSpecError as e:
            raise SuiteError([Problem(self.at(*e.path), str(e))]) from e


def _arms(spec: SuiteFile, loader: _Loader) -> tuple[tuple[ArmSpec, ...], dict[str, Blueprint]]:
    arms: list[ArmSpec] = []
    variants: dict[str, Blueprint] = {}
    for index, raw in enumerate(spec.arms):
        if isinstance(raw, str):
            if raw not in ARMS:
                raise SuiteError(
                    [
                        Problem(
                            loader.at("arms", index),
                            f"unknown arm {raw!r}: use {', '.join(ARMS)} or "
                            "{name: …, blueprint: FILE}",
                        )
                    ]
                )
            arm = ArmSpec(name=raw, kind=raw)  # type: ignore[arg-type]
        else:
            arm = raw
            if arm.blueprint is not None:
                variants[arm.name] = loader.blueprint(
                    arm.blueprint, "arms", index, "blueprint", segments=spec.segments
                )
        if arm.name in {a.name for a in arms}:
            raise SuiteError([Problem(loader.at("arms", index), f"arm {arm.name!r} is repeated")])
        arms.append(arm)
    return tuple(arms), variants


def suite_for_jsonl(path: str | Path) -> LoadedSuite:
    """A suite of default settings around an IFEval-format file (``parlantish eval FILE``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", Path(path).stem).lstrip("_.-") or "ifeval"
    spec = SuiteFile(suite=name, include=[str(path)])
    scenarios = load_ifeval_scenarios(path)
    arms = tuple(ArmSpec(name=a, kind=a) for a in spec.arms if isinstance(a, str))  # type: ignore[arg-type]
    try:
        digest = hashlib.sha256(read_limited(path, MAX_JSONL_BYTES)).hexdigest()[:16]
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from e
    return LoadedSuite(spec, str(path), tuple(scenarios), arms, {}, digest)


def suite_for_csv(path: str | Path, *, skip_bad: bool = False) -> LoadedSuite:
    """A suite of default settings around a Multi-IF CSV file (``parlantish eval FILE.csv``):
    multi-turn conversations, IFEval checks per turn. Bad rows are located errors, or with
    ``skip_bad`` left out and listed in ``bad_rows``."""
    from parlantish.eval.multiif_import import load_multiif_scenarios

    name = re.sub(r"[^A-Za-z0-9_.-]", "-", Path(path).stem).lstrip("_.-") or "multiif"
    spec = SuiteFile(suite=name, include=[str(path)])
    scenarios, bad, digest = load_multiif_scenarios(path, skip_bad=skip_bad)
    arms = tuple(ArmSpec(name=a, kind=a) for a in spec.arms if isinstance(a, str))  # type: ignore[arg-type]
    suite = LoadedSuite(spec, str(path), tuple(scenarios), arms, {}, digest)
    suite.bad_rows.extend(f"{row.location}: {row.message}" for row in bad)
    return suite


def load_suite(path: str | Path, *, skip_bad: bool = False) -> LoadedSuite:
    """Load a suite file (YAML/JSON) or an IFEval-format JSONL file as a suite.

    Raises ``SuiteError`` (located problems), ``BlueprintError`` for a referenced blueprint, or
    ``UserError``."""
    if is_jsonl(path):
        return suite_for_jsonl(path)
    if str(path).lower().endswith(".csv"):
        return suite_for_csv(path, skip_bad=skip_bad)
    doc, problems = read_source(path)
    if doc is None:
        raise SuiteError(problems)
    if not isinstance(doc.data, dict):
        raise SuiteError([Problem(doc.locate(()), "a suite file must be a mapping")])
    try:
        spec = SuiteFile.model_validate(doc.data)
    except ValidationError as e:
        raise SuiteError(pydantic_problems(doc, e)) from e
    loader = _Loader(doc)
    loader.segments(spec.segments, "segments")
    arms, variants = _arms(spec, loader)
    common = loader.checks(list(spec.checks), "checks")
    scenarios = []
    for index, scenario in enumerate(spec.scenarios):
        scenarios.append(_scenario(spec, scenario, index, loader, common))
    for index, include in enumerate(spec.include):
        scenarios.extend(
            load_ifeval_scenarios(
                loader.reference(include, "include", index),
                extra_checks=common,
                segments=spec.segments,
                blueprint=(
                    loader.blueprint(spec.blueprint, "blueprint", segments=spec.segments)
                    if spec.blueprint
                    else None
                ),
                where=loader.at("include", index),
            )
        )
    ids = [s.id for s in scenarios]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SuiteError([Problem(loader.at("scenarios"), f"repeated scenario ids: {repeated}")])
    digest = hashlib.sha256(doc.text.encode()).hexdigest()[:16]
    return LoadedSuite(spec, doc.path, tuple(scenarios), arms, variants, digest)


def _scenario(
    spec: SuiteFile, scenario: ScenarioSpec, index: int, loader: _Loader, common: list[Check]
) -> LoadedScenario:
    where = ("scenarios", index)
    ref = scenario.blueprint or spec.blueprint
    if ref is None:
        raise SuiteError(
            [
                Problem(
                    loader.at(*where),
                    f"scenario {scenario.id!r} has no blueprint (and the "
                    "suite names no default `blueprint`)",
                )
            ]
        )
    loader.segments(scenario.segments, *where, "segments")
    segments = scenario.segments or spec.segments
    # Located where the reference is written: the scenario's own, else the suite's default.
    ref_at = (*where, "blueprint") if scenario.blueprint else ("blueprint",)
    blueprint = loader.blueprint(ref, *ref_at, segments=segments)
    try:
        validate_messages(scenario.messages)
    except UserError as e:
        raise SuiteError([Problem(loader.at(*where, "messages"), str(e))]) from e
    checks = [
        *common,
        *loader.checks(list(scenario.checks), *where, "checks"),
        *loader.checks(list(blueprint.spec.checks), *where, "blueprint"),
    ]
    turns: list[LoadedTurn] = []
    for number, turn in enumerate(scenario.turns or []):
        own = loader.checks(list(turn.checks), *where, "turns", number, "checks")
        carried = [c for earlier in turns for c in earlier.own_checks] if turn.carry else []
        turns.append(LoadedTurn(turn.user, tuple(own), tuple(carried), inject=turn.inject))
    hashed: Any = [scenario.messages, [t.user for t in turns]] if turns else scenario.messages
    if any(t.inject is not None for t in turns):  # (runs without injections keep their hash)
        hashed.append([t.inject for t in turns])
    return LoadedScenario(
        id=scenario.id,
        messages=tuple(scenario.messages),
        variables=dict(scenario.variables),
        blueprint=blueprint,
        checks=tuple(checks),
        messages_hash=messages_hash(hashed),
        turns=tuple(turns),
    )
