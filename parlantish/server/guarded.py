"""Guarded completions: a request for a blueprint answered by its Guard, whole or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response

from parlantish.backends import Backend
from parlantish.blueprint import Blueprint
from parlantish.errors import ParlantishError
from parlantish.runtime import Guard, GuardReply
from parlantish.runtime.streaming import FinalEvent, TextDelta
from parlantish.server.errors import failure_kind, internal_error, translate
from parlantish.server.limits import LRUCache
from parlantish.server.metrics import ProxyMetrics
from parlantish.server.protocol import ChatCompletionRequest, completion, parse_request
from parlantish.server.sse import DONE, ChunkWriter, event_stream

__all__ = ["GuardedHandler"]

REPLAY_CHUNK_CHARS = 24


def _extension(reply: GuardReply) -> dict[str, Any]:
    data = reply.to_dict()
    for key in ("reply", "text", "raw"):
        data.pop(key, None)
    return data


async def _replay(reply: GuardReply) -> AsyncIterator[Any]:
    for start in range(0, len(reply.text), REPLAY_CHUNK_CHARS):
        yield TextDelta(reply.text[start : start + REPLAY_CHUNK_CHARS])
    yield FinalEvent(reply)


class GuardedHandler:
    """Answers requests for blueprints with one Guard per (blueprint, max_tokens), at most
    ``cache_size`` of them (``max_tokens`` is the client's to choose)."""

    def __init__(
        self,
        backend: Backend,
        metrics: ProxyMetrics,
        deadline_s: float | None,
        cache_size: int,
        *,
        sampling: dict[str, Any] | None = None,
    ):
        self.backend = backend
        self.sampling = dict(sampling or {})  # the proxy's defaults; a request's fields win
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.guards: LRUCache[tuple[str, int | None], Guard] = LRUCache(cache_size)

    def guard(self, blueprint: Blueprint, max_tokens: int | None) -> Guard:
        return self.guards.get_or_add(
            (blueprint.name, max_tokens),
            lambda: Guard(blueprint, self.backend, max_tokens=max_tokens),
        )

    async def __call__(self, blueprint: Blueprint, body: dict[str, Any]) -> Response:
        request = parse_request(body)
        guard = self.guard(blueprint, request.budget)
        options: dict[str, Any] = {
            "deadline_s": request.parlantish.deadline_s or self.deadline_s,
            "temperature": request.temperature,
            "seed": request.seed,
            "sampling": self.sampling | request.sampling,
        }
        # The Guard compiles the plan before it calls the backend, so bad variables or messages
        # fail here, before anything is generated or sent.
        try:
            if request.stream:
                return await self._stream(guard, request, options)
            reply = await guard.areply(request.messages, request.parlantish.variables, **options)
        except ParlantishError as e:
            raise translate(e) from e
        self._count(blueprint, reply)
        usage, extension = reply.usage.to_dict(), _extension(reply)
        return JSONResponse(
            completion(
                request.model,
                reply.text,
                usage,
                finish_reason=reply.finish_reason or "stop",
                extension=extension,
            )
        )

    def _count(self, blueprint: Blueprint, reply: GuardReply) -> None:
        self.metrics.count_usage(reply.usage.prompt_tokens, reply.usage.completion_tokens)
        for attempt in reply.attempts:
            for check in attempt.checks:
                if not check.passed:
                    self.metrics.check_failures.labels(blueprint.name, check.name).inc()

    async def _stream(
        self, guard: Guard, request: ChatCompletionRequest, options: dict[str, Any]
    ) -> Response:
        variables = request.parlantish.variables
        plan = guard.plan(request.messages, variables)
        if guard.policy.retries == 0 or (plan.execution == "stepwise" and plan.repair_attempts):
            # Live: one attempt's text as the model writes it, or a stepwise plan's segments
            # each once it has passed the locatable checks (failing ones are resampled). Text
            # sent is final: a failure after it is not retried, the last chunk says so.
            events = guard.astream(request.messages, variables, live=True, **options)
        else:
            # Retries of whole replies: text already sent cannot be taken back, so the accepted
            # reply is streamed once its checks have passed.
            events = _replay(await guard.areply(request.messages, variables, **options))
        first = await anext(events)  # errors before the first event still get a status code
        return event_stream(self._chunks(guard, request, first, events))

    async def _chunks(
        self, guard: Guard, request: ChatCompletionRequest, first: Any, events: AsyncIterator[Any]
    ) -> AsyncIterator[bytes]:
        piece = ChunkWriter(request.model)
        yield piece(role="assistant", content="")
        reply: GuardReply | None = None
        try:
            event = first
            while True:
                if isinstance(event, TextDelta) and event.text:
                    yield piece(content=event.text)
                elif isinstance(event, FinalEvent):
                    reply = event.reply
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    break
            assert reply is not None
            self._count(guard.blueprint, reply)
            yield piece(finish_reason=reply.finish_reason or "stop", extension=_extension(reply))
            if request.include_usage:
                yield piece(usage=reply.usage.to_dict())
        except Exception as e:  # the status line is sent: the failure becomes an error event
            error = translate(e) if isinstance(e, ParlantishError) else internal_error(e)
            self.metrics.failures.labels(failure_kind(error)).inc()
            yield piece.error(error)
        yield DONE
