"""What the proxy serves: the blueprints by name, the model → blueprint mapping, the upstream."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlantish.blueprint import Blueprint, load_blueprint
from parlantish.errors import UserError

__all__ = [
    "API_KEY_ENV",
    "BLUEPRINT_MODEL_PREFIX",
    "DEFAULT_MAX_BODY_BYTES",
    "HEADER_TIMEOUT_S",
    "ProxyConfig",
    "load_blueprints",
]

BLUEPRINT_MODEL_PREFIX = "blueprint:"
API_KEY_ENV = "PARLANTISH_API_KEY"
BLUEPRINT_SUFFIXES = (".yaml", ".yml", ".json")
DEFAULT_MAX_BODY_BYTES = 1 << 20
HEADER_TIMEOUT_S = 10.0


def load_blueprints(source: str | Path) -> dict[str, Blueprint]:
    """Every blueprint in a folder (``*.yaml``, ``*.yml``, ``*.json``, not recursive) or one
    file, by blueprint name. Any invalid file is an error: a proxy must not start half-configured.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in BLUEPRINT_SUFFIXES)
        files = [p for p in files if not p.name.endswith(".schema.json")]
    elif path.is_file():
        files = [path]
    else:
        raise UserError(f"no blueprint file or folder at {path}")
    blueprints: dict[str, Blueprint] = {}
    for file in files:
        blueprint = load_blueprint(file)
        if blueprint.name in blueprints:
            raise UserError(
                f"two blueprints are named {blueprint.name!r}: "
                f"{blueprints[blueprint.name].path} and {file}"
            )
        blueprints[blueprint.name] = blueprint
    if not blueprints:
        raise UserError(f"no blueprint files in {path}", hint="expected *.yaml, *.yml or *.json")
    return blueprints


@dataclass
class ProxyConfig:
    """Settings of one proxy.

    ``model_map`` sends requests for an upstream model name through a blueprint
    (``{"gpt-4o": "support-refunds"}``); ``passthrough`` forwards requests for models with no
    blueprint unchanged; ``api_key`` (default ``$PARLANTISH_API_KEY``) requires
    ``Authorization: Bearer KEY``; ``deadline_s`` bounds each guarded call unless the request
    sets its own. Limits: ``max_body_bytes`` per request body (413 beyond), ``body_timeout_s``
    for the body to arrive (408), ``max_requests_per_key`` in flight per API key (429),
    ``guard_cache_size`` Guards kept (one per blueprint and ``max_tokens``). ``sampling``:
    ``SamplingSettings`` fields for guarded requests that do not set them (``top_k``, …).
    """

    upstream: str
    blueprints: dict[str, Blueprint]
    model_map: dict[str, str] = field(default_factory=dict)
    passthrough: bool = False
    api_key: str | None = field(default_factory=lambda: os.environ.get(API_KEY_ENV) or None)
    deadline_s: float | None = None
    max_concurrency: int = 256
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    body_timeout_s: float = 30.0
    max_requests_per_key: int = 128
    guard_cache_size: int = 64
    sampling: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.model_map.values()) - set(self.blueprints))
        if unknown:
            raise UserError(
                f"--map names unknown blueprint(s) {unknown}",
                hint=f"loaded blueprints: {', '.join(sorted(self.blueprints))}",
            )

    def blueprint_for(self, model: str, header: str | None) -> Blueprint | None:
        """The blueprint a request asks for (header first, then the model field), or ``None``
        for a pass-through model. Raises ``KeyError`` naming an unknown blueprint."""
        name = header
        if name is None and model.startswith(BLUEPRINT_MODEL_PREFIX):
            name = model[len(BLUEPRINT_MODEL_PREFIX) :]
        if name is None:
            name = self.model_map.get(model)
        if name is None:
            return None
        if name not in self.blueprints:
            raise KeyError(name)
        return self.blueprints[name]
