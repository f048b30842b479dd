"""The backend protocol: one abstract coroutine, everything else derived from it.

A backend turns a ``GenerationRequest`` into a ``GenerationResult``. Subclasses implement
``agenerate``; batching comes from calling it concurrently (``agenerate_many``), which lets vLLM's
continuous batching see every request at once. Sync methods run the coroutines on a private event
loop thread, so they work from plain scripts and from inside a running event loop alike.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from parlantish.core.types import GenerationRequest, GenerationResult, StreamDelta
from parlantish.errors import ParlantishError

__all__ = ["Backend", "BatchItem", "LoopThread"]

T = TypeVar("T")
BatchItem = GenerationResult | ParlantishError


class LoopThread:
    """A daemon thread running an event loop, for calling coroutines from sync code (works
    whether or not the caller is itself inside a running loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, daemon=True, name="parlantish-sync"
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def iterate(self, items: AsyncIterator[T]) -> Iterator[T]:
        """Drive an async iterator on this loop, yielding its items to sync code."""

        async def next_item() -> T:
            return await items.__anext__()

        while True:
            try:
                yield self.run(next_item())
            except StopAsyncIteration:
                return

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class Backend(ABC):
    """A source of generations. Subclasses implement :meth:`agenerate` (and may override
    :meth:`astream` for real streaming and :meth:`aclose` to free resources)."""

    #: A short human-readable description, e.g. ``"vllm-engine:/path/to/model"``.
    name: str = "backend"
    #: Upper bound on requests in flight from one ``agenerate_many`` call.
    max_concurrency: int = 256
    #: Whether requests may continue a final assistant message (``continue_final_message``):
    #: stepwise plans need it, to send forced text as a prefilled prefix.
    supports_continuation: bool = False

    _sync: LoopThread | None = None
    _sync_lock = threading.Lock()

    @abstractmethod
    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        """Generate for one request; raise a ``RunError`` on failure."""

    async def agenerate_many(
        self, requests: Sequence[GenerationRequest], *, concurrency: int | None = None
    ) -> list[BatchItem]:
        """Submit all requests together; results in input order, failures as exception values."""
        limit = asyncio.Semaphore(concurrency or self.max_concurrency)

        async def one(request: GenerationRequest) -> BatchItem:
            async with limit:
                try:
                    return await self.agenerate(request)
                except ParlantishError as e:
                    return e

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        """Yield text as it is generated; the last delta carries the whole result.

        The default yields everything at once; backends that can stream override it.
        """
        result = await self.agenerate(request)
        yield StreamDelta(text=result.text, result=result)

    def token_ends(self, text: str) -> list[int] | None:
        """Where each token of ``text`` ends (character offsets) in this backend's tokenizer,
        or ``None`` when it has none at hand; reply budgets are counted with it."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Free what the backend holds (connections, engine). Idempotent."""

    # -- sync facade -------------------------------------------------------------------------

    def _helper(self) -> LoopThread:
        with self._sync_lock:
            if self._sync is None:
                self._sync = LoopThread()
            return self._sync

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._helper().run(coro)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Blocking :meth:`agenerate`."""
        return self._run(self.agenerate(request))

    def generate_many(
        self, requests: Sequence[GenerationRequest], *, concurrency: int | None = None
    ) -> list[BatchItem]:
        """Blocking :meth:`agenerate_many`."""
        return self._run(self.agenerate_many(requests, concurrency=concurrency))

    def stream(self, request: GenerationRequest) -> Iterator[StreamDelta]:
        """Blocking :meth:`astream`: yields deltas as they arrive."""
        yield from self._helper().iterate(self.astream(request))

    def close(self) -> None:
        """Blocking :meth:`aclose`; also stops the sync helper thread."""
        self._run(self.aclose())
        with self._sync_lock:
            if self._sync is not None:
                self._sync.stop()
                self._sync = None

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Backend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
