"""Answer types → JSON Schema (ARQ mode) and → regex (long-form text mode)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parlantish.blueprint.model import AnswerSpec

__all__ = [
    "answer_json_schema",
    "answer_regex",
    "coerce_text_answer",
    "example_answer",
    "nest_schema",
]


def nest_schema(schema: dict[str, Any], properties: dict[str, Any], key: str) -> dict[str, Any]:
    """Put ``schema`` under ``properties[key]``, moving its ``$defs`` up to the root object
    returned (``#/$defs/X`` references resolve from the root)."""
    inner = dict(schema)
    definitions = inner.pop("$defs", None)
    properties[key] = inner
    root: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if definitions:
        root["$defs"] = definitions
    return root


def answer_json_schema(spec: AnswerSpec) -> dict[str, Any]:
    """The JSON Schema of one typed answer; objects are closed and keep their field order."""
    schema: dict[str, Any]
    if spec.type == "string":
        schema = {"type": "string"}
        for name, key in (
            ("max_length", "maxLength"),
            ("min_length", "minLength"),
            ("pattern", "pattern"),
        ):
            if getattr(spec, name) is not None:
                schema[key] = getattr(spec, name)
    elif spec.type in ("integer", "number"):
        schema = {"type": spec.type}
        for name in ("minimum", "maximum"):
            value = getattr(spec, name)
            if value is not None:
                schema[name] = (
                    int(value) if spec.type == "integer" and float(value).is_integer() else value
                )
    elif spec.type == "boolean":
        schema = {"type": "boolean"}
    elif spec.type == "enum":
        schema = {"type": "string", "enum": list(spec.values or [])}
    elif spec.type == "list":
        assert spec.items is not None
        schema = {"type": "array", "items": answer_json_schema(spec.items)}
        if spec.min_items is not None:
            schema["minItems"] = spec.min_items
        if spec.max_items is not None:
            schema["maxItems"] = spec.max_items
    else:
        properties = spec.properties or {}
        schema = {
            "type": "object",
            "properties": {name: answer_json_schema(child) for name, child in properties.items()},
            "required": list(properties),
            "additionalProperties": False,
        }
    if spec.description:
        schema["description"] = spec.description
    return schema


def answer_regex(spec: AnswerSpec) -> str | None:
    """A one-line regex for a scalar answer in text mode; ``None`` for lists and objects."""
    if spec.type == "boolean":
        return "(yes|no)"
    if spec.type == "enum":
        return "(" + "|".join(re.escape(v) for v in spec.values or []) + ")"
    if spec.type == "integer":
        return "-?[0-9]{1,18}"
    if spec.type == "number":
        return r"-?[0-9]{1,18}(\.[0-9]{1,12})?"
    if spec.type == "string":
        if spec.pattern is not None:
            return spec.pattern
        low, high = spec.min_length or 1, spec.max_length or 300
        return f"[^\\n]{{{low},{high}}}"
    return None


def coerce_text_answer(spec: AnswerSpec, text: str) -> Any:
    """Turn a text-mode answer back into its typed value."""
    if spec.type == "boolean":
        return text == "yes"
    if spec.type == "integer":
        return int(text)
    if spec.type == "number":
        return float(text)
    return text


def example_answer(schema: Mapping[str, Any]) -> Any:
    """A value of the answer type described by ``schema`` (the simplest valid one)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "array":
        item = schema.get("items", {"type": "string"})
        return [example_answer(item) for _ in range(schema.get("minItems", 0))]
    if kind == "object":
        return {k: example_answer(v) for k, v in schema.get("properties", {}).items()}
    return "x" * max(1, schema.get("minLength", 1))
