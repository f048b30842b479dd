"""The guarding proxy: an OpenAI-compatible ASGI app that applies blueprints in front of vLLM.

``POST /v1/chat/completions`` picks a blueprint from the ``X-Parlantish-Blueprint`` header, a
``blueprint:<name>`` model, or the configured model mapping, and answers with the guarded reply
(usage summed over attempts, the checkpoint trace and check results under ``parlantish``).
Requests for other models are passed through to the upstream unchanged when pass-through is on.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from parlantish.backends import Backend, resolve_backend
from parlantish.server.auth import KeyGate
from parlantish.server.config import BLUEPRINT_MODEL_PREFIX, ProxyConfig
from parlantish.server.errors import failure_kind, internal_error
from parlantish.server.guarded import GuardedHandler
from parlantish.server.limits import read_body
from parlantish.server.metrics import ProxyMetrics
from parlantish.server.protocol import ProxyError, error_response
from parlantish.server.relay import Relay

__all__ = ["BLUEPRINT_HEADER", "create_app"]

BLUEPRINT_HEADER = "x-parlantish-blueprint"


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ProxyError(400, f"the body is not JSON: {e}", code="invalid_request") from e
    except RecursionError as e:  # "[[[[…": deeper than the decoder's stack
        raise ProxyError(400, "the body is nested too deeply", code="invalid_request") from e
    if not isinstance(body, dict):
        raise ProxyError(400, "the body must be a JSON object", code="invalid_request")
    return body


class _Proxy:
    """The app's state and routes (one per app)."""

    def __init__(self, config: ProxyConfig, backend: Backend):
        self.config = config
        self.backend = backend
        self.metrics = ProxyMetrics()
        self.guarded = GuardedHandler(
            backend,
            self.metrics,
            config.deadline_s,
            config.guard_cache_size,
            sampling=config.sampling,
        )
        self.relay = Relay(config.upstream, backend, self.metrics, config.max_concurrency)

    async def chat_completions(self, request: Request) -> Response:
        started = time.perf_counter()
        mode = "guarded"
        try:
            limit, timeout_s = self.config.max_body_bytes, self.config.body_timeout_s
            raw = await read_body(request.scope, request.receive, limit, timeout_s)
            body = _decode(raw)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise ProxyError(400, "'model' is required", param="model", code="invalid_request")
            try:
                blueprint = self.config.blueprint_for(model, request.headers.get(BLUEPRINT_HEADER))
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
                if not self.config.passthrough:
                    raise ProxyError(
                        404,
                        f"model {model!r} has no blueprint, and pass-through is off",
                        type="not_found_error",
                        param="model",
                        code="unknown_blueprint",
                    )
                response = await self.relay(body, raw, request.headers)
            else:
                response = await self.guarded(blueprint, body)
        except ProxyError as error:
            self.metrics.failures.labels(failure_kind(error)).inc()
            response = error_response(error)
        except Exception as e:  # the client gets a bare 500; the log has the rest
            internal = internal_error(e)
            self.metrics.failures.labels(failure_kind(internal)).inc()
            response = error_response(internal)
        self.metrics.request(mode, response.status_code, time.perf_counter() - started)
        return response

    async def models(self, _: Request) -> Response:
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
            for model in await self.relay.models():
                if model not in {e["id"] for e in entries}:
                    entries.append(
                        {"id": model, "object": "model", "created": 0, "owned_by": "upstream"}
                    )
        return JSONResponse({"object": "list", "data": entries})

    async def health(self, _: Request) -> Response:
        ok, detail = await self.relay.health()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "detail": detail},
            status_code=200 if ok else 503,
        )

    async def render_metrics(self, _: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def aclose(self) -> None:
        await self.relay.aclose()
        await self.backend.aclose()


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else "invalid_request"
    return error_response(ProxyError(exc.status_code, str(exc.detail), code=code))


async def _unexpected(_: Request, exc: Exception) -> Response:
    return error_response(internal_error(exc))


def create_app(config: ProxyConfig, backend: Backend | None = None) -> Starlette:
    """The proxy as an ASGI app (serve it with uvicorn; ``parlantish serve`` does)."""
    proxy = _Proxy(config, backend or resolve_backend(config.upstream))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await proxy.aclose()

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", proxy.chat_completions, methods=["POST"]),
            Route("/v1/models", proxy.models, methods=["GET"]),
            Route("/health", proxy.health, methods=["GET"]),
            Route("/metrics", proxy.render_metrics, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                KeyGate,
                api_key=config.api_key,
                requests_per_key=config.max_requests_per_key,
                metrics=proxy.metrics,
            )
        ],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.proxy = proxy
    return app
