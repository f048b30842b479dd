"""A scenario ready to run, and the error type for bad suite files (shared by the suite loader
and the IFEval importer)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from parlantish.blueprint import Blueprint
from parlantish.blueprint.model import SegmentsSpec
from parlantish.blueprint.source import Problem
from parlantish.checks import Check
from parlantish.errors import UserError

__all__ = ["LoadedScenario", "LoadedTurn", "SuiteError", "messages_hash", "with_segments"]


class SuiteError(UserError):
    """A suite file has problems; ``problems`` lists each with its location."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0].message + more, location=problems[0].location)


@dataclass(frozen=True)
class LoadedTurn:
    """One user turn: its message, its own checks, the earlier turns' checks it carries,
    variables that change at this turn (e.g. the instructions given so far), and an injected
    assistant reply when the suite puts one in (error injection)."""

    user: str
    own_checks: tuple[Check, ...] = ()
    carried_checks: tuple[Check, ...] = ()
    variables: dict[str, Any] = field(default_factory=dict)
    inject: str | None = None  # an assistant reply put in at this turn instead of the arm's


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario ready to compile: its blueprints loaded and checks built. With ``turns`` it
    is a conversation rolled out turn by turn (``messages`` are what comes before the first);
    ``checks`` apply at every turn."""

    id: str
    messages: tuple[dict[str, Any], ...]
    variables: dict[str, Any]
    blueprint: Blueprint
    checks: tuple[Check, ...]
    messages_hash: str
    turns: tuple[LoadedTurn, ...] = ()

    def turn_checks(self, turn: int) -> tuple[Check, ...]:
        """The checks on the reply at ``turn`` (1-based)."""
        spec = self.turns[turn - 1]
        return (*self.checks, *spec.carried_checks, *spec.own_checks)


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
