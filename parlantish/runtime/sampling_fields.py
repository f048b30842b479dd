"""A Guard's and a call's sampling settings as given: validated, with located errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from parlantish.core import SamplingSettings
from parlantish.errors import UserError

__all__ = ["sampling_fields", "sampling_settings"]


def sampling_fields(
    sampling: SamplingSettings | Mapping[str, Any] | None, where: str
) -> dict[str, Any]:
    """The sampling fields a caller set (all of a ``SamplingSettings``'s set fields)."""
    if sampling is None:
        return {}
    if isinstance(sampling, SamplingSettings):
        return sampling.model_dump(exclude_unset=True)
    if not isinstance(sampling, Mapping):
        raise UserError(f"{where} must be a mapping or SamplingSettings, not {sampling!r}")
    sampling_settings(dict(sampling), where)  # unknown names and bad values are located here
    return dict(sampling)


def sampling_settings(fields: Mapping[str, Any], where: str) -> SamplingSettings:
    """``fields`` as ``SamplingSettings``; an unknown name or a bad value is a ``UserError``
    naming ``where`` and the field."""
    try:
        return SamplingSettings.model_validate(dict(fields))
    except ValidationError as e:
        first = e.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        valid = ", ".join(SamplingSettings.model_fields)
        problem = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
        raise UserError(f"{where}.{name}: {problem}", hint=f"sampling settings: {valid}") from e
