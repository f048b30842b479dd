"""Checks: verifiable verdicts on outputs (general text checks, IFEval's instruction types,
combinators), kept in one registry; register your own with ``@register``."""

from parlantish.checks.base import (
    Check,
    CheckParams,
    CheckResult,
    CheckSpecError,
    CheckType,
    build_check,
    build_checks,
    check_names,
    first_failure,
    get_check_type,
    register,
)

__all__ = [
    "Check",
    "CheckParams",
    "CheckResult",
    "CheckSpecError",
    "CheckType",
    "build_check",
    "build_checks",
    "check_names",
    "first_failure",
    "get_check_type",
    "register",
]
