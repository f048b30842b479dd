"""The OpenAI chat-completions wire format: the request the proxy accepts, the responses and
stream chunks it sends, and errors in OpenAI's shape."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.responses import JSONResponse

__all__ = [
    "SAMPLING_FIELDS",
    "ChatCompletionRequest",
    "ParlantishExtension",
    "ProxyError",
    "chunk",
    "completion",
    "error_body",
    "error_response",
    "first_error_field",
    "new_id",
    "parse_request",
]


class ParlantishExtension(BaseModel):
    """The request's ``parlantish`` field (``extra_body={"parlantish": {...}}`` in the SDK)."""

    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = Field(default_factory=dict)
    deadline_s: float | None = Field(None, gt=0)


#: Sampling fields of the request body passed to the Guard as they are: OpenAI's, and the extra
#: ones vLLM's OpenAI server accepts at the top level of the body (``extra_body`` in the SDK).
SAMPLING_FIELDS = (
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "top_k",
    "min_p",
    "repetition_penalty",
    "min_tokens",
)


class ChatCompletionRequest(BaseModel):
    """The fields a guarded completion honours. Others that change what is generated (tools,
    response_format, n > 1, logprobs, …) are refused with 400 rather than silently ignored.

    ``max_tokens`` (or ``max_completion_tokens``) bounds the visible reply; the blueprint's
    checkpoints get their own budget on top. ``stop`` strings end the whole output, checkpoints
    included: one met before the reply is complete makes the output unreadable."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    seed: int | None = None
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    top_k: int | None = Field(None, ge=-1)
    min_p: float | None = Field(None, ge=0, le=1)
    repetition_penalty: float | None = Field(None, gt=0, le=2)
    min_tokens: int | None = Field(None, ge=0)
    n: Literal[1] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = Field(None, max_length=4)
    user: str | None = None
    metadata: dict[str, str] | None = None
    parlantish: ParlantishExtension = Field(default_factory=ParlantishExtension)

    @model_validator(mode="after")
    def _one_budget(self) -> ChatCompletionRequest:
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("give max_tokens or max_completion_tokens, not both")
        return self

    @property
    def budget(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def sampling(self) -> dict[str, Any]:
        """The sampling fields given (``SamplingSettings`` names), without the budget."""
        given = {name: getattr(self, name) for name in SAMPLING_FIELDS}
        if self.stop is not None:
            given["stop"] = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        return {name: value for name, value in given.items() if value is not None}

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class ProxyError(Exception):
    """An error answered in OpenAI's shape with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        retry_after_s: int | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.extra = extra
        self.retry_after_s = retry_after_s


def first_error_field(error: ValidationError) -> tuple[str | None, str]:
    """The dotted field path and message of a request validation error."""
    first = error.errors()[0]
    path = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        return path, f"unsupported field {path!r} for a guarded completion"
    return path, f"{path}: {first['msg']}" if path else first["msg"]


def parse_request(body: dict[str, Any]) -> ChatCompletionRequest:
    """The request, or a 400 naming the first offending field."""
    try:
        return ChatCompletionRequest.model_validate(body)
    except ValidationError as e:
        param, message = first_error_field(e)
        raise ProxyError(400, message, param=param, code="invalid_request") from e


def error_body(error: ProxyError) -> dict[str, Any]:
    """``{"error": {message, type, param, code}}``, with ``extra`` under ``parlantish``."""
    body: dict[str, Any] = {
        "error": {
            "message": error.message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
        }
    }
    if error.extra:
        body["parlantish"] = error.extra
    return body


def error_response(error: ProxyError) -> JSONResponse:
    headers = {}
    if error.retry_after_s:
        headers["retry-after"] = str(error.retry_after_s)
    if error.status in (408, 413):  # the rest of the body is not read: end the connection
        headers["connection"] = "close"
    return JSONResponse(error_body(error), status_code=error.status, headers=headers)


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(
    model: str,
    content: str,
    usage: dict[str, int],
    *,
    finish_reason: str = "stop",
    extension: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    body: dict[str, Any] = {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": usage,
    }
    if extension is not None:
        body["parlantish"] = extension
    return body


def chunk(
    completion_id: str,
    model: str,
    *,
    content: str | None = None,
    role: str | None = None,
    finish_reason: str | None = None,
    usage: dict[str, int] | None = None,
    extension: dict[str, Any] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk`` object (``usage`` chunks have no choices)."""
    delta: dict[str, Any] = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created or int(time.time()),
        "model": model,
        "choices": []
        if usage is not None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        body["usage"] = usage
    if extension is not None:
        body["parlantish"] = extension
    return body
