"""Checks of meaning that a JSON Schema cannot express: references between parts, type-specific
fields, templates. Each problem is located where the author wrote the offending part."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jsonschema

from parlantish.blueprint.model import PROGRESS_VARIABLES, AnswerSpec, SegmentsSpec, VariableSpec
from parlantish.blueprint.source import Problem
from parlantish.blueprint.templates import check_template
from parlantish.checks import CheckSpecError, build_check
from parlantish.checks.enforce import plan_enforcement, resolve_mode
from parlantish.checks.patterns import PatternTimeout, pattern_problem, safe_validator

if TYPE_CHECKING:
    from parlantish.blueprint.loader import Blueprint

__all__ = ["RESERVED_IDS", "segments_problems", "semantic_problems"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: Most characters (or items) one answer may be given.
MAX_ANSWER_LENGTH = 100_000
#: Most segments in a long-form reply, and most tokens in one.
MAX_SEGMENTS = 1_000
MAX_SEGMENT_TOKENS = 1_000_000

#: Checkpoint ids the compiled JSON uses for its own keys.
RESERVED_IDS = frozenset({"reply", "reply_recall"})

# Which optional fields make sense for which answer type.
_ANSWER_FIELDS = {
    "string": {"max_length", "min_length", "pattern"},
    "boolean": set(),
    "integer": {"minimum", "maximum"},
    "number": {"minimum", "maximum"},
    "enum": {"values"},
    "list": {"items", "min_items", "max_items"},
    "object": {"properties"},
}
_ANSWER_REQUIRED = {"enum": "values", "list": "items", "object": "properties"}


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (defined: {', '.join(options)})" if options else " (no instructions are defined)"


def _answer_problems(spec: AnswerSpec, where: str) -> Iterator[str]:
    used = {name for name in spec.model_fields_set if getattr(spec, name) is not None} - {
        "type",
        "description",
    }
    for name in sorted(used - _ANSWER_FIELDS[spec.type]):
        yield f"{where}: {name!r} does not apply to a {spec.type} answer"
    required = _ANSWER_REQUIRED.get(spec.type)
    if required and getattr(spec, required) in (None, {}, []):
        yield f"{where}: a {spec.type} answer needs {required!r}"
    for low, high in (
        ("min_length", "max_length"),
        ("minimum", "maximum"),
        ("min_items", "max_items"),
    ):
        a, b = getattr(spec, low), getattr(spec, high)
        if a is not None and b is not None and a > b:
            yield f"{where}: {low} ({a}) is greater than {high} ({b})"
    if spec.pattern is not None:
        problem = pattern_problem(spec.pattern)
        if problem is None:
            try:
                re.compile(spec.pattern)  # the engine and validators read it as Python's re
            except (re.error, OverflowError, RecursionError) as e:
                problem = f"invalid regex: {e}"
        if problem is not None:
            yield f"{where}: invalid pattern: {problem}"
    for value in spec.values or []:
        if not value or "\n" in value or "\r" in value:
            yield f"{where}: enum value {value[:40]!r} must be one non-empty line"
    if spec.values is not None and len(set(spec.values)) != len(spec.values):
        yield f"{where}: enum values are repeated"
    for name in ("max_length", "max_items"):
        value = getattr(spec, name)
        if value is not None and value > MAX_ANSWER_LENGTH:
            yield f"{where}: {name} ({value}) is over the limit of {MAX_ANSWER_LENGTH}"
    if spec.items is not None:
        yield from _answer_problems(spec.items, f"{where}.items")
    for name, child in (spec.properties or {}).items():
        yield from _answer_problems(child, f"{where}.properties.{name}")


def variable_json_schema(spec: VariableSpec) -> dict[str, Any]:
    """The JSON Schema a variable's value must satisfy."""
    schema: dict[str, Any] = {"type": spec.type}
    mapping = {
        "enum": "enum",
        "minimum": "minimum",
        "maximum": "maximum",
        "min_length": "minLength",
        "max_length": "maxLength",
        "pattern": "pattern",
    }
    for name, key in mapping.items():
        value = getattr(spec, name)
        if value is not None:
            schema[key] = value
    return schema


def _variable_problems(blueprint: Blueprint) -> Iterator[Problem]:
    for name, spec in blueprint.spec.variables.items():
        where = blueprint.locate("variables", name)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            yield Problem(where, f"variable name {name!r} is not an identifier usable in templates")
        if spec.pattern is not None:
            problem = pattern_problem(spec.pattern)
            if problem is not None:
                yield Problem(where, f"variable {name!r}: invalid pattern: {problem}")
                continue
        if "default" in spec.model_fields_set:
            try:
                errors = list(
                    safe_validator({"$schema": DRAFT, **variable_json_schema(spec)}).iter_errors(
                        spec.default
                    )
                )
            except PatternTimeout as e:
                errors = [jsonschema.ValidationError(str(e))]
            if errors:
                yield Problem(
                    where, f"default of variable {name!r} is invalid: {errors[0].message}"
                )


