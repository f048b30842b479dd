"""Checking text against a constraint, independently of any engine.

Used by the scripted backend (so scripted outputs are realistic) and by the runtime to detect
malformed generations from servers that do not honour structured outputs.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jsonschema

from parlantish.core.constraints import Constraint, ConstraintKind
from parlantish.core.formats import format_error

__all__ = ["conformance_error"]


def conformance_error(constraint: Constraint, text: str) -> str | None:
    """Why ``text`` does not satisfy ``constraint``, or ``None`` when it does.

    Structural tags, and grammars translated from a format tree, are checked against the tree
    (``parlantish.core.formats.format_error``); other grammars with Lark when it is installed.
    """
    kind = constraint.kind
    if kind is ConstraintKind.JSON_SCHEMA:
        try:
            value = json.loads(text)
        except ValueError as e:
            return f"not JSON: {e}"
        error = jsonschema.exceptions.best_match(
            jsonschema.validators.validator_for(constraint.payload)(constraint.payload).iter_errors(
                value
            )
        )
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return f"JSON does not match the schema at {where}: {error.message}"
        return None
    if kind is ConstraintKind.REGEX:
        return (
            None
            if re.fullmatch(constraint.payload, text, re.DOTALL)
            else "does not match the regex"
        )
    if kind is ConstraintKind.CHOICE:
        return None if text in constraint.payload else f"not one of {list(constraint.payload)}"
    if kind is ConstraintKind.GRAMMAR:
        if constraint.source is not None:
            return format_error(constraint.source, text)
        return _grammar_error(constraint.payload, text)
    return format_error(constraint.payload.get("format", {}), text)


def _grammar_error(grammar: str, text: str) -> str | None:
    parser = _lark_parser(grammar)
    if parser is None:
        return None
    try:
        parser.parse(text)
    except Exception as e:  # lark's error classes vary; any parse failure is non-conformance
        return f"does not parse with the grammar: {str(e).splitlines()[0]}"
    return None


@lru_cache(maxsize=64)
def _lark_parser(grammar: str) -> Any:
    try:
        import lark
    except ImportError:
        return None
    try:
        return lark.Lark(grammar, start="start", parser="earley", lexer="dynamic")
    except Exception:
        return None
