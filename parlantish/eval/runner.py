"""Running a suite: every (scenario × arm × length × sample) request at once, bounded by a
concurrency limit so vLLM batches them, each finished sample appended to ``results.jsonl``.

Re-running on the same output folder resumes: samples already recorded are skipped. Seeds are
derived from the suite's seed, the scenario, the length and the sample index, the same for every
arm, so arms are compared on common random numbers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from parlantish.backends import Backend
from parlantish.compiler import ARMS, ParsedOutput, Plan, compile_plan
from parlantish.errors import UserError
from parlantish.eval.folder import check_output_folder
from parlantish.eval.lock import lock_output
from parlantish.eval.manifest import MANIFEST_FILE, Progress, run_manifest
from parlantish.eval.records import (
    BlueprintRef,
    CheckpointRecord,
    CheckRecord,
    LengthUnits,
    SampleRecord,
    UsageRecord,
)
from parlantish.eval.ruler import TokenRuler, UnitCut, cut_units
from parlantish.eval.scenario import LoadedScenario
from parlantish.eval.store import ResultStore, write_atomic
from parlantish.eval.suite import ArmSpec, LoadedSuite
from parlantish.eval.work import Replicas, WorkItem, item_seed, turn_key
from parlantish.runtime.attempt import Transport, run_attempt
from parlantish.runtime.result import Attempt

__all__ = [
    "MANIFEST_FILE",
    "Evaluator",
    "Progress",
    "Replicas",
    "WorkItem",
    "run_manifest",
    "turn_key",
]


class Evaluator:
    """Runs a loaded suite against a backend into an output folder.

    ``samples``, ``arms`` (names) and ``limit`` (first K scenarios) override the suite;
    ``transport_retries`` retries a sample's request on retryable backend errors before it is
    recorded as an error. ``backend`` may be :class:`Replicas` (``RayCluster``): the samples
    then run on its engine replicas, and this process only plans and writes the results.
    ``on_progress`` is called after every finished sample. An output folder holding another
    run's results is refused, or with ``force_new`` moved aside first.
    """

    def __init__(
        self,
        suite: LoadedSuite,
        backend: Backend | Replicas,
        out: str | Path,
        *,
        samples: int | None = None,
        arms: Sequence[str] | None = None,
        limit: int | None = None,
        concurrency: int | None = None,
        transport_retries: int = 3,
        retry_errors: bool = False,
        force_new: bool = False,
        ruler: TokenRuler | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ):
        self.suite = suite
        self.cluster = None if isinstance(backend, Backend) else backend
        self.backend = backend if isinstance(backend, Backend) else backend.stand_in
        self.out = Path(out)
        self.samples = samples or suite.spec.samples
        self.arms = self._select_arms(arms)
        self.scenarios = suite.scenarios[:limit] if limit else suite.scenarios
        self.concurrency = concurrency or suite.spec.concurrency
        self.transport_retries = transport_retries
        self.retry_errors = retry_errors
        self.force_new = force_new
        self._ruler = ruler
        self.on_progress = on_progress
        self.progress = Progress(total=0)

    def _select_arms(self, names: Sequence[str] | None) -> tuple[ArmSpec, ...]:
        if not names:
            return self.suite.arms
        by_name = {arm.name: arm for arm in self.suite.arms}
        chosen = []
        for name in names:
            if name in by_name:
                chosen.append(by_name[name])
            elif name in ARMS:
                chosen.append(ArmSpec(name=name, kind=name))  # type: ignore[arg-type]
            else:
                raise UserError(
                    f"unknown arm {name!r}",
                    hint=f"the suite's arms: {', '.join(by_name)}; or {', '.join(ARMS)}",
                )
        return tuple(chosen)

    @property
    def ruler(self) -> TokenRuler:
        if self._ruler is None:
            self._ruler = TokenRuler.for_backend(self.backend)
        return self._ruler

    def identity(self) -> dict[str, Any]:
        """The settings that decide what a saved sample means, shaped as in ``run.json``: a
        folder whose saved run differs in any of them is not resumed."""
        spec = self.suite.spec
        return {
            "suite": {"name": self.suite.name},
            "model": getattr(self.backend, "model", None),
            "seed": spec.seed,
            "sampling": spec.sampling.model_dump(),
            "lengths": spec.lengths,
            "window_tokens": spec.window_tokens,
        }

    def check_folder(self, items: list[WorkItem]) -> None:
        """Refuse an output folder holding another run's results (``UserError``), or with
        ``force_new`` move its files aside."""
        check_output_folder(self.out, items, self.identity(), force_new=self.force_new)

    def settings(self) -> dict[str, Any]:
        spec = self.suite.spec
        return {
            "arms": [arm.model_dump(exclude_none=True) for arm in self.arms],
            "samples": self.samples,
            "scenarios": len(self.scenarios),
            "sampling": spec.sampling.model_dump(),
            "lengths": spec.lengths,
            "window_tokens": spec.window_tokens,
            "ruler": getattr(self.backend, "ruler_name", None) or self.ruler.name,
        }

    # -- planning ------------------------------------------------------------------------------

    def plan(self) -> list[WorkItem]:
        """Every sample of the run, compiled (bad variables or templates fail here, before
        anything is generated, naming the scenario)."""
        spec = self.suite.spec
        items = []
        lengths: Sequence[int | None] = spec.lengths or [None]
        for sample in range(self.samples):
            for scenario in self.scenarios:
                for length in lengths:
                    seed = item_seed(spec.seed, scenario.id, length, sample)
                    for arm in self.arms:
                        plan = self._compile(scenario, arm)
                        if scenario.turns:
                            seed = item_seed(spec.seed, scenario.id, length, sample, 1)
                        max_tokens = length or plan.budget(spec.sampling.max_tokens)
                        sampling = spec.sampling.settings(max_tokens=max_tokens, seed=seed)
                        suffix = "" if length is None else f"@{length}"
                        key = f"{scenario.id}|{arm.name}{suffix}|{sample}"
                        items.append(
                            WorkItem(key, scenario, arm, sample, length, seed, plan, sampling)
                        )
        return items

    def _compile(
        self,
        scenario: LoadedScenario,
        arm: ArmSpec,
        conversation: Sequence[dict[str, Any]] | None = None,
        turn: int = 1,
    ) -> Plan:
        """The plan of one turn: ``conversation`` so far (default: the scenario's messages, with
        the first user turn of a multi-turn scenario)."""
        blueprint = self.suite.arm_blueprints.get(arm.name, scenario.blueprint)
        variables = dict(scenario.variables)
        if scenario.turns:
            variables |= scenario.turns[turn - 1].variables
            if conversation is None:
                first = {"role": "user", "content": scenario.turns[0].user}
                conversation = [*scenario.messages, first]
        messages = scenario.messages if conversation is None else conversation
        try:
            checks = scenario.turn_checks(turn) if scenario.turns else scenario.checks
            return compile_plan(blueprint, variables, messages, arm=arm.kind, checks=list(checks))
        except UserError as e:
            raise UserError(
                f"scenario {scenario.id!r}, arm {arm.name!r}: {e.message}",
                hint=e.hint,
                location=e.location,
            ) from e

    # -- running -------------------------------------------------------------------------------

    def run(self) -> ResultStore:
        """Blocking :meth:`arun`."""
        return asyncio.run(self.arun())

    async def arun(self) -> ResultStore:
        """Run every sample not yet in ``OUT/results.jsonl``; returns the (closed) store."""
        items = self.plan()
        lock = lock_output(self.out)  # a second run on this folder fails here, naming the PID
        try:
            if self.cluster is not None:
                # The replicas' model is known once they run: the folder check compares it.
                await self.cluster.start(self)
            self.check_folder(items)
            store = ResultStore(self.out).open()
        except BaseException:
            try:
                if self.cluster is not None:
                    await self.cluster.stop()
            finally:
                lock.release()
            raise
        try:
            if self.retry_errors:
                store.drop(self._errored(store))
            todo = [i for i in items if any(k not in store.records for k in i.record_keys)]
            write_atomic(
                self.out / MANIFEST_FILE,
                _json(run_manifest(self.suite, self.backend, self.settings())),
            )
            total = sum(len(i.record_keys) for i in items)
            self.progress = Progress(total=total)
            for key in (k for i in items for k in i.record_keys if k in store.records):
                self._count(store.records[key], saved=True)  # a resumed run's samples
            self.progress.skipped = self.progress.done
            emit = self._write(store)
            if self.cluster is not None:
                await self.cluster.run(todo, store.records, emit)
            else:
                limit = asyncio.Semaphore(self.concurrency)
                await asyncio.gather(*(self.run_item(i, store.records, emit, limit) for i in todo))
        finally:
            try:
                if self.cluster is not None:
                    await self.cluster.stop()
            finally:
                store.close()
                lock.release()
        return store

    def _write(self, store: ResultStore) -> Callable[[dict[str, Any]], None]:
        """A finished row's way into the store (once per key) and the progress counters."""

        def emit(record: dict[str, Any]) -> None:
            if record["key"] not in store.records:
                store.append(record)
                self._count(record)

        return emit

    async def run_item(
        self,
        item: WorkItem,
        saved: Mapping[str, dict[str, Any]],
        emit: Callable[[dict[str, Any]], None],
        limit: asyncio.Semaphore,
    ) -> None:
        """One work item through the attempt pipeline, each finished row passed to ``emit``:
        its sample, or a conversation's turns one by one (turns in ``saved`` are replayed from
        their recorded text, not generated). ``limit`` bounds the requests in flight."""
        if item.scenario.turns:
            await self._rollout(item, saved, emit, limit)
            return
        async with limit:
            record = await self._sample(item)
        emit(record)

    async def _rollout(
        self,
        item: WorkItem,
        saved: Mapping[str, dict[str, Any]],
        emit: Callable[[dict[str, Any]], None],
        limit: asyncio.Semaphore,
    ) -> None:
        """A multi-turn conversation: each turn's reply is this arm's own, and goes into the
        next turn's conversation; a failed turn is recorded and the next turns still run.
        Turns already recorded (a resumed run) are replayed from their recorded text."""
        scenario = item.scenario
        conversation: list[dict[str, Any]] = list(scenario.messages)
        for turn in range(1, len(scenario.turns) + 1):
            conversation.append({"role": "user", "content": scenario.turns[turn - 1].user})
            key = turn_key(item.key, turn)
            record = saved.get(key)
            injected = scenario.turns[turn - 1].inject
            if record is None:
                plan = (
                    item.plan
                    if turn == 1
                    else self._compile(scenario, item.arm, conversation, turn)
                )
                if injected is not None:
                    turn_item = replace(item, key=key, plan=plan)
                    record = self._injected(turn_item, turn, item.key, injected)
                else:
                    seed = item_seed(
                        self.suite.spec.seed, scenario.id, item.length, item.sample, turn
                    )
                    turn_item = replace(
                        item,
                        key=key,
                        plan=plan,
                        seed=seed,
                        sampling=item.sampling.model_copy(
                            update={"seed": seed, "max_tokens": self._max_tokens(item, plan)}
                        ),
                    )
                    async with limit:
                        record = await self._sample(turn_item, turn=turn, conversation=item.key)
                emit(record)
            conversation.append({"role": "assistant", "content": record["text"] or ""})

    def _injected(
        self, turn_item: WorkItem, turn: int, conversation: str, text: str
    ) -> dict[str, Any]:
        """The row of an injected turn of ``conversation`` (``turn_item`` carries the turn's
        key and plan): the suite's reply, not generated and not judged."""
        record = SampleRecord(
            **self._sample_identity(turn_item),
            text=text,
            raw=text,
            reply=text,
            finish_reason="stop",
            finished_at=datetime.now(timezone.utc).replace(microsecond=0),
            turn=turn,
            conversation=conversation,
            injected=True,
        )
        return record.model_dump(mode="json")

    def _sample_identity(self, item: WorkItem) -> dict[str, Any]:
        """The fields that say which sample a row is and how it was asked for."""
        return {
            "key": item.key,
            "suite": self.suite.name,
            "scenario": item.scenario.id,
            "arm": item.arm.name,
            "arm_kind": item.arm.kind,
            "length": item.length,
            "sample": item.sample,
            "seed": item.seed,
            "temperature": item.sampling.temperature,
            "max_tokens": item.sampling.max_tokens,
            "messages_hash": item.scenario.messages_hash,
            "plan_key": item.plan.key,
            "blueprint": BlueprintRef(name=item.plan.blueprint_name, hash=item.plan.blueprint_hash),
            "backend": self.backend.name,
        }

    def _max_tokens(self, item: WorkItem, plan: Plan) -> int:
        # A swept length is the engine's; the suite's max_tokens bounds the visible reply.
        return item.length or plan.budget(self.suite.spec.sampling.max_tokens)

    @staticmethod
    def _errored(store: ResultStore) -> set[str]:
        """Keys to run again with ``retry_errors``: backend errors, and every later turn of a
        conversation whose turn errored (it was rolled out after an empty reply)."""
        doomed = {k for k, r in store.records.items() if r.get("error_kind") == "backend"}
        first_failed: dict[str, int] = {}
        for key in doomed:
            record = store.records[key]
            if record.get("conversation") and record.get("turn"):
                conversation = record["conversation"]
                first_failed[conversation] = min(
                    record["turn"], first_failed.get(conversation, record["turn"])
                )
        for key, record in store.records.items():
            turn = first_failed.get(record.get("conversation") or "")
            if turn is not None and (record.get("turn") or 0) > turn:
                doomed.add(key)
        return doomed

    def _count(self, record: dict[str, Any], *, saved: bool = False) -> None:
        """Count a finished sample; a ``saved`` one (resumed) counts in the rates, not in the
        tokens per second, and is not reported."""
        progress = self.progress
        progress.done += 1
        progress.injected += bool(record.get("injected"))
        progress.passed += bool(record["passed"])
        progress.errors += record.get("error_kind") == "backend"
        if saved:
            return
        progress.completion_tokens += record["usage"].get("completion_tokens", 0)
        if self.on_progress is not None:
            self.on_progress(progress)

    async def _sample(
        self, item: WorkItem, *, turn: int | None = None, conversation: str | None = None
    ) -> dict[str, Any]:
        """One sample (or one turn of a conversation) through the attempt pipeline, as its
        ``results.jsonl`` row."""
        cuts: list[UnitCut] = []
        window = self.window_for(item.scenario)

        def units(parsed: ParsedOutput) -> tuple[int, ...]:
            segments = parsed.segments if item.plan.mode == "longform" else None
            cuts.append(cut_units(parsed.text, self.ruler, window=window, segments=segments))
            return cuts[-1].boundaries

        attempt = await run_attempt(
            item.plan,
            self.backend,
            item.sampling,
            item.scenario.turn_checks(turn) if turn else item.scenario.checks,
            transport=Transport(retries=self.transport_retries, backoff_s=0.5, backoff_max_s=10.0),
            units=units,
            reply_tokens=None if item.length else self.suite.spec.sampling.max_tokens,
        )
        record = self._record(item, attempt, cuts[0] if cuts else None, window)
        if turn is not None:
            record = record.model_copy(update={"turn": turn, "conversation": conversation})
        return record.model_dump(mode="json")

    def _record(
        self, item: WorkItem, attempt: Attempt, cut: UnitCut | None, window: int
    ) -> SampleRecord:
        checks = [CheckRecord(**outcome.model_dump()) for outcome in attempt.checks]
        located = [c.first_violation for c in checks if c.first_violation is not None]
        length_units = None
        if cut is not None:
            length_units = LengthUnits(
                kind=cut.kind,  # type: ignore[arg-type]
                window=window if cut.kind == "windows" else None,
                boundaries=list(cut.boundaries),
                tokens=list(cut.unit_tokens),
                locatable_checks=sum(1 for c in checks if c.locatable),
                first_violation=min(located) if located else None,
            )
        return SampleRecord(
            **self._sample_identity(item),
            passed=attempt.passed,
            error=attempt.error,
            error_kind=attempt.error_kind,
            checks=checks,
            text=attempt.text or "",
            raw=attempt.raw or "",
            reply=attempt.reply,
            checkpoints=[CheckpointRecord(**c.model_dump()) for c in attempt.checkpoints],
            finish_reason=attempt.finish_reason,  # type: ignore[arg-type]
            usage=UsageRecord(**attempt.usage.to_dict()),
            latency_s=attempt.latency_s,
            length_units=length_units,
            finished_at=datetime.now(timezone.utc).replace(microsecond=0),
            execution=attempt.execution if item.plan.mode == "longform" else None,  # type: ignore[arg-type]
            attempts=attempt.requests,
            repairs=len(attempt.repairs),
        )

    def window_for(self, scenario: LoadedScenario) -> int:
        """Token window for non-segmented outputs: the blueprint's segment size when it has
        segments (so every arm is cut alike), else the suite's ``window_tokens``."""
        segments = scenario.blueprint.spec.segments
        return segments.max_tokens if segments is not None else self.suite.spec.window_tokens


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
