"""Server-sent events: the chunks of one streamed chat completion and the response sending them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from parlantish.server.protocol import ProxyError, chunk, error_body, new_id

__all__ = ["DONE", "ChunkWriter", "event_stream", "sse"]


def sse(data: dict[str, Any] | str) -> bytes:
    """One SSE ``data:`` event."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


DONE = sse("[DONE]")


class ChunkWriter:
    """SSE bytes of the chunks of one streamed completion (one id and creation time)."""

    def __init__(self, model: str):
        self.model = model
        self.id = new_id()
        self.created = int(time.time())

    def __call__(self, **fields: Any) -> bytes:
        return sse(chunk(self.id, self.model, created=self.created, **fields))

    @staticmethod
    def error(error: ProxyError) -> bytes:
        """An error event (OpenAI's shape) for a failure after the response has started."""
        return sse(error_body(error))


def event_stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream")
