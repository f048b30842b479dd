"""Numbers as renderers show them: rounding happens here, never in ``report.json``."""

from __future__ import annotations

__all__ = ["number"]


def number(value: float | None, digits: int = 3) -> str:
    """Integers as they are, other numbers to ``digits`` significant digits, a missing value as
    nothing."""
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}g}"
