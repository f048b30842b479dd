"""Turning ``--var k=v`` flags into typed variables for a blueprint."""

from __future__ import annotations

import json
from typing import Any

from parlantish.blueprint.model import VariableSpec
from parlantish.errors import UserError

__all__ = ["parse_var_flags"]


def parse_var_flags(pairs: tuple[str, ...], declared: dict[str, VariableSpec]) -> dict[str, Any]:
    """``name=value`` pairs; values of non-string variables are read as JSON (``count=3``,
    ``tags=["a"]``), string variables take the text as is."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise UserError(f"--var {pair!r} is not name=value")
        spec = declared.get(name)
        if spec is None or spec.type == "string":
            values[name] = raw  # unknown names are reported by variable validation
            continue
        try:
            values[name] = json.loads(raw)
        except ValueError as e:
            raise UserError(
                f"--var {name}: {raw!r} is not a valid {spec.type} (read as JSON)"
            ) from e
    return values
