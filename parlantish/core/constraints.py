"""Structured-output constraints: what a generation must conform to.

A constraint is one of five kinds, each mapping onto one field of vLLM's structured outputs
(``json``, ``regex``, ``choice``, ``grammar``, ``structural_tag``). It is immutable and carries a
stable ``key`` so compiled plans and grammar caches can be keyed on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import jsonschema

from parlantish.core.formats import format_to_lark
from parlantish.errors import ConstraintError, UserError

__all__ = ["Constraint", "ConstraintKind", "rejection_error"]


class ConstraintKind(str, Enum):
    """The kinds of constraint, named as vLLM's ``StructuredOutputsParams`` fields."""

    JSON_SCHEMA = "json_schema"
    REGEX = "regex"
    CHOICE = "choice"
    GRAMMAR = "grammar"
    STRUCTURAL_TAG = "structural_tag"

    @property
    def vllm_field(self) -> str:
        """The field name in ``StructuredOutputsParams`` and the server's ``structured_outputs``."""
        return "json" if self is ConstraintKind.JSON_SCHEMA else self.value


def _canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Constraint:
    """Exactly one structured-output constraint.

    ``payload`` is a JSON schema (dict), a regex (str), choices (tuple of str), a Lark grammar
    (str) or a structural tag (dict with a ``format`` in xgrammar's style). Build one with the
    class methods, which validate it.
    """

    kind: ConstraintKind
    payload: Any
    #: The structural-tag format tree a grammar was translated from (its conformance source).
    source: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"{self.kind.value}\n{_canonical(self.payload)}".encode())
        object.__setattr__(self, "key", digest.hexdigest()[:24])

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraint) and other.key == self.key

    @classmethod
    def json_schema(cls, schema: dict[str, Any], *, check: bool = True) -> Constraint:
        """Output must be JSON valid against ``schema``.

        ``check=False`` skips the meta-schema check, for schemas built by parlantish's own
        compiler from already-validated blueprints (the check dominates compile time)."""
        if not isinstance(schema, dict):
            raise ConstraintError("a JSON schema must be a JSON object")
        if not check:
            return cls(ConstraintKind.JSON_SCHEMA, schema)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as e:
            where = "/".join(str(p) for p in e.path) or "(root)"
            raise ConstraintError(f"invalid JSON schema at {where}: {e.message}") from e
        return cls(ConstraintKind.JSON_SCHEMA, schema)

    @classmethod
    def regex(cls, pattern: str) -> Constraint:
        """Output must match ``pattern`` in full."""
        try:
            re.compile(pattern)
        except re.error as e:
            raise ConstraintError(f"invalid regex at position {e.pos}: {e.msg}") from e
        return cls(ConstraintKind.REGEX, pattern)

    @classmethod
    def choice(cls, choices: list[str] | tuple[str, ...]) -> Constraint:
        """Output must be exactly one of ``choices``."""
        options = tuple(choices)
        if not options or not all(isinstance(c, str) and c for c in options):
            raise ConstraintError("choice needs at least one non-empty string")
        return cls(ConstraintKind.CHOICE, options)

    @classmethod
    def grammar(cls, lark: str, *, source: dict[str, Any] | None = None) -> Constraint:
        """Output must parse with the Lark (or GBNF) grammar ``lark``; ``source`` is the format
        tree it was translated from, when there is one."""
        if not isinstance(lark, str) or not lark.strip():
            raise ConstraintError("a grammar must be non-empty text")
        return cls(ConstraintKind.GRAMMAR, lark, source)

    @classmethod
    def from_format(cls, fmt: dict[str, Any], target: str = "structural_tag") -> Constraint:
        """A format tree as a structural tag (``target="structural_tag"``) or as the equivalent
        Lark grammar (``target="grammar"``), for backends without structural tags."""
        if target == "grammar":
            return cls.grammar(format_to_lark(fmt), source=fmt)
        return cls.structural_tag({"format": fmt})

    @classmethod
    def structural_tag(cls, tag: dict[str, Any]) -> Constraint:
        """Output must follow an xgrammar structural tag (``{"format": …}``)."""
        if not isinstance(tag, dict) or "format" not in tag:
            raise ConstraintError('a structural tag must be an object with a "format"')
        return cls(ConstraintKind.STRUCTURAL_TAG, {"type": "structural_tag", **tag})

    def to_vllm(self) -> dict[str, Any]:
        """This constraint as keyword arguments of ``StructuredOutputsParams`` / the HTTP body."""
        if self.kind is ConstraintKind.CHOICE:
            return {"choice": list(self.payload)}
        if self.kind is ConstraintKind.STRUCTURAL_TAG:
            # vLLM takes the structural tag as a JSON string.
            return {"structural_tag": json.dumps(self.payload)}
        return {self.kind.vllm_field: self.payload}

    def describe(self) -> dict[str, Any]:
        """A JSON-ready view: ``{"type": kind, "payload": …}``."""
        payload = list(self.payload) if self.kind is ConstraintKind.CHOICE else self.payload
        return {"type": self.kind.value, "payload": payload}


_CONSTRAINT_WORDS = ("structured", "grammar", "schema", "regex", "choice", "structural", "lark")


def rejection_error(message: str, *, has_constraint: bool) -> UserError:
    """The error for a request the engine refused: a ``ConstraintError`` when the refusal is
    about the constraint, else a plain ``UserError`` (prompt too long, bad sampling values)."""
    about_constraint = has_constraint and any(w in message.lower() for w in _CONSTRAINT_WORDS)
    kind = ConstraintError if about_constraint else UserError
    return kind(message)
