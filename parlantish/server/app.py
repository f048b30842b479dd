"""The guarding proxy: an OpenAI-compatible ASGI app that applies blueprints in front of vLLM.

``POST /v1/chat/completions`` picks a blueprint from the ``X-Parlantish-Blueprint`` header, a
``blueprint:<name>`` model, or the configured model mapping, and answers with the guarded reply
(usage summed over attempts, the checkpoint trace and check results under ``parlantish``).
Requests for other models are passed through to the upstream unchanged when pass-through is on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from parlantish.backends import Backend, GenerationRequest, SamplingSettings, resolve_backend
from parlantish.blueprint import Blueprint, TemplateRenderError, VariablesError
from parlantish.errors import (
    AttemptsExhaustedError,
    BackendError,
    DeadlineExceededError,
    MalformedResponseError,
    ParlantishError,
    RunError,
    UserError,
)
from parlantish.runtime import Guard, GuardReply
from parlantish.runtime.streaming import FinalEvent, TextDelta
from parlantish.server.config import BLUEPRINT_MODEL_PREFIX, ProxyConfig
from parlantish.server.metrics import ProxyMetrics
from parlantish.server.protocol import (
    ChatCompletionRequest,
    ProxyError,
    chunk,
    completion,
    error_response,
    first_error_field,
    new_id,
)

__all__ = ["BLUEPRINT_HEADER", "create_app"]

BLUEPRINT_HEADER = "x-parlantish-blueprint"
PASSTHROUGH_MAX_TOKENS = 512
REPLAY_CHUNK_CHARS = 24


def _sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n".encode()


def _parse_request(body: dict[str, Any]) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as e:
        param, message = first_error_field(e)
        raise ProxyError(400, message, param=param, code="invalid_request") from e


def _chunk_writer(model: str) -> Callable[..., bytes]:
    """SSE bytes of the chunks of one streamed completion (one id and creation time)."""
    completion_id, created = new_id(), int(time.time())

    def piece(**fields: Any) -> bytes:
        return _sse(chunk(completion_id, model, created=created, **fields))

    return piece


def _failure_kind(error: ProxyError) -> str:
    return error.code or error.type


def _translate(error: ParlantishError) -> ProxyError:
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
    return ProxyError(500, str(error), type="internal_error", code="internal")


def _extension(reply: GuardReply) -> dict[str, Any]:
    data = reply.to_dict()
    for key in ("reply", "text", "raw"):
        data.pop(key, None)
    return data


class _Proxy:
    """The app's state and handlers (one per app)."""

    def __init__(self, config: ProxyConfig, backend: Backend):
        self.config = config
        self.backend = backend
        self.metrics = ProxyMetrics()
        self.http: httpx.AsyncClient | None = None
        if config.upstream.startswith(("http://", "https://")):
            self.http = httpx.AsyncClient(
                base_url=config.upstream.rstrip("/"),
                timeout=httpx.Timeout(None, connect=10.0),
                limits=httpx.Limits(max_connections=config.max_concurrency),
            )
        self._guards: dict[tuple[str, int | None], Guard] = {}

    def guard(self, blueprint: Blueprint, max_tokens: int | None) -> Guard:
        key = (blueprint.name, max_tokens)
        if key not in self._guards:
            self._guards[key] = Guard(blueprint, self.backend, max_tokens=max_tokens)
        return self._guards[key]

    # -- guarded ---------------------------------------------------------------------------

    async def guarded(self, blueprint: Blueprint, body: dict[str, Any]) -> Response:
        request = _parse_request(body)
        if request.stop is not None:
            raise ProxyError(
                400,
                "'stop' is not supported for guarded completions (the blueprint's "
                "constraint decides where the output ends)",
                param="stop",
                code="invalid_request",
            )
        if request.top_p not in (None, 1, 1.0):
            raise ProxyError(
                400,
                "'top_p' other than 1 is not supported for guarded completions",
                param="top_p",
                code="invalid_request",
            )
        guard = self.guard(blueprint, request.budget)
        variables = request.parlantish.variables
        deadline = request.parlantish.deadline_s or self.config.deadline_s
        options: dict[str, Any] = {
            "deadline_s": deadline,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        try:
            guard.plan(request.messages, variables)  # bad variables or messages: before anything
            if request.stream:
                return await self._guarded_stream(guard, request, variables, options)
            reply = await guard.areply(request.messages, variables, **options)
        except ParlantishError as e:
            raise _translate(e) from e
        self._count_reply(blueprint, reply)
        body_out = completion(
            request.model, reply.text, reply.usage.to_dict(), extension=_extension(reply)
        )
        return JSONResponse(body_out)

    def _count_reply(self, blueprint: Blueprint, reply: GuardReply) -> None:
        self.metrics.tokens.labels("prompt").inc(reply.usage.prompt_tokens)
        self.metrics.tokens.labels("completion").inc(reply.usage.completion_tokens)
        for attempt in reply.attempts:
            for check in attempt.checks:
                if not check.passed:
                    self.metrics.check_failures.labels(blueprint.name, check.name).inc()

    async def _guarded_stream(
        self,
        guard: Guard,
        request: ChatCompletionRequest,
        variables: dict[str, Any],
        options: dict[str, Any],
    ) -> Response:
        piece = _chunk_writer(request.model)
        if guard.policy.retries == 0:
            # One attempt: reply text is streamed live as the model writes it.
            events = guard.astream(request.messages, variables, **options)
        else:
            # Retries possible: text already sent cannot be taken back, so the accepted reply is
            # streamed once its checks have passed.
            events = self._replay(await guard.areply(request.messages, variables, **options))
        first = await anext(events)  # errors before the first event still get a status code

        async def body() -> AsyncIterator[bytes]:
            yield piece(role="assistant", content="")
            reply: GuardReply | None = None
            try:
                event: Any = first
                while True:
                    if isinstance(event, TextDelta) and event.text:
                        yield piece(content=event.text)
                    elif isinstance(event, FinalEvent):
                        reply = event.reply
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
            except ParlantishError as e:
                error = _translate(e)
                self.metrics.failures.labels(_failure_kind(error)).inc()
                yield _sse(
                    {
                        "error": {
                            "message": error.message,
                            "type": error.type,
                            "param": error.param,
                            "code": error.code,
                        }
                    }
                )
                yield _sse("[DONE]")
                return
            assert reply is not None
            self._count_reply(guard.blueprint, reply)
            yield piece(finish_reason="stop", extension=_extension(reply))
            if request.include_usage:
                yield piece(usage=reply.usage.to_dict())
            yield _sse("[DONE]")

        return StreamingResponse(body(), media_type="text/event-stream")

    @staticmethod
    async def _replay(reply: GuardReply) -> AsyncIterator[Any]:
        for start in range(0, len(reply.text), REPLAY_CHUNK_CHARS):
            yield TextDelta(reply.text[start : start + REPLAY_CHUNK_CHARS])
        yield FinalEvent(reply)

    # -- pass-through ------------------------------------------------------------------------

    async def passthrough(self, body: dict[str, Any], raw: bytes, headers: Any) -> Response:
        if self.http is not None:
            return await self._forward(raw, headers)
        return await self._generate_plain(body)

    async def _forward(self, raw: bytes, headers: Any) -> Response:
        assert self.http is not None
        forwarded = {"content-type": "application/json"}
        upstream_key = headers.get("x-upstream-authorization")
        if upstream_key:
            forwarded["authorization"] = upstream_key
        request = self.http.build_request(
            "POST", "/chat/completions", content=raw, headers=forwarded
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as e:
            raise ProxyError(
                502, f"upstream unreachable: {e}", type="upstream_error", code="upstream"
            ) from e

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for data in response.aiter_raw():
                    yield data
            finally:
                await response.aclose()

        return StreamingResponse(
            relay(),
            status_code=response.status_code,
            media_type=response.headers.get("content-type", "application/json"),
        )

    async def _generate_plain(self, body: dict[str, Any]) -> Response:
        request = _parse_request(body)
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        try:
            generation = GenerationRequest(
                messages=request.messages,
                sampling=SamplingSettings(
                    temperature=1.0 if request.temperature is None else request.temperature,
                    top_p=request.top_p or 1.0,
                    max_tokens=request.budget or PASSTHROUGH_MAX_TOKENS,
                    seed=request.seed,
                    stop=tuple(stop),
                ),
            )
        except ValidationError as e:
            param, message = first_error_field(e)
            raise ProxyError(400, message, param=param, code="invalid_request") from e
        try:
            if request.stream:
                return await self._plain_stream(request, generation)
            result = await self.backend.agenerate(generation)
        except ParlantishError as e:
            raise _translate(e) from e
        self.metrics.tokens.labels("prompt").inc(result.usage.prompt_tokens)
        self.metrics.tokens.labels("completion").inc(result.usage.completion_tokens)
        reason = "length" if result.finish_reason == "length" else "stop"
        return JSONResponse(
            completion(request.model, result.text, result.usage.to_dict(), finish_reason=reason)
        )

    async def _plain_stream(
        self, request: ChatCompletionRequest, generation: GenerationRequest
    ) -> Response:
        piece = _chunk_writer(request.model)
        deltas = self.backend.astream(generation)
        first = await anext(deltas)

        async def body() -> AsyncIterator[bytes]:
            yield piece(role="assistant", content="")
            delta = first
            while True:
                if delta.text:
                    yield piece(content=delta.text)
                if delta.result is not None:
                    result = delta.result
                    reason = "length" if result.finish_reason == "length" else "stop"
                    yield piece(finish_reason=reason)
                    if request.include_usage:
                        yield piece(usage=result.usage.to_dict())
                    break
                try:
                    delta = await anext(deltas)
                except StopAsyncIteration:
                    break
            yield _sse("[DONE]")

        return StreamingResponse(body(), media_type="text/event-stream")

    # -- listings and health --------------------------------------------------------------

    async def models(self) -> dict[str, Any]:
        entries = [
            {
                "id": f"{BLUEPRINT_MODEL_PREFIX}{name}",
                "object": "model",
                "created": 0,
                "owned_by": "parlantish",
            }
            for name in sorted(self.config.blueprints)
        ]
        entries += [
            {
                "id": model,
                "object": "model",
                "created": 0,
                "owned_by": "parlantish",
                "parlantish_blueprint": name,
            }
            for model, name in sorted(self.config.model_map.items())
        ]
        if self.config.passthrough:
            for model in await self._upstream_models():
                if model not in {e["id"] for e in entries}:
                    entries.append(
                        {"id": model, "object": "model", "created": 0, "owned_by": "upstream"}
                    )
        return {"object": "list", "data": entries}

    async def _upstream_models(self) -> list[str]:
        if self.http is None:
            model = getattr(self.backend, "model", None)
            return [model] if isinstance(model, str) else []
        try:
            response = await self.http.get("/models", timeout=5.0)
            response.raise_for_status()
            return [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError):
            return []

    async def health(self) -> tuple[bool, str]:
        if self.http is not None:
            root = str(self.http.base_url).rstrip("/").removesuffix("/v1")
            try:
                response = await self.http.get(f"{root}/health", timeout=3.0)
                return response.status_code == 200, f"upstream /health {response.status_code}"
            except httpx.HTTPError as e:
                return False, f"upstream unreachable: {type(e).__name__}"
        dead = getattr(self.backend, "_dead", None)
        return dead is None, "engine running" if dead is None else f"engine failed: {dead}"

    async def aclose(self) -> None:
        if self.http is not None:
            await self.http.aclose()
        await self.backend.aclose()


def create_app(config: ProxyConfig, backend: Backend | None = None) -> FastAPI:
    """The proxy as an ASGI app (serve it with uvicorn; ``parlantish serve`` does)."""
    proxy = _Proxy(config, backend or resolve_backend(config.upstream))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await proxy.aclose()

    app = FastAPI(title="parlantish proxy", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.proxy = proxy

    @app.middleware("http")
    async def authenticate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        key = config.api_key
        if key and request.url.path != "/health":
            given = request.headers.get("authorization", "")
            if given != f"Bearer {key}":
                proxy.metrics.failures.labels("auth").inc()
                return error_response(
                    ProxyError(
                        401,
                        "missing or wrong API key",
                        type="authentication_error",
                        code="invalid_api_key",
                    )
                )
        return await call_next(request)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        started = time.perf_counter()
        mode = "guarded"
        try:
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError as e:
                raise ProxyError(400, f"the body is not JSON: {e}", code="invalid_request") from e
            if not isinstance(body, dict):
                raise ProxyError(400, "the body must be a JSON object", code="invalid_request")
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise ProxyError(400, "'model' is required", param="model", code="invalid_request")
            try:
                blueprint = config.blueprint_for(model, request.headers.get(BLUEPRINT_HEADER))
            except KeyError as e:
                raise ProxyError(
                    404,
                    f"unknown blueprint {e.args[0]!r}",
                    type="not_found_error",
                    param="model",
                    code="unknown_blueprint",
                ) from e
            if blueprint is None:
                mode = "passthrough"
                if not config.passthrough:
                    raise ProxyError(
                        404,
                        f"model {model!r} has no blueprint, and pass-through is off",
                        type="not_found_error",
                        param="model",
                        code="unknown_blueprint",
                    )
                response = await proxy.passthrough(body, raw, request.headers)
            else:
                response = await proxy.guarded(blueprint, body)
        except ProxyError as error:
            proxy.metrics.failures.labels(_failure_kind(error)).inc()
            response = error_response(error)
        except asyncio.CancelledError:
            raise
        proxy.metrics.requests.labels(mode, str(response.status_code)).inc()
        proxy.metrics.latency.labels(mode).observe(time.perf_counter() - started)
        return response

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return await proxy.models()

    @app.get("/health")
    async def health() -> JSONResponse:
        ok, detail = await proxy.health()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "detail": detail},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(proxy.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
