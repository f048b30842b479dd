"""User regular expressions, compiled once and matched with a time limit.

Patterns come from blueprint and suite files (``matches``, answer ``pattern``s, IFEval keywords),
and a pattern such as ``(a+)+$`` takes exponential time on a long reply with Python's ``re``.
The ``regex`` package (a superset of ``re``'s syntax) takes a ``timeout``: a match that runs
past it raises ``PatternTimeout`` instead of hanging the run.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
import regex

__all__ = [
    "MATCH_TIMEOUT_S",
    "MAX_PATTERN_LENGTH",
    "PatternTimeout",
    "compile_pattern",
    "pattern_problem",
    "safe_findall",
    "safe_fullmatch",
    "safe_search",
    "safe_split",
    "safe_validator",
]

#: Longest pattern accepted.
MAX_PATTERN_LENGTH = 10_000
#: Seconds one match may take.
MATCH_TIMEOUT_S = 0.2


class PatternTimeout(Exception):
    """A match ran past ``MATCH_TIMEOUT_S``: the pattern backtracks too much on this text."""

    def __init__(self, pattern: str, length: int):
        self.pattern = pattern
        super().__init__(
            f"the pattern {pattern[:80]!r} took longer than {MATCH_TIMEOUT_S} s on "
            f"{length} characters (catastrophic backtracking?)"
        )


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: int = 0) -> Any:
    """The compiled pattern (``ValueError`` with a readable reason when it is invalid)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return regex.compile(pattern, flags | regex.VERSION0)
    except (regex.error, OverflowError, RecursionError, MemoryError, TypeError) as e:
        raise ValueError(f"invalid regex: {e}") from e


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used (``None`` when it compiles)."""
    try:
        compile_pattern(pattern)
    except ValueError as e:
        return str(e)
    return None


def _run(method: str, pattern: str, text: str, flags: int, timeout: float | None) -> Any:
    compiled = compile_pattern(pattern, flags)
    try:
        return getattr(compiled, method)(text, timeout=timeout or MATCH_TIMEOUT_S)
    except TimeoutError as e:
        raise PatternTimeout(pattern, len(text)) from e


def safe_search(pattern: str, text: str, flags: int = 0, timeout: float | None = None) -> Any:
    """``re.search`` with a time limit (``PatternTimeout``)."""
    return _run("search", pattern, text, flags, timeout)


def safe_fullmatch(pattern: str, text: str, flags: int = 0, timeout: float | None = None) -> Any:
    """``re.fullmatch`` with a time limit (``PatternTimeout``)."""
    return _run("fullmatch", pattern, text, flags, timeout)


def safe_findall(
    pattern: str, text: str, flags: int = 0, timeout: float | None = None
) -> list[Any]:
    """``re.findall`` with a time limit (``PatternTimeout``)."""
    return list(_run("findall", pattern, text, flags, timeout))


def safe_split(pattern: str, text: str, flags: int = 0, timeout: float | None = None) -> list[Any]:
    """``re.split`` with a time limit (``PatternTimeout``)."""
    return list(_run("split", pattern, text, flags, timeout))


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = safe_search(pattern, instance)
    except ValueError as e:
        yield jsonschema.ValidationError(f"the schema's pattern {pattern!r} is unusable: {e}")
        return
    if not found:
        yield jsonschema.ValidationError(f"{instance[:80]!r} does not match {pattern!r}")


def _pattern_properties_keyword(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        if pattern_problem(pattern) is not None:
            yield jsonschema.ValidationError(f"the schema's pattern {pattern!r} is unusable")
            continue
        for key, value in instance.items():
            if safe_search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def safe_validator(schema: Any) -> Any:
    """A JSON Schema validator for ``schema`` whose ``pattern`` and ``patternProperties`` match
    with the time limit (``PatternTimeout``) and refuse invalid patterns as ``ValueError``."""
    base = jsonschema.validators.validator_for(schema)
    safe = jsonschema.validators.extend(
        base, {"pattern": _pattern_keyword, "patternProperties": _pattern_properties_keyword}
    )
    return safe(schema)
