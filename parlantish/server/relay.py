"""Pass-through: requests for models without a blueprint, forwarded to an upstream server or
generated plainly on an in-process backend; the upstream's model list and health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response, StreamingResponse

from parlantish.backends import Backend, GenerationRequest, SamplingSettings
from parlantish.core.types import StreamDelta
from parlantish.errors import ParlantishError
from parlantish.server.errors import translate
from parlantish.server.metrics import ProxyMetrics
from parlantish.server.protocol import (
    ChatCompletionRequest,
    ProxyError,
    completion,
    first_error_field,
    parse_request,
)
from parlantish.server.sse import DONE, ChunkWriter, event_stream

__all__ = ["PASSTHROUGH_MAX_TOKENS", "Relay"]

PASSTHROUGH_MAX_TOKENS = 512


class Relay:
    """Forwards to ``upstream`` when it is a URL; otherwise generates on ``backend``."""

    def __init__(
        self, upstream: str, backend: Backend, metrics: ProxyMetrics, max_connections: int
    ):
        self.backend = backend
        self.metrics = metrics
        self.http: httpx.AsyncClient | None = None
        if upstream.startswith(("http://", "https://")):
            self.http = httpx.AsyncClient(
                base_url=upstream.rstrip("/"),
                timeout=httpx.Timeout(None, connect=10.0),
                limits=httpx.Limits(max_connections=max_connections),
            )

    async def __call__(
        self, body: dict[str, Any], raw: bytes, headers: Mapping[str, str]
    ) -> Response:
        if self.http is not None:
            return await self._forward(raw, headers, streaming=body.get("stream") is True)
        return await self._generate(body)

    # -- forwarding to a server --------------------------------------------------------------

    async def _forward(self, raw: bytes, headers: Mapping[str, str], streaming: bool) -> Response:
        assert self.http is not None
        forwarded = {"content-type": "application/json"}
        upstream_key = headers.get("x-upstream-authorization")
        if upstream_key:
            forwarded["authorization"] = upstream_key
        request = self.http.build_request(
            "POST", "/chat/completions", content=raw, headers=forwarded
        )
        try:
            response = await self.http.send(request, stream=streaming)
        except httpx.HTTPError as e:
            raise ProxyError(
                502,
                f"upstream unreachable: {type(e).__name__}",
                type="upstream_error",
                code="upstream",
            ) from e
        media_type = response.headers.get("content-type", "application/json")
        if not streaming:  # one body: no streaming machinery on either side
            return Response(response.content, response.status_code, media_type=media_type)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for data in response.aiter_raw():
                    yield data
            finally:
                await response.aclose()

        return StreamingResponse(relay(), response.status_code, media_type=media_type)

    # -- plain generation on the backend -----------------------------------------------------

    async def _generate(self, body: dict[str, Any]) -> Response:
        request = parse_request(body)
        try:
            generation = GenerationRequest(
                messages=request.messages,
                sampling=SamplingSettings(
                    temperature=1.0 if request.temperature is None else request.temperature,
                    max_tokens=request.budget or PASSTHROUGH_MAX_TOKENS,
                    seed=request.seed,
                    **request.sampling,
                ),
            )
        except ValidationError as e:
            param, message = first_error_field(e)
            raise ProxyError(400, message, param=param, code="invalid_request") from e
        try:
            if request.stream:
                deltas = self.backend.astream(generation)
                first = await anext(deltas)  # errors before the first delta get a status code
                return event_stream(self._chunks(request, first, deltas))
            result = await self.backend.agenerate(generation)
        except ParlantishError as e:
            raise translate(e) from e
        self.metrics.count_usage(result.usage.prompt_tokens, result.usage.completion_tokens)
        reason = "length" if result.finish_reason == "length" else "stop"
        return JSONResponse(
            completion(request.model, result.text, result.usage.to_dict(), finish_reason=reason)
        )

    @staticmethod
    async def _chunks(
        request: ChatCompletionRequest, first: StreamDelta, deltas: AsyncIterator[StreamDelta]
    ) -> AsyncIterator[bytes]:
        piece = ChunkWriter(request.model)
        yield piece(role="assistant", content="")
        delta = first
        while True:
            if delta.text:
                yield piece(content=delta.text)
            if delta.result is not None:
                result = delta.result
                yield piece(finish_reason="length" if result.finish_reason == "length" else "stop")
                if request.include_usage:
                    yield piece(usage=result.usage.to_dict())
                break
            try:
                delta = await anext(deltas)
            except StopAsyncIteration:
                break
        yield DONE

    # -- the upstream's models and health ----------------------------------------------------

    async def models(self) -> list[str]:
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
