"""Transport for the attempt pipeline: one generation, retried with backoff on transport
failures (connection, timeout, 5xx, 429) within the call's deadline."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from parlantish.backends import Backend
from parlantish.core import GenerationRequest, GenerationResult
from parlantish.errors import DeadlineExceededError, RunError

__all__ = ["Transport", "generate"]


def _retryable(error: BaseException) -> bool:
    return isinstance(error, RunError) and error.retryable


@dataclass(frozen=True)
class Transport:
    """Retries of a generation that failed in transport, with backoff, within a deadline
    (``deadline`` is a time on the running loop's clock, or ``None``)."""

    retries: int = 2
    deadline: float | None = None
    backoff_s: float = 0.2
    backoff_max_s: float = 5.0

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        remaining = self.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise DeadlineExceededError("the call's deadline passed")
        return remaining

    async def sleep(self, seconds: float) -> None:
        remaining = self.remaining()
        await asyncio.sleep(seconds if remaining is None else min(seconds, remaining))

    def retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_s, max=self.backoff_max_s, jitter=self.backoff_s
            ),
            sleep=self.sleep,
            reraise=True,
        )


async def generate(
    backend: Backend, request: GenerationRequest, transport: Transport
) -> GenerationResult:
    """One generation, retried on transport failures within the deadline."""
    async for attempt in transport.retrying():
        with attempt:
            remaining = transport.remaining()
            try:
                return await asyncio.wait_for(backend.agenerate(request), remaining)
            except asyncio.TimeoutError as e:
                raise DeadlineExceededError("the call's deadline passed while generating") from e
    raise AssertionError("unreachable")
