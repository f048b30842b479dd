"""A running vLLM server (or another OpenAI-compatible server) over HTTP.

Chat requests go to ``/chat/completions``, raw prompts to ``/completions``. A constraint travels
in vLLM's ``structured_outputs`` body field; the removed ``guided_*`` fields are never sent
(vLLM ignores them silently). With ``compat="openai"`` a JSON-schema constraint is sent as
``response_format`` instead, for servers that only honour that.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from parlantish.backends.base import Backend
from parlantish.core.constraints import ConstraintKind, rejection_error
from parlantish.core.types import Completion, GenerationRequest, GenerationResult, StreamDelta
from parlantish.errors import (
    BackendError,
    BackendUnavailableError,
    MalformedResponseError,
    RunError,
    UserError,
)

__all__ = ["VLLMServer"]


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, RunError) and error.retryable


class VLLMServer(Backend):
    """Client for an OpenAI-compatible server at ``base_url`` (``http://host:port/v1``).

    ``model`` defaults to the first model the server lists. Each HTTP call has ``timeout``
    seconds; retryable failures (connection errors, timeouts, 5xx, 429) are retried up to
    ``retries`` times with exponential backoff, within ``retry_deadline`` seconds in total.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        retries: int = 3,
        retry_deadline: float = 300.0,
        max_concurrency: int = 64,
        compat: Literal["vllm", "openai"] = "vllm",
    ):
        if not base_url.startswith(("http://", "https://")):
            raise UserError(
                f"not an http(s) URL: {base_url!r}", hint="e.g. http://127.0.0.1:8000/v1"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.compat = compat
        self.name = f"vllm-server:{self.base_url}"
        self.supports_continuation = True
        self.max_concurrency = max_concurrency
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._retries = retries
        self._retry_deadline = retry_deadline
        self._limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=32)
        # One client per event loop: an httpx.AsyncClient must not cross loops.
        self._clients: dict[int, httpx.AsyncClient] = {}

    def _client(self) -> httpx.AsyncClient:
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self._timeout,
                limits=self._limits,
            )
            self._clients[loop_id] = client
        return client

    # -- HTTP ----------------------------------------------------------------------------------

    async def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One HTTP exchange, errors translated; JSON body returned."""
        try:
            response = await self._client().request(method, path, json=body)
        except httpx.TimeoutException as e:
            raise BackendError(
                f"{self.base_url}{path}: timed out ({type(e).__name__})", retryable=True
            ) from e
        except httpx.TransportError as e:
            raise BackendUnavailableError(
                f"cannot reach {self.base_url}: {type(e).__name__}: {e or 'connection failed'}"
            ) from e
        return self._decode(response, path)

    def _decode(self, response: httpx.Response, path: str) -> Any:
        if response.status_code >= 400:
            detail = _error_detail(response.text)
            retry_after = _retry_after(response.headers.get("retry-after"))
            if response.status_code == 400:
                sent = self._last_body_keys(response)
                has_constraint = bool(sent & {"structured_outputs", "response_format"})
                raise rejection_error(
                    f"{self.base_url}{path} refused the request: {detail}",
                    has_constraint=has_constraint,
                )
            raise BackendError(
                f"{self.base_url}{path} answered HTTP {response.status_code}: {detail}",
                status=response.status_code,
                body=response.text[:2000],
                retry_after=retry_after,
            )
        try:
            return response.json()
        except ValueError as e:
            raise MalformedResponseError(
                f"{self.base_url}{path} answered non-JSON: {response.text[:200]!r}"
            ) from e

    @staticmethod
    def _last_body_keys(response: httpx.Response) -> set[str]:
        try:
            return set(json.loads(response.request.content or b"{}"))
        except (ValueError, RuntimeError):
            return set()

    async def _with_retries(self, make_call: Any) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self._retries + 1) | stop_after_delay(self._retry_deadline),
            wait=wait_exponential_jitter(multiplier=0.25, max=8.0, jitter=0.25),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await make_call()

    async def resolve_model(self) -> str:
        """The model name to send: the configured one, or the first the server lists."""
        if self.model is None:
            listing = await self._with_retries(lambda: self._send("GET", "/models"))
            try:
                self.model = listing["data"][0]["id"]
            except (KeyError, IndexError, TypeError) as e:
                raise MalformedResponseError(f"{self.base_url}/models listed no model") from e
        return self.model

    # -- request translation -------------------------------------------------------------------

    def build_body(
        self, request: GenerationRequest, model: str, *, stream: bool = False
    ) -> dict[str, Any]:
        """The JSON body for a request (public so the proxy and tests can inspect it)."""
        s = request.sampling
        body: dict[str, Any] = {
            "model": model,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "n": s.n,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.stop:
            body["stop"] = list(s.stop)
        body.update(s.engine_options())
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if request.messages is not None:
            body["messages"] = [m.to_openai() for m in request.messages]
            if request.continue_final_message:
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
        else:
            body["prompt"] = request.prompt
        constraint = request.constraint
        if constraint is not None:
            if self.compat == "openai" and constraint.kind is ConstraintKind.JSON_SCHEMA:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": constraint.payload, "strict": True},
                }
            else:
                body["structured_outputs"] = constraint.to_vllm()
        return body

    def _parse(self, data: Any, chat: bool, started: float, model: str) -> GenerationResult:
        try:
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
            texts = [(c["message"]["content"] or "") if chat else c["text"] for c in choices]
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            completion_total = int(usage.get("completion_tokens", 0))
            reasons = [c.get("finish_reason") or "stop" for c in choices]
        except (KeyError, TypeError, ValueError) as e:
            raise MalformedResponseError(f"malformed completion from {self.base_url}: {e!r}") from e
        if not choices:
            raise MalformedResponseError(f"{self.base_url} returned no choices")
        # The server reports one total; split it evenly when n > 1 (exact for n == 1).
        share, extra = divmod(completion_total, len(choices))
        completions = tuple(
            Completion(
                text=text,
                finish_reason=_finish_reason(reason),
                completion_tokens=share + (1 if i < extra else 0),
            )
            for i, (text, reason) in enumerate(zip(texts, reasons, strict=True))
        )
        return GenerationResult(
            completions=completions,
            prompt_tokens=prompt_tokens,
            latency_s=time.perf_counter() - started,
            model=model,
        )

    # -- Backend API ---------------------------------------------------------------------------

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        model = await self.resolve_model()
        chat = request.messages is not None
        path = "/chat/completions" if chat else "/completions"
        body = self.build_body(request, model)
        started = time.perf_counter()
        data = await self._with_retries(lambda: self._send("POST", path, body))
        return self._parse(data, chat, started, model)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        model = await self.resolve_model()
        chat = request.messages is not None
        path = "/chat/completions" if chat else "/completions"
        body = self.build_body(request, model, stream=True)
        started = time.perf_counter()
        parts: list[str] = []
        reason: str = "stop"
        usage: dict[str, Any] = {}
        try:
            async with self._client().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._decode(response, path)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    chunk = json.loads(payload)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        piece = (
                            (choice.get("delta") or {}).get("content")
                            if chat
                            else choice.get("text")
                        )
                        reason = choice.get("finish_reason") or reason
                        if piece:
                            parts.append(piece)
                            yield StreamDelta(text=piece)
        except httpx.TransportError as e:
            raise BackendUnavailableError(f"stream from {self.base_url} broke: {e}") from e
        except ValueError as e:
            raise MalformedResponseError(f"malformed stream chunk from {self.base_url}: {e}") from e
        result = GenerationResult(
            completions=(
                Completion(
                    text="".join(parts),
                    finish_reason=_finish_reason(reason),
                    completion_tokens=int(usage.get("completion_tokens", len(parts))),
                ),
            ),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            latency_s=time.perf_counter() - started,
            model=model,
        )
        yield StreamDelta(text="", result=result)

    async def health(self) -> bool:
        """Whether the server answers ``/health`` (vLLM serves it beside ``/v1``)."""
        root = self.base_url.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                return (await client.get(f"{root}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.pop(loop_id, None)
        if client is not None:
            await client.aclose()


def _finish_reason(reason: Any) -> Any:
    return reason if reason in ("stop", "length", "abort") else "stop"


def _error_detail(text: str) -> str:
    try:
        data = json.loads(text)
        error = data.get("error", data)
        message = error.get("message") if isinstance(error, dict) else error
        return str(message or data.get("detail") or text)[:500]
    except (ValueError, AttributeError):
        return text[:500] or "(empty body)"


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
