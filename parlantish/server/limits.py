"""Bounds on what one client can make the proxy hold: the request body and cached Guards."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.types import Receive, Scope

from parlantish.server.protocol import ProxyError

__all__ = ["LRUCache", "read_body"]

K = TypeVar("K")
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``size`` entries; the least recently used goes first."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_add(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
                return value
            value = self._entries[key] = make()
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._entries)


def _too_large(limit: int) -> ProxyError:
    return ProxyError(
        413,
        f"the request body is larger than the proxy's limit of {limit} bytes",
        code="request_too_large",
    )


async def read_body(scope: Scope, receive: Receive, limit: int, timeout_s: float) -> bytes:
    """The request body, read chunk by chunk: 413 as soon as it passes ``limit`` bytes (or when
    ``Content-Length`` says it will), 408 when it has not all arrived within ``timeout_s``."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    # One timer for the whole body (cheaper than a wait_for task per chunk).
    timer = asyncio.get_running_loop().call_later(timeout_s, expire)
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ProxyError(400, "the client disconnected", code="invalid_request")
            data = message.get("body", b"")
            size += len(data)
            if size > limit:
                raise _too_large(limit)
            chunks.append(data)
            if not message.get("more_body", False):
                return b"".join(chunks)
    except asyncio.CancelledError as e:
        if not expired:
            raise
        if hasattr(task, "uncancel"):  # Python 3.11+
            task.uncancel()
        raise ProxyError(
            408, f"the request body did not arrive within {timeout_s:g} s", code="timeout"
        ) from e
    finally:
        timer.cancel()
