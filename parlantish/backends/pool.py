"""A pool of backends behind one: least outstanding requests, failover, rejoin after a pause.

For suites larger than one server: ``BackendPool([VLLMServer(a), VLLMServer(b)])`` sends each
request to the member with the fewest requests in flight. A member that fails with a retryable
error (connection refused, 5xx, timeout) is taken out of rotation for ``cooldown_s`` and the
request is retried on another member; errors that are the request's own fault (4xx) are raised
at once. When every member is out, the pool raises ``BackendUnavailableError``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from parlantish.backends.base import Backend
from parlantish.core.types import GenerationRequest, GenerationResult, StreamDelta
from parlantish.errors import BackendUnavailableError, RunError, UserError

__all__ = ["BackendPool", "MemberState"]


@dataclass
class MemberState:
    """What the pool knows about one member."""

    backend: Backend
    outstanding: int = 0
    completed: int = 0
    failures: int = 0
    out_until: float = 0.0  # monotonic time before which the member is out of rotation
    last_error: str | None = None

    def available(self, now: float) -> bool:
        return now >= self.out_until


class BackendPool(Backend):
    """Several backends serving the same model, used as one."""

    def __init__(self, backends: Sequence[Backend], *, cooldown_s: float = 30.0):
        if not backends:
            raise UserError("a backend pool needs at least one backend")
        self.members = [MemberState(backend) for backend in backends]
        self.cooldown_s = cooldown_s
        self.name = "pool:" + ",".join(m.backend.name for m in self.members)
        self.supports_continuation = all(m.backend.supports_continuation for m in self.members)
        self.max_concurrency = sum(m.backend.max_concurrency for m in self.members)

    def _pick(self, tried: set[int]) -> int | None:
        now = time.monotonic()
        candidates = [i for i, m in enumerate(self.members) if i not in tried and m.available(now)]
        if not candidates:
            # Everything is cooling down: give the members not yet tried for this request a
            # chance anyway (a pause must not fail a request that could succeed).
            candidates = [i for i in range(len(self.members)) if i not in tried]
        if not candidates:
            return None
        return min(candidates, key=lambda i: (self.members[i].outstanding, i))

    def _failed(self, index: int, error: RunError) -> None:
        member = self.members[index]
        member.failures += 1
        member.last_error = f"{type(error).__name__}: {error}"
        member.out_until = time.monotonic() + self.cooldown_s

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        tried: set[int] = set()
        errors: list[str] = []
        while True:
            index = self._pick(tried)
            if index is None:
                raise BackendUnavailableError(
                    "every backend in the pool failed: " + "; ".join(errors)
                )
            tried.add(index)
            member = self.members[index]
            member.outstanding += 1
            try:
                result = await member.backend.agenerate(request)
            except RunError as e:
                if not e.retryable:
                    raise
                self._failed(index, e)
                errors.append(f"{member.backend.name}: {e}")
                continue
            finally:
                member.outstanding -= 1
            member.completed += 1
            member.out_until = 0.0
            return result

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        # Failover is only safe before the first delta: after that, text has been handed out.
        tried: set[int] = set()
        while True:
            index = self._pick(tried)
            if index is None:
                raise BackendUnavailableError("every backend in the pool failed")
            tried.add(index)
            member = self.members[index]
            member.outstanding += 1
            started = False
            try:
                async for delta in member.backend.astream(request):
                    started = True
                    yield delta
                member.completed += 1
                return
            except RunError as e:
                if started or not e.retryable:
                    raise
                self._failed(index, e)
            finally:
                member.outstanding -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(m.backend.aclose() for m in self.members))

    def stats(self) -> list[dict[str, object]]:
        """Per member: name, requests completed, failures, in rotation now, last error."""
        now = time.monotonic()
        return [
            {
                "backend": m.backend.name,
                "completed": m.completed,
                "failures": m.failures,
                "in_rotation": m.available(now),
                "last_error": m.last_error,
            }
            for m in self.members
        ]