def _reference_problems(blueprint: Blueprint) -> Iterator[Problem]:
    spec = blueprint.spec
    known = list(spec.instructions)
    seen: set[str] = set()
    for checkpoint in spec.checkpoints:
        where = blueprint.locate("checkpoints", checkpoint.id, "id")
        if checkpoint.id in seen:
            yield Problem(where, f"checkpoint id {checkpoint.id!r} is used twice")
        if checkpoint.id in RESERVED_IDS:
            yield Problem(where, f"checkpoint id {checkpoint.id!r} is reserved")
        seen.add(checkpoint.id)
        for ref in checkpoint.recall:
            if ref not in spec.instructions:
                yield Problem(
                    blueprint.locate("checkpoints", checkpoint.id, "recall"),
                    f"recall names unknown instruction {ref!r}{_did_you_mean(ref, known)}",
                )
        for message in _answer_problems(checkpoint.answer, f"checkpoint {checkpoint.id!r} answer"):
            yield Problem(blueprint.locate("checkpoints", checkpoint.id, "answer"), message)
    for part, refs in (
        ("reply", spec.reply.recall),
        ("segments", spec.segments.recall if spec.segments else []),
    ):
        for ref in refs:
            if ref not in spec.instructions:
                yield Problem(
                    blueprint.locate(part),
                    f"{part}.recall names unknown instruction {ref!r}{_did_you_mean(ref, known)}",
                )


def _reply_problems(blueprint: Blueprint) -> Iterator[Problem]:
    reply, segments = blueprint.spec.reply, blueprint.spec.segments
    where = blueprint.locate("reply")
    if reply.type == "object":
        if not reply.properties:
            yield Problem(where, "an object reply needs 'properties'")
        if reply.max_length is not None or reply.min_length is not None:
            yield Problem(where, "max_length/min_length apply to a text reply, not an object")
        if segments is not None:
            yield Problem(blueprint.locate("segments"), "segments need a text reply, not an object")
        for name, child in (reply.properties or {}).items():
            for message in _answer_problems(child, f"reply.properties.{name}"):
                yield Problem(where, message)
    elif reply.properties:
        yield Problem(where, "'properties' needs type: object")
    if (reply.min_length or 0) > (reply.max_length or float("inf")):
        yield Problem(where, "reply min_length is greater than max_length")
    if segments is not None:
        for message in segments_problems(segments):
            yield Problem(blueprint.locate("segments"), message)


def segments_problems(segments: SegmentsSpec) -> list[str]:
    """What makes a ``segments`` setting impossible (also used for a suite's override)."""
    problems = []
    count = segments.count
    if isinstance(count, int):
        if count < 1:
            problems.append(f"segments.count must be at least 1, got {count}")
        elif count > MAX_SEGMENTS:
            problems.append(f"segments.count ({count}) is over the limit of {MAX_SEGMENTS}")
    else:
        if count.min > count.max:
            problems.append("segments.count: min is greater than max")
        if count.max > MAX_SEGMENTS:
            problems.append(f"segments.count.max ({count.max}) is over the limit of {MAX_SEGMENTS}")
    if segments.max_tokens > MAX_SEGMENT_TOKENS:
        problems.append(
            f"segments.max_tokens ({segments.max_tokens}) is over the limit of {MAX_SEGMENT_TOKENS}"
        )
    return problems


def _template_problems(blueprint: Blueprint) -> Iterator[Problem]:
    spec = blueprint.spec
    variables = set(spec.variables)
    templates: list[tuple[tuple[Any, ...], str, set[str]]] = [
        (("instructions", name), text, variables) for name, text in spec.instructions.items()
    ]
    if spec.system is not None:
        templates.append((("system",), spec.system, variables | {"instructions"}))
    templates += [
        (("checkpoints", c.id, "ask"), c.ask, variables | {"instructions"})
        for c in spec.checkpoints
    ]
    if spec.segments is not None and spec.segments.progress is not None:
        path = ("segments", "progress")
        templates.append((path, spec.segments.progress, variables | set(PROGRESS_VARIABLES)))
    for path, source, allowed in templates:
        for location, message in check_template(source, allowed, blueprint.locate(*path)):
            yield Problem(location, message)


def _check_problems(blueprint: Blueprint) -> Iterator[Problem]:
    built = []
    for index, spec in enumerate(blueprint.spec.checks):
        try:
            built.append((index, build_check(spec, ("checks", index))))
        except CheckSpecError as e:
            hint = f" ({e.hint})" if e.hint else ""
            yield Problem(blueprint.locate("checks", index), f"{e.message}{hint}")
    default = blueprint.spec.enforce if blueprint.spec.enforce is not None else False
    layout_note = reply_enforce_note(blueprint)
    checks = [check for _, check in built]
    for position, (index, check) in enumerate(built):
        if resolve_mode(check, default) is not True:
            continue
        # Tried with the checks before it, merged in order as the compiler does.
        enforcement = plan_enforcement(
            checks[: position + 1], default, layout_note=layout_note, strict=False
        )
        decision = enforcement.decisions[-1]
        if not decision.enforced:
            yield Problem(
                blueprint.locate("checks", index),
                f"check {check.name!r} has enforce: true but cannot be enforced: {decision.why} "
                "(set enforce: auto to remind it instead)",
            )


def reply_enforce_note(blueprint: Blueprint) -> str | None:
    """Why the blueprint's own layout takes no text rule, or ``None`` when it does (long-form
    replies do; ARQ replies are a JSON string and typed replies are JSON)."""
    if blueprint.spec.reply.type == "object":
        return "the reply is a JSON object"
    if blueprint.spec.segments is None:
        return "the ARQ reply is a JSON string (not compiled)"
    return None


def semantic_problems(blueprint: Blueprint) -> list[Problem]:
    """Every meaning-level problem of a schema-valid blueprint."""
    return [
        *_variable_problems(blueprint),
        *_reference_problems(blueprint),
        *_reply_problems(blueprint),
        *_template_problems(blueprint),
        *_check_problems(blueprint),
    ]
