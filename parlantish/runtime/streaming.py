"""Events of a streamed guarded call: checkpoint answers and reply text as the layout's stream
parser finds them (``parlantish.compiler.stream``), a rejected attempt, the final result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from parlantish.compiler.stream import CheckpointEvent, TextDelta
from parlantish.runtime.result import Attempt

__all__ = [
    "CheckpointEvent",
    "FinalEvent",
    "RetryEvent",
    "StreamEvent",
    "TextDelta",
    "attempt_events",
]


@dataclass(frozen=True)
class RetryEvent:
    """The attempt just streamed was rejected; another follows."""

    attempt: int
    reason: str


@dataclass(frozen=True)
class FinalEvent:
    """The call's result (the same object ``reply`` would return)."""

    reply: Any


StreamEvent = CheckpointEvent | TextDelta | RetryEvent | FinalEvent


async def attempt_events(
    run: Callable[..., Awaitable[Attempt]],
) -> AsyncGenerator[CheckpointEvent | TextDelta | Attempt, None]:
    """Run one attempt with a stream sink, yielding its events as they come, then the attempt
    (closing this iterator early cancels the attempt, and with it the engine request)."""
    queue: asyncio.Queue[CheckpointEvent | TextDelta] = asyncio.Queue()
    task = asyncio.ensure_future(run(sink=queue.put_nowait))
    getter: asyncio.Future[CheckpointEvent | TextDelta] | None = None
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                yield getter.result()
                continue
            getter.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            yield task.result()
            return
    finally:
        if getter is not None and not getter.done():
            getter.cancel()
        if not task.done():
            task.cancel()
            # Wait for the cancellation to reach the backend (its engine request is aborted).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
