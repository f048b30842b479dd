"""A backend that answers from a script: for testing blueprints and code above the backend.

Public API, selected by the backend spec ``"scripted"``. Outputs are taken in order (or computed
by a function of the request); by default each is checked against the request's constraint, so
a script cannot pass off text a real constrained engine could never produce.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Union

from parlantish.backends.base import Backend
from parlantish.backends.conformance import conformance_error
from parlantish.core.types import Completion, GenerationRequest, GenerationResult, StreamDelta
from parlantish.errors import UserError

__all__ = ["ScriptError", "ScriptedBackend"]

ScriptItem = Union[str, dict, Exception, Callable[[GenerationRequest], Any]]  # noqa: UP007


class ScriptError(UserError):
    """The script ran out, or produced text that breaks the request's constraint."""


_PIECE = re.compile(r"\S+")


def _count_tokens(text: str) -> int:
    # A stand-in tokenizer: whitespace-separated pieces, at least one per non-empty text.
    return max(1, len(text.split())) if text else 0


def _sampling_error(request: GenerationRequest, text: str) -> str | None:
    """Why an engine honouring the request's stop strings and ``min_tokens`` could not have
    returned ``text`` (tokens counted as this backend counts them), or ``None``."""
    sampling = request.sampling
    if _count_tokens(text) < min(sampling.min_tokens, sampling.max_tokens):
        return f"the output is shorter than min_tokens={sampling.min_tokens}"
    for stop in sampling.stop:
        start = text.find(stop)
        while start >= 0:
            end = start + len(stop)
            if _count_tokens(text[:end]) > sampling.min_tokens:
                kept = end if sampling.include_stop_str_in_output else start
                if kept < len(text):
                    return f"an engine would have stopped at {stop!r} (offset {start})"
                break
            start = text.find(stop, start + 1)
    return None


class ScriptedBackend(Backend):
    """Answers requests from ``script``: a list of outputs used in order, or one function.

    Each item is a string, a dict (sent as JSON), an exception (raised, to simulate failures),
    or a function ``request -> item``. ``cycle`` repeats the list; ``delay_s`` simulates latency;
    ``validate`` checks outputs against the request's constraint; ``cut`` cuts an output longer
    than the request's ``max_tokens`` there, as an engine does (``finish_reason`` ``length``;
    the conformance check then applies to the whole output). Every request received is kept
    in ``requests`` for assertions.
    """

    __test__ = False  # not a pytest test class, despite the public name

    def __init__(
        self,
        script: Iterable[ScriptItem] | Callable[[GenerationRequest], Any] = (),
        *,
        cycle: bool = False,
        validate: bool = True,
        delay_s: float = 0.0,
        model: str = "scripted",
        cut: bool = False,
    ):
        self._function = script if callable(script) else None
        self._items: list[ScriptItem] = [] if callable(script) else list(script)
        self._cycle = cycle
        self._validate = validate
        self._delay_s = delay_s
        self._cut = cut
        self._position = 0
        self._lock = threading.Lock()
        self.model = model
        self.name = f"scripted:{model}"
        self.supports_continuation = True
        self.requests: list[GenerationRequest] = []

    def _next_item(self, request: GenerationRequest) -> ScriptItem:
        with self._lock:
            self.requests.append(request)
            if self._function is not None:
                return self._function(request)
            if self._position >= len(self._items):
                if not (self._cycle and self._items):
                    raise ScriptError(
                        f"the script has {len(self._items)} outputs and all were used",
                        hint="add outputs, or pass cycle=True",
                    )
                self._position = 0
            item = self._items[self._position]
            self._position += 1
            return item

    def _text_for(self, request: GenerationRequest) -> str:
        item = self._next_item(request)
        while callable(item) and not isinstance(item, Exception):
            item = item(request)
        if isinstance(item, Exception):
            raise item
        text = json.dumps(item) if isinstance(item, (dict, list)) else str(item)
        problem = _sampling_error(request, text)
        if problem is not None:
            raise ScriptError(f"{problem}; output: {text[:200]!r}", hint="fix the script")
        if self._validate and request.constraint is not None:
            problem = conformance_error(request.constraint, text)
            if problem is not None:
                raise ScriptError(
                    f"scripted output breaks the request's {request.constraint.kind.value} "
                    f"constraint: {problem}; output: {text[:200]!r}",
                    hint="fix the script, or pass validate=False to simulate a server "
                    "that ignores constraints",
                )
        return text

    def _result(
        self, request: GenerationRequest, texts: list[str], started: float
    ) -> GenerationResult:
        prompt = (
            request.prompt
            if request.prompt is not None
            else " ".join(m.content for m in request.messages or ())
        )
        max_tokens = request.sampling.max_tokens
        completions = tuple(
            Completion(
                text=self._cut_text(text, max_tokens),
                finish_reason="length" if _count_tokens(text) > max_tokens else "stop",
                completion_tokens=min(_count_tokens(text), max_tokens)
                if self._cut
                else _count_tokens(text),
            )
            for text in texts
        )
        return GenerationResult(
            completions=completions,
            prompt_tokens=_count_tokens(prompt),
            latency_s=time.perf_counter() - started,
            model=self.model,
        )

    def _cut_text(self, text: str, max_tokens: int) -> str:
        ends = self.token_ends(text)
        return text[: ends[max_tokens - 1]] if self._cut and len(ends) > max_tokens else text

    def token_ends(self, text: str) -> list[int]:
        """This backend's tokens: whitespace-separated pieces (as its usage counts them)."""
        ends = [m.end() for m in _PIECE.finditer(text)]
        return ends or ([len(text)] if text else [])

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        texts = [self._text_for(request) for _ in range(request.sampling.n)]
        return self._result(request, texts, started)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        result = await self.agenerate(request)
        words = result.text.split(" ")
        for index, word in enumerate(words):
            yield StreamDelta(text=word if index == 0 else " " + word)
        yield StreamDelta(text="", result=result)
