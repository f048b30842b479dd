"""The HTTP listener: uvicorn (h11) with deadlines for slow clients.

uvicorn bounds the size of request headers (h11's incomplete-event limit) and the idle time
between requests (keep-alive), but not the time a client may take to send its headers: a client
that opens a connection and never finishes them would hold it forever. The protocol here closes
such a connection after ``header_timeout_s``.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from parlantish.server.config import HEADER_TIMEOUT_S

__all__ = ["KEEP_ALIVE_S", "MAX_HEADER_BYTES", "server_config"]

KEEP_ALIVE_S = 5
MAX_HEADER_BYTES = 16 * 1024


class _HeaderDeadlineProtocol(H11Protocol):
    """h11 protocol that drops a connection whose next request's headers are not complete
    ``header_timeout_s`` after the connection opened or the previous response ended."""

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        # A new request cycle replaces self.cycle: if it has not changed, no headers came.
        waiting_on = self.cycle
        self._header_timer = self.loop.call_later(
            self.header_timeout_s, self._headers_overdue, waiting_on
        )

    def _headers_overdue(self, waiting_on: object) -> None:
        self._header_timer = None
        idle = self.cycle is None or self.cycle.response_complete  # no request being answered
        if self.cycle is waiting_on and idle and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_response_complete(self) -> None:
        # Armed before uvicorn starts a pipelined request (which replaces self.cycle).
        if not self.transport.is_closing():
            self._arm_header_timer()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)


def server_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    header_timeout_s: float = HEADER_TIMEOUT_S,
    keep_alive_s: int = KEEP_ALIVE_S,
    log_level: str = "info",
    graceful_timeout_s: float | None = None,
) -> uvicorn.Config:
    """The uvicorn settings ``parlantish serve`` runs the proxy with."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=partial(_HeaderDeadlineProtocol, header_timeout_s=header_timeout_s),  # type: ignore[arg-type]
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=keep_alive_s,
        timeout_graceful_shutdown=graceful_timeout_s,  # type: ignore[arg-type]
        log_level=log_level,
        access_log=log_level == "debug",
    )
