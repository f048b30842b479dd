"""A scenario ready to run, and the error type for bad suite files (shared by the suite loader
and the IFEval importer)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from parlantish.blueprint import Blueprint
from parlantish.blueprint.model import SegmentsSpec
from parlantish.blueprint.source import Problem
from parlantish.checks import Check
from parlantish.errors import UserError

__all__ = ["LoadedScenario", "SuiteError", "messages_hash", "with_segments"]


class SuiteError(UserError):
    """A suite file has problems; ``problems`` lists each with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0].message + more, location=problems[0].location)


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario ready to compile: its blueprints loaded and checks built."""

    id: str
    messages: tuple[dict[str, Any], ...]
    variables: dict[str, Any]
    blueprint: Blueprint
    checks: tuple[Check, ...]
    messages_hash: str


def messages_hash(messages: Any) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:16]


def with_segments(blueprint: Blueprint, segments: SegmentsSpec) -> Blueprint:
    """The blueprint with its long-form ``segments`` replaced (a new hash: a different plan)."""
    unknown = [name for name in segments.recall if name not in blueprint.spec.instructions]
    if unknown:
        raise UserError(
            f"segments recall unknown instruction(s) {unknown} of blueprint {blueprint.name!r}",
            hint=f"its instructions: {', '.join(blueprint.spec.instructions) or 'none'}",
        )
    spec = blueprint.spec.model_copy(update={"segments": segments})
    digest = hashlib.sha256(
        (blueprint.hash + json.dumps(segments.model_dump(), sort_keys=True)).encode()
    ).hexdigest()[:16]
    return Blueprint(spec=spec, path=blueprint.path, locations=blueprint.locations, hash=digest)
