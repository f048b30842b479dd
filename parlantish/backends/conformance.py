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

__all__ = ["conformance_error", "structural_tag_regex"]


def conformance_error(constraint: Constraint, text: str) -> str | None:
    """Why ``text`` does not satisfy ``constraint``, or ``None`` when it does.

    Grammars are checked with Lark when it is installed; structural-tag elements without a text
    form (an embedded JSON schema, say) and ``max_tokens`` bounds are not checked here.
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
        return _grammar_error(constraint.payload, text)
    pattern = structural_tag_regex(constraint.payload.get("format", {}))
    if pattern is None or re.fullmatch(pattern, text, re.DOTALL):
        return None
    return "does not follow the structural tag's sequence of forced texts"


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


def structural_tag_regex(fmt: dict[str, Any]) -> str | None:
    """A regex equivalent to a structural-tag format, or ``None`` if it has untranslatable parts."""
    kind = fmt.get("type")
    if kind == "const_string":
        return re.escape(fmt["value"])
    if kind == "any_text":
        return ".*?"
    if kind == "sequence":
        parts = [structural_tag_regex(e) for e in fmt.get("elements", [])]
        return None if any(p is None for p in parts) else "".join(f"(?:{p})" for p in parts)
    if kind == "or":
        parts = [structural_tag_regex(e) for e in fmt.get("elements", [])]
        return None if any(p is None for p in parts) else "|".join(f"(?:{p})" for p in parts)
    if kind == "tag":
        inner = structural_tag_regex(fmt.get("content", {}))
        if inner is None:
            return None
        return f"{re.escape(fmt.get('begin', ''))}(?:{inner}){re.escape(fmt.get('end', ''))}"
    return None
