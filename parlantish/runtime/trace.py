"""Observability: a structured trace of every guarded call, through ``logging``, an optional
callback, and an OpenTelemetry span when opentelemetry is installed."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["TraceCallback", "emit_trace", "span", "trace_record"]

logger = logging.getLogger("parlantish.guard")
TraceCallback = Callable[[dict[str, Any]], None]


def trace_record(guard: Any, reply: Any) -> dict[str, Any]:
    """The trace of one call: blueprint, plan, backend, timings, tokens, answers, checks."""
    return {
        "blueprint": reply.blueprint,
        "plan_key": reply.plan_key,
        "backend": guard.backend.name,
        "latency_s": round(reply.latency_s, 4),
        "attempts": len(reply.attempts),
        "passed": reply.passed,
        "usage": reply.usage.to_dict(),
        "checkpoints": [c.model_dump(mode="json") for c in reply.checkpoints],
        "checks": [c.model_dump(mode="json") for c in reply.checks],
    }


def emit_trace(guard: Any, reply: Any, callback: TraceCallback | None) -> None:
    """Log the call's trace at INFO and hand it to ``callback`` (whose errors are logged)."""
    if not logger.isEnabledFor(logging.INFO) and callback is None:
        return
    record = trace_record(guard, reply)
    logger.info("guarded call %s", record["blueprint"]["name"], extra={"parlantish": record})
    if callback is not None:
        try:
            callback(record)
        except Exception:
            logger.exception("the on_trace callback failed")


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """An OpenTelemetry span around a call when opentelemetry is importable; otherwise nothing."""
    try:
        from opentelemetry import trace
    except ImportError:
        yield
        return
    tracer = trace.get_tracer("parlantish")
    with tracer.start_as_current_span(name) as current:
        for key, value in attributes.items():
            current.set_attribute(f"parlantish.{key}", str(value))
        yield
