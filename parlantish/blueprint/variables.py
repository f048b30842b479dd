"""Checking the variables a call supplies against the blueprint's declarations."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from parlantish.blueprint.model import VariableSpec
from parlantish.blueprint.semantics import DRAFT, variable_json_schema
from parlantish.checks.patterns import PatternTimeout, safe_validator
from parlantish.errors import UserError

__all__ = ["VariablesError", "resolve_variables"]


class VariablesError(UserError):
    """A call's variables are missing, unknown, or of the wrong type; ``problems`` lists each."""

    def __init__(self, problems: list[str], declared: list[str]):
        self.problems = problems
        super().__init__(
            "; ".join(problems), hint=f"declared variables: {', '.join(declared) or 'none'}"
        )


@lru_cache(maxsize=1024)
def _validator_for(schema_json: str) -> Any:
    return safe_validator({"$schema": DRAFT, **json.loads(schema_json)})


def _validator(spec: VariableSpec) -> jsonschema.protocols.Validator:
    return _validator_for(json.dumps(variable_json_schema(spec), sort_keys=True))


def resolve_variables(
    declared: Mapping[str, VariableSpec], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The call's variables with defaults filled in.

    Raises ``VariablesError`` naming each missing, unknown or ill-typed variable."""
    given = dict(given or {})
    names = list(declared)
    problems = []
    for name in given:
        if name not in declared:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            problems.append(
                f"unknown variable {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in given:
            value = given[name]
        elif "default" in spec.model_fields_set:
            value = spec.default
        else:
            problems.append(f"missing variable {name!r}")
            continue
        try:
            error = jsonschema.exceptions.best_match(_validator(spec).iter_errors(value))
        except PatternTimeout as e:
            problems.append(f"variable {name!r}: {e}")
            continue
        if error is not None:
            problems.append(f"variable {name!r}: {error.message}")
        values[name] = value
    if problems:
        raise VariablesError(problems, names)
    return values
