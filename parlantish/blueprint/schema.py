"""The blueprint format's JSON Schema: generated from the models, used to validate files.

Validation errors become located ``Problem``s with messages written for authors: unknown keys
get a did-you-mean, wrong types say what was expected.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError

from parlantish.blueprint.model import BlueprintFile
from parlantish.blueprint.source import Problem, SourceDocument

__all__ = [
    "SCHEMA_ID",
    "blueprint_json_schema",
    "packaged_schema_path",
    "pydantic_problems",
    "schema_problems",
]

SCHEMA_ID = "https://parlantish.dev/schemas/blueprint.schema.json"


def blueprint_json_schema() -> dict[str, Any]:
    """The JSON Schema of blueprint files, generated from ``BlueprintFile``."""
    schema = BlueprintFile.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def packaged_schema_path() -> Path:
    """The copy of the schema shipped inside the package (same content as ``blueprints/``)."""
    return Path(__file__).with_name("blueprint.schema.json")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    path = packaged_schema_path()
    schema = json.loads(path.read_text()) if path.is_file() else blueprint_json_schema()
    return jsonschema.Draft202012Validator(schema)


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(_describe(v) for v in schema["enum"])
    if "type" in schema:
        kind = schema["type"]
        return " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "const" in schema:
        return _describe(schema["const"])
    return "a valid value"


def _most_useful(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf (optional fields), report the branch that is not ``null``."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches = [e for e in error.context if e.schema.get("type") != "null"]
        deeper = max(branches or error.context, key=lambda e: len(e.absolute_path))
        if deeper.validator in ("anyOf", "oneOf") or len(deeper.absolute_path) > len(
            error.absolute_path
        ):
            error = deeper
            continue
        options = [_type_name(b.schema) for b in branches] or ["a valid value"]
        error.message = (
            f"expected {' or '.join(dict.fromkeys(options))}, got {_describe(error.instance)}"
        )
        break
    return error


def _problem(doc: SourceDocument, error: jsonschema.ValidationError) -> list[Problem]:
    error = _most_useful(error)
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        problems = []
        for key in error.instance:
            if key in allowed:
                continue
            message = f"unknown key {key!r}"
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
            message += (
                f" (did you mean {close[0]!r}?)" if close else f"; allowed: {', '.join(allowed)}"
            )
            problems.append(Problem(doc.locate((*path, key), key=True), message))
        return problems
    where = "/".join(str(p) for p in path)
    prefix = f"{where}: " if where else ""
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [
            Problem(doc.locate(path, key=bool(path)), f"{prefix}missing required key {missing!r}")
        ]
    if error.validator == "type":
        message = f"expected {_type_name(error.schema)}, got {_describe(error.instance)}"
    elif error.validator == "pattern":
        pattern = error.schema["pattern"]
        message = f"{_describe(error.instance)} is not a valid name (must match {pattern})"
    elif error.validator == "enum":
        message = f"expected {_type_name(error.schema)}, got {_describe(error.instance)}"
    else:
        message = error.message
    return [Problem(doc.locate(path), f"{prefix}{message}")]


def schema_problems(doc: SourceDocument) -> list[Problem]:
    """Every place where the document breaks the blueprint JSON Schema."""
    if not isinstance(doc.data, dict):
        return [
            Problem(doc.locate(()), f"a blueprint must be a mapping, got {_describe(doc.data)}")
        ]
    problems: list[Problem] = []
    errors = sorted(
        _validator().iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))
    )
    for error in errors:
        problems.extend(_problem(doc, error))
    return sorted(dict.fromkeys(problems), key=Problem.sort_key)


def pydantic_problems(doc: SourceDocument, error: ValidationError) -> list[Problem]:
    """Located problems from a pydantic error (a safety net behind the schema)."""
    return [
        Problem(
            doc.locate(tuple(e["loc"])),
            # pydantic prefixes a validator's own message with "Value error, ": not the user's
            f"{'/'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}",
        )
        for e in error.errors()
    ]
