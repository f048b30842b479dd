"""The Guard: a blueprint around a chat-agent call.

One call = compile (variables and messages validated before anything is sent) → generate with
the blueprint's constraint → parse → run the checks → on failure apply the policy (re-ask,
retry hotter with a new seed, fall back, return marked, or raise). Transport failures are
retried with backoff inside the call's deadline. Usage is summed over every attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from parlantish.backends import Backend, resolve_backend
from parlantish.backends.base import LoopThread
from parlantish.blueprint import Blueprint, load_blueprint
from parlantish.checks import Check, build_checks
from parlantish.checks.enforce import EnforceMode
from parlantish.compiler import Plan, compile_plan, validate_messages
from parlantish.core import SamplingSettings
from parlantish.errors import (
    AttemptsExhaustedError,
    DeadlineExceededError,
    ParlantishError,
    UserError,
)
from parlantish.runtime.attempt import Transport, run_attempt, total_usage
from parlantish.runtime.policy import FailurePolicy, reask_conversation
from parlantish.runtime.result import Attempt, GuardReply
from parlantish.runtime.sampling_fields import sampling_fields, sampling_settings
from parlantish.runtime.streaming import (
    CheckpointEvent,
    FinalEvent,
    RetryEvent,
    TextDelta,
    attempt_events,
)
from parlantish.runtime.sync_calls import Call, Messages, SyncCalls
from parlantish.runtime.trace import TraceCallback, emit_trace, span

__all__ = ["Call", "Guard"]

FALLBACK_SUFFIXES = (".yaml", ".yml", ".json")


class Guard(SyncCalls):
    """A blueprint applied to every call made through it.

    ``backend`` is a spec (``embedded``, a model folder, ``http://…/v1``) or a ``Backend``.
    Keyword overrides of the blueprint's ``on_fail`` (``retries``, ``then``, ``reask``,
    ``temperature``, ``fallback``, ``transport_retries``) apply to every call. ``checks`` adds
    checks to the blueprint's; ``output_type`` makes replies instances of a pydantic model.
    ``execution`` (``auto``, ``fused``, ``stepwise``) and ``repair`` (resamples per failing
    segment) override the blueprint's for long-form replies; ``auto`` runs stepwise where the
    backend can continue a message, and ``stepwise`` on a backend that cannot is an error.
    ``enforce`` (``"auto"``, ``True``, ``False``) overrides the blueprint's ``enforce`` for
    every call, and a call's own ``enforce=`` overrides it for that call.
    ``max_tokens`` bounds the visible reply (in the backend's tokens): the engine gets it plus
    the plan's checkpoint budget (``Plan.checkpoint_tokens``), and a reply that reaches it is
    returned cut, with ``finish_reason`` ``length`` and its verdict; without it, the plan's own
    budget. ``sampling`` sets any other ``SamplingSettings`` field (``top_p``, ``top_k``,
    ``min_p``, ``repetition_penalty``, ``frequency_penalty``, ``presence_penalty``, ``stop``,
    ``min_tokens``), and a call's own ``sampling=`` overrides it for that call.
    One Guard serves many concurrent calls (threads or coroutines).
    """

    def __init__(
        self,
        blueprint: Blueprint | str | Path,
        backend: str | Backend = "embedded",
        *,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int | None = None,
        deadline_s: float | None = None,
        checks: Sequence[Any] = (),
        output_type: type[BaseModel] | None = None,
        on_trace: TraceCallback | None = None,
        execution: Literal["auto", "fused", "stepwise"] | None = None,
        repair: int | None = None,
        enforce: EnforceMode | None = None,
        sampling: SamplingSettings | Mapping[str, Any] | None = None,
        **policy: Any,
    ):
        self.blueprint = (
            blueprint if isinstance(blueprint, Blueprint) else load_blueprint(blueprint)
        )
        self._backend_spec = backend
        self._backend: Backend | None = backend if isinstance(backend, Backend) else None
        given = sampling_fields(sampling, "sampling")
        for name, value in (("temperature", temperature), ("seed", seed)):
            given.setdefault(name, value)
        if max_tokens is not None and given.get("max_tokens", max_tokens) != max_tokens:
            raise UserError("give max_tokens once: as max_tokens= or in sampling, not both")
        #: The base sampling of every call (its ``max_tokens`` is unused: see ``max_tokens``).
        self.sampling = sampling_settings(given, "sampling")
        self.temperature = self.sampling.temperature
        self.seed = self.sampling.seed
        self.max_tokens = given.get("max_tokens", max_tokens)
        self.deadline_s = deadline_s
        self.output_type = output_type
        self.on_trace = on_trace
        self.policy = FailurePolicy.from_on_fail(self.blueprint.spec.on_fail, **policy)
        self.execution = execution or self.blueprint.spec.execution
        self.repair = repair
        self.enforce = enforce
        self.checks: list[Check] = build_checks([*self.blueprint.spec.checks, *checks])
        self._loop: LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._fallback: Guard | None = None
        self._fallback_lock = threading.Lock()

    @classmethod
    def from_file(
        cls, path: str | Path, backend: str | Backend = "embedded", **options: Any
    ) -> Guard:
        """A Guard for the blueprint file at ``path``."""
        return cls(load_blueprint(path), backend, **options)

    @property
    def backend(self) -> Backend:
        """The backend, resolved on first use (starting an in-process engine takes seconds)."""
        if self._backend is None:
            self._backend = resolve_backend(self._backend_spec)
        return self._backend

    # -- one call ----------------------------------------------------------------------------

    def plan(
        self,
        messages: Messages,
        variables: Mapping[str, Any] | None = None,
        output_type: type[BaseModel] | None = None,
        enforce: EnforceMode | None = None,
    ) -> Plan:
        """Compile the blueprint for a call (validates variables and messages); ``enforce``
        overrides the Guard's."""
        model = output_type or self.output_type
        schema = model.model_json_schema() if model is not None else None
        return compile_plan(
            self.blueprint,
            variables,
            messages,
            reply_schema=schema,
            execution=self._execution(),
            repair_attempts=self.repair,
            checks=self.checks,
            enforce=self.enforce if enforce is None else enforce,
        )

    def _execution(self) -> Literal["fused", "stepwise"]:
        if self.blueprint.spec.segments is None or self.execution == "fused":
            return "fused"
        if self.backend.supports_continuation:
            return "stepwise"
        if self.execution == "stepwise":
            raise UserError(
                f"execution: stepwise needs a backend that continues a message; "
                f"{self.backend.name} does not",
                hint="use execution: auto (stepwise where possible) or fused",
            )
        return "fused"

    async def areply(
        self,
        messages: Messages,
        variables: Mapping[str, Any] | None = None,
        *,
        output_type: type[BaseModel] | None = None,
        deadline_s: float | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        enforce: EnforceMode | None = None,
        sampling: SamplingSettings | Mapping[str, Any] | None = None,
    ) -> GuardReply:
        """Guarded reply to ``messages`` (OpenAI chat format); see the class docstring."""
        collected = [
            event
            async for event in self._run(
                messages,
                variables,
                output_type,
                deadline_s,
                temperature,
                seed,
                streaming=False,
                enforce=enforce,
                sampling=sampling,
            )
        ]
        final = collected[-1]
        assert isinstance(final, FinalEvent)
        return final.reply  # type: ignore[no-any-return]

    async def astream(
        self,
        messages: Messages,
        variables: Mapping[str, Any] | None = None,
        *,
        output_type: type[BaseModel] | None = None,
        deadline_s: float | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        enforce: EnforceMode | None = None,
        sampling: SamplingSettings | Mapping[str, Any] | None = None,
        live: bool = False,
    ) -> AsyncIterator[CheckpointEvent | TextDelta | RetryEvent | FinalEvent]:
        """Like :meth:`areply`, yielding checkpoint answers and reply text as they are
        generated; a rejected attempt yields a ``RetryEvent``; the last event is ``FinalEvent``.

        ``live``: reply text once sent is final, for consumers that cannot take text back (an
        HTTP stream): an attempt that fails after streaming reply text is not retried; its
        reply, with its failed verdict, is the result (``then: raise`` still raises). Failures
        before any reply text (a checkpoint, a transport error) are retried as usual."""
        # Closing this stream closes the inner ones at once, cancelling the engine request.
        events = self._run(
            messages,
            variables,
            output_type,
            deadline_s,
            temperature,
            seed,
            streaming=True,
            enforce=enforce,
            sampling=sampling,
            live=live,
        )
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def _run(
        self,
        messages: Messages,
        variables: Mapping[str, Any] | None,
        output_type: type[BaseModel] | None,
        deadline_s: float | None,
        temperature: float | None,
        seed: int | None,
        *,
        streaming: bool,
        enforce: EnforceMode | None = None,
        sampling: SamplingSettings | Mapping[str, Any] | None = None,
        live: bool = False,
    ) -> AsyncGenerator[Any, None]:
        started = time.perf_counter()
        overrides = sampling_fields(sampling, "sampling")
        reply_budget = overrides.pop("max_tokens", self.max_tokens)
        base = sampling_settings(self.sampling.model_dump() | overrides, "sampling")
        model = output_type or self.output_type
        conversation = list(validate_messages(messages))
        plan = self.plan(conversation, variables, model, enforce)
        budget = deadline_s if deadline_s is not None else self.deadline_s
        deadline = asyncio.get_running_loop().time() + budget if budget is not None else None
        transport = Transport(retries=self.policy.transport_retries, deadline=deadline)
        base_temperature = base.temperature if temperature is None else temperature
        base_seed = base.seed if seed is None else seed
        attempts: list[Attempt] = []
        with span("parlantish.guard", blueprint=self.blueprint.name, backend=self.backend.name):
            for index in range(self.policy.retries + 1):
                settings = base.model_copy(
                    update={
                        "temperature": self.policy.temperature_for(index, base_temperature),
                        "seed": self.policy.seed_for(index, base_seed),
                        "max_tokens": plan.budget(reply_budget),
                    }
                )
                run = functools.partial(
                    run_attempt,
                    plan,
                    self.backend,
                    settings,
                    self.checks,
                    index=index,
                    transport=transport,
                    output_type=model,
                    reply_tokens=reply_budget,
                )
                sent = False  # reply text of this attempt already streamed
                try:
                    if streaming:
                        attempt = None
                        async with contextlib.aclosing(attempt_events(run)) as items:
                            async for item in items:
                                if isinstance(item, Attempt):
                                    attempt = item
                                else:
                                    sent = sent or (isinstance(item, TextDelta) and bool(item.text))
                                    yield item
                        assert attempt is not None
                    else:
                        attempt = await run()
                except DeadlineExceededError as e:
                    e.attempts = tuple(attempts)
                    raise
                attempts.append(attempt)
                if attempt.accepted or (live and sent):
                    break  # accepted, or its text is out: it is the reply
                if streaming and index < self.policy.retries:
                    yield RetryEvent(index, attempt.rejected_because or attempt.error or "")
                if self.policy.reask and attempt.raw is not None and index < self.policy.retries:
                    plan = self.plan(
                        reask_conversation(conversation, attempt), variables, model, enforce
                    )
        last = attempts[-1]
        committed = live and sent and last.raw is not None and self.policy.then != "raise"
        if last.accepted or committed:
            reply = self._finish(plan, attempts, model, started)
        else:
            reply = await self._after_last_attempt(
                messages, variables, output_type, deadline, attempts, plan, model, started
            )
        emit_trace(self, reply, self.on_trace)
        yield FinalEvent(reply)

    def _finish(
        self,
        plan: Plan,
        attempts: list[Attempt],
        model: type[BaseModel] | None,
        started: float,
    ) -> GuardReply:
        """The reply of the last attempt (which was read back: accepted, or ``then: return``);
        a typed reply becomes an instance of the call's own ``output_type``."""
        last = attempts[-1]
        reply = last.reply
        if model is not None and isinstance(reply, dict):
            reply = model.model_validate(reply)
        return GuardReply(
            text=last.text or "",
            reply=reply,
            checkpoints=last.checkpoints,
            checks=last.checks,
            passed=last.passed,
            usage=total_usage(attempts),
            attempts=attempts,
            raw=last.raw or "",
            segments=last.segments,
            blueprint={"name": self.blueprint.name, "hash": self.blueprint.hash},
            plan_key=plan.key,
            latency_s=time.perf_counter() - started,
            finish_reason=last.finish_reason,
        )

    async def _after_last_attempt(
        self,
        messages: Messages,
        variables: Mapping[str, Any] | None,
        output_type: type[BaseModel] | None,
        deadline: float | None,
        attempts: list[Attempt],
        plan: Plan,
        model: type[BaseModel] | None,
        started: float,
    ) -> GuardReply:
        then = self.policy.then
        last = attempts[-1]
        if then == "return" and last.error_kind == "checks":
            return self._finish(plan, attempts, model, started)
        if then == "fallback" and self.policy.fallback:
            fallback = self._fallback_guard()
            remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
            result = await fallback.areply(
                messages, variables, output_type=output_type, deadline_s=remaining
            )
            return result.model_copy(
                update={
                    "attempts": [*attempts, *result.attempts],
                    "usage": total_usage(attempts) + result.usage,
                }
            )
        reasons = "; ".join(a.rejected_because or a.error or "" for a in attempts)
        raise AttemptsExhaustedError(
            f"{self.blueprint.name}: all {len(attempts)} attempt(s) failed: {reasons}",
            attempts=attempts,
            reply=last.reply,
        )

    def _fallback_guard(self) -> Guard:
        """The fallback Guard, built once (its blueprint file is read and validated once)."""
        with self._fallback_lock:
            if self._fallback is None:
                self._fallback = self._build_fallback()
            return self._fallback

    def _build_fallback(self) -> Guard:
        target = str(self.policy.fallback)
        options: dict[str, Any] = {
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "sampling": self.sampling.model_dump(exclude={"temperature", "seed", "max_tokens"}),
            "output_type": self.output_type,
            "on_trace": self.on_trace,
            "then": "raise",
            "fallback": None,
        }
        if target.endswith(FALLBACK_SUFFIXES):
            path = Path(self.blueprint.path).parent / target
            return Guard(
                path, self._backend_spec if self._backend is None else self._backend, **options
            )
        return Guard(self.blueprint, target, **options)

    # -- batches and sync ----------------------------------------------------------------------

    async def areply_many(
        self, calls: Sequence[Call], **options: Any
    ) -> list[GuardReply | ParlantishError]:
        """Many calls submitted together (one vLLM batch); results in input order, each failure
        returned as its exception so it does not sink the others. A call is
        ``(messages, variables)`` or ``{"messages": …, "variables": …}``."""

        async def one(call: Call) -> GuardReply | ParlantishError:
            if isinstance(call, Mapping):
                messages, variables = call.get("messages", []), call.get("variables")
            else:
                messages, variables = call
            try:
                return await self.areply(messages, variables, **options)
            except ParlantishError as e:
                return e

        return list(await asyncio.gather(*(one(call) for call in calls)))

    def __repr__(self) -> str:
        return f"<Guard {self.blueprint.name} on {self._backend_spec!s}>"
