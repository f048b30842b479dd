"""Who may call the proxy, and how many requests each key may have in flight (pure ASGI
middleware: it wraps every route, so nothing behind it runs for a refused request)."""

from __future__ import annotations

import hmac
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from parlantish.server.metrics import ProxyMetrics
from parlantish.server.protocol import ProxyError, error_response

__all__ = ["KeyGate"]

OPEN_PATHS = frozenset({"/health"})


def _authorization(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return b""


class KeyGate:
    """``Authorization: Bearer KEY`` compared in constant time (401 otherwise) when ``api_key``
    is set, and at most ``requests_per_key`` requests in flight per presented key (429 beyond;
    without ``api_key`` clients are told apart by the header they send). ``open_paths`` skip
    both."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        requests_per_key: int,
        metrics: ProxyMetrics,
        open_paths: Collection[str] = OPEN_PATHS,
    ):
        self.app = app
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        self.requests_per_key = requests_per_key
        self.metrics = metrics
        self.open_paths = open_paths
        self.in_flight: dict[bytes, int] = {}  # only keys with requests in flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        given = _authorization(scope)
        if self.expected is not None and not hmac.compare_digest(given, self.expected):
            await self._refuse(
                ProxyError(
                    401,
                    "missing or wrong API key",
                    type="authentication_error",
                    code="invalid_api_key",
                ),
                "auth",
                scope,
                receive,
                send,
            )
            return
        running = self.in_flight.get(given, 0)
        if running >= self.requests_per_key:
            error = ProxyError(
                429,
                f"more than {self.requests_per_key} requests in flight for this API key",
                type="rate_limit_error",
                code="too_many_requests",
                retry_after_s=1,
            )
            await self._refuse(error, "too_many_requests", scope, receive, send)
            return
        self.in_flight[given] = running + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight[given] - 1
            if left:
                self.in_flight[given] = left
            else:
                del self.in_flight[given]

    async def _refuse(
        self, error: ProxyError, kind: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        self.metrics.failures.labels(kind).inc()
        await error_response(error)(scope, receive, send)
