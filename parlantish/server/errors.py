"""Parlantish errors as the HTTP errors a client sees (OpenAI's shape, no internals)."""

from __future__ import annotations

import logging

from parlantish.blueprint import TemplateRenderError, VariablesError
from parlantish.errors import (
    AttemptsExhaustedError,
    BackendError,
    DeadlineExceededError,
    MalformedResponseError,
    ParlantishError,
    RunError,
    UserError,
)
from parlantish.server.protocol import ProxyError

__all__ = ["failure_kind", "internal_error", "translate"]

log = logging.getLogger("parlantish.server")


def failure_kind(error: ProxyError) -> str:
    """The ``kind`` label of ``parlantish_failures_total``."""
    return error.code or error.type


def internal_error(error: BaseException) -> ProxyError:
    """A 500 that names nothing of the failure (logged here, with its traceback, instead)."""
    log.error("internal error answering a request", exc_info=error)
    return ProxyError(
        500, "the proxy failed to answer this request", type="internal_error", code="internal"
    )


def translate(error: ParlantishError) -> ProxyError:
    """A parlantish error as the HTTP error a client should see."""
    if isinstance(error, (VariablesError, TemplateRenderError)):
        return ProxyError(
            422,
            str(error),
            type="invalid_variables",
            param="parlantish.variables",
            code="variables",
        )
    if isinstance(error, DeadlineExceededError):
        return ProxyError(504, str(error), type="timeout", code="deadline")
    if isinstance(error, AttemptsExhaustedError):
        attempts = [a.model_dump(mode="json", exclude={"raw"}) for a in error.attempts]
        if all(a.error is not None and a.raw is None for a in error.attempts):
            return ProxyError(502, str(error), type="upstream_error", code="upstream")
        return ProxyError(
            422,
            str(error),
            type="checks_failed",
            code="checks_failed",
            extra={"attempts": attempts},
        )
    if isinstance(error, BackendError) and error.status is not None and 400 <= error.status < 500:
        return ProxyError(400, f"the upstream refused the request: {error}", code="upstream_4xx")
    if isinstance(error, (RunError, MalformedResponseError)):
        return ProxyError(502, str(error), type="upstream_error", code="upstream")
    if isinstance(error, UserError):
        return ProxyError(400, str(error), param="messages", code="invalid_request")
    return internal_error(error)
