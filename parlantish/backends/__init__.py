"""Backends: where generations come from, chosen by a spec string.

Specs a user can write in a file or a flag:

- ``embedded``: the bundled SmolLM2-135M-Instruct on the in-process vLLM engine;
- a model folder (``./models/x``) or a Hugging Face id already in the local cache (in-process);
- ``http://host:port/v1``: a running vLLM (or OpenAI-compatible) server;
- ``scripted``: the scripted test backend with an empty script (tests build their own);
- several specs separated by commas (or a list): a ``BackendPool`` spreading requests over
  them by least outstanding requests, with failover.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parlantish.backends.base import Backend, BatchItem
from parlantish.backends.pool import BackendPool
from parlantish.backends.scripted import ScriptedBackend, ScriptError
from parlantish.core.constraints import Constraint, ConstraintKind
from parlantish.core.types import (
    ChatMessage,
    Completion,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    StreamDelta,
    Usage,
)
from parlantish.errors import UserError

__all__ = [
    "Backend",
    "BackendPool",
    "BatchItem",
    "ChatMessage",
    "Completion",
    "Constraint",
    "ConstraintKind",
    "GenerationRequest",
    "GenerationResult",
    "SamplingSettings",
    "ScriptError",
    "ScriptedBackend",
    "StreamDelta",
    "Usage",
    "resolve_backend",
]

# In-process engines are expensive (seconds to start, GiBs of memory) and thread-safe: one per
# model per process, shared by every caller that names the same spec.
_engines: dict[str, Backend] = {}
_engines_lock = threading.Lock()


def _engine(model: str, options: dict[str, Any]) -> Backend:
    from parlantish.backends.vllm_engine import VLLMEngine

    key = f"{model}|{sorted(options.items())}"
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None or getattr(engine, "_dead", None) is not None:
            engine = VLLMEngine(model, **options)
            _engines[key] = engine
        return engine


def resolve_backend(spec: str | Backend | Sequence[str], **options: Any) -> Backend:
    """Turn a spec string into a backend (a ``Backend`` is returned as is).

    ``options`` go to the backend's constructor (e.g. ``timeout`` for a server,
    ``max_model_len`` for an engine). Several specs (a list, or one string with commas) make a
    ``BackendPool``.
    """
    if isinstance(spec, Backend):
        return spec
    if isinstance(spec, str) and "," in spec:
        spec = [part for part in spec.split(",") if part.strip()]
    if not isinstance(spec, str) and isinstance(spec, Sequence):
        parts = [resolve_backend(part, **options) for part in spec]
        if not parts:
            raise UserError("no backend given", hint="name at least one backend spec")
        return parts[0] if len(parts) == 1 else BackendPool(parts)
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(
            "a backend spec must be a non-empty string",
            hint="use 'embedded', a model folder, or http://host:port/v1",
        )
    spec = spec.strip()
    if spec.startswith(("http://", "https://")):
        from parlantish.backends.vllm_server import VLLMServer

        return VLLMServer(spec, **options)
    if spec == "scripted":
        return ScriptedBackend(**options)
    if spec == "embedded":
        from parlantish.backends.embedded import EMBEDDED_ENGINE_OPTIONS, provision_embedded_model

        return _engine(str(provision_embedded_model()), {**EMBEDDED_ENGINE_OPTIONS, **options})
    path = Path(spec).expanduser()
    if path.exists() or spec.startswith((".", "/", "~")):
        return _engine(str(path), options)
    if spec.count("/") == 1 and " " not in spec:  # an HF id, loaded only from the local cache
        return _engine(spec, options)
    raise UserError(
        f"unknown backend {spec!r}",
        hint="use 'embedded', a model folder, an HF id (org/name) or http://host:port/v1",
    )
