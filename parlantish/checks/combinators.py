"""Combining checks without code: ``all_of``, ``any_of``, ``not``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from parlantish.checks.base import Check, CheckParams, build_check, register


def _build_all(specs: list[Any]) -> list[Check]:
    return [build_check(spec, ("checks", index)) for index, spec in enumerate(specs)]


class ManyParams(CheckParams):
    checks: list[Any] = Field(min_length=1)

    @field_validator("checks")
    @classmethod
    def _valid(cls, value: list[Any]) -> list[Any]:
        _build_all(value)  # raises a CheckSpecError for an unknown check or bad parameters
        return value


class OneParams(CheckParams):
    check: Any

    @field_validator("check")
    @classmethod
    def _valid(cls, value: Any) -> Any:
        build_check(value)
        return value


@register("all_of", ManyParams, family="combinator", primary="checks")
def all_of(text: str, p: ManyParams) -> tuple[bool, str]:
    """Every listed check passes."""
    failed = [r.name for r in (c(text) for c in _build_all(p.checks)) if not r.passed]
    return not failed, f"failed: {', '.join(failed)}" if failed else ""


@register("any_of", ManyParams, family="combinator", primary="checks")
def any_of(text: str, p: ManyParams) -> tuple[bool, str]:
    """At least one listed check passes."""
    results = [c(text) for c in _build_all(p.checks)]
    return any(r.passed for r in results), "" if any(r.passed for r in results) else "none passed"


@register("not", OneParams, family="combinator", primary="check")
def negate(text: str, p: OneParams) -> tuple[bool, str]:
    """The given check fails."""
    result = build_check(p.check)(text)
    return not result.passed, f"{result.name} passed" if result.passed else ""
