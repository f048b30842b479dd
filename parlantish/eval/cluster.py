"""Evaluation runs spread over engine replicas on a Ray cluster (the ``ray`` extra).

The driver, this process, plans the work items and owns the result store: it is the only
writer, and a run resumes as a local one does. Each replica is a Ray actor holding one engine
(the embedded vLLM engine, a model folder, or a vLLM server it reaches, with the CPUs or GPUs it
reserves in Ray) and running the attempt pipeline, :meth:`Evaluator.run_item`, for the items
sent to it; the driver keeps enough items in flight on each replica for its engine to batch.

An actor that dies (its process killed, its node lost) has its unfinished items sent to the
others; the store keeps the first row of every key, so each key lands once, and seeds depend on
the item alone, so the report is the one a single engine gives. The actors are stopped when
the run ends, fails or is interrupted, and a cluster this run started is shut down with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parlantish.errors import BackendUnavailableError, RunError, UserError
from parlantish.eval.replica import (
    BackendSource,
    Replica,
    ReplicaStandIn,
    parlantish_version,
    plan_digest,
)
from parlantish.eval.runner import Evaluator, WorkItem

__all__ = ["RAY_HINT", "RayCluster", "ReplicaStandIn", "parse_cluster"]

RAY_HINT = "install Ray with the extra: pip install 'parlantish[ray]'"
#: How long stopping waits for the started engines to close before their actors are killed.
CLOSE_SECONDS = 10.0
#: How long joining waits for a cluster's address to answer.
REACH_SECONDS = 5.0
log = logging.getLogger(__name__)


def parse_cluster(value: str) -> str | None:
    """``ray`` (a local cluster started for the run) → ``None``; ``ray://ADDRESS`` → the
    address Ray joins: ``auto`` (the cluster already running on this machine) or
    ``HOST:PORT`` (a cluster's GCS address)."""
    if value == "ray":
        return None
    address = value.removeprefix("ray://") if value.startswith("ray://") else ""
    if address == "auto" or re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+:\d{1,5}", address):
        return address
    raise UserError(
        f"unknown cluster {value!r}",
        hint="use --cluster ray (a local Ray cluster for the run), ray://auto (the cluster "
        "running on this machine) or ray://HOST:PORT (a cluster's GCS address)",
    )


def import_ray() -> Any:
    """The ``ray`` module, or a ``UserError`` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise UserError(
            "running on a Ray cluster needs Ray, which is not installed", hint=RAY_HINT
        ) from e
    return ray


@dataclass
class _Member:
    index: int
    actor: Any
    alive: bool = True
    pid: int | None = None
    records: int = 0


@dataclass
class _Dispatch:
    """The driver's queue: items waiting, and how many are not finished yet."""

    queue: asyncio.Queue[WorkItem | None] = field(default_factory=asyncio.Queue)
    unfinished: int = 0
    last_loss: str = ""


class RayCluster:
    """Engine replicas as Ray actors, to pass as the backend of an :class:`Evaluator`.

    ``backend`` is what each replica runs: a backend spec (``"embedded"``, a model folder, a
    server URL; several specs make a pool per replica) built inside the actor with
    ``backend_options``, or a function returning a ``Backend`` (called in the actor).
    ``address`` joins a running cluster (``auto`` or ``HOST:PORT``); ``None`` starts a local
    one for the run and shuts it down afterwards. Each replica reserves ``cpus`` and ``gpus``.
    ``in_flight`` items are kept on each replica (default: the run's concurrency, so that
    each engine batches as one local engine would). ``start_timeout_s`` bounds the wait for
    every engine to start.
    """

    def __init__(
        self,
        backend: BackendSource = "embedded",
        *,
        replicas: int = 1,
        address: str | None = None,
        cpus: float = 1.0,
        gpus: float = 0.0,
        in_flight: int | None = None,
        backend_options: Mapping[str, Any] | None = None,
        start_timeout_s: float = 900.0,
    ):
        if replicas < 1:
            raise UserError(f"--replicas must be at least 1, not {replicas}")
        if cpus < 0 or gpus < 0:
            raise UserError("CPUs and GPUs per replica cannot be negative")
        self.backend = backend
        self.replicas = replicas
        self.address = address
        self.cpus = cpus
        self.gpus = gpus
        self.in_flight = in_flight
        self.backend_options = dict(backend_options or {})
        self.start_timeout_s = start_timeout_s
        if isinstance(backend, str):
            label = backend
        elif callable(backend):
            label = getattr(backend, "__name__", "backend")
        else:
            label = ",".join(backend)
        self._stand_in = ReplicaStandIn(f"ray[{replicas}]:{label}")
        self.members: list[_Member] = []
        self.started_cluster = False
        self.start_s: list[float] = []
        self._ray: Any = None
        self._per_replica = 1

    @property
    def stand_in(self) -> ReplicaStandIn:
        """Stands for the replicas' backend in ``run.json``: the first replica's name and model
        once started."""
        return self._stand_in

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, evaluator: Evaluator) -> None:
        """Join or start the cluster and start every replica; raises when one cannot start,
        or plans other work than ``evaluator`` (another parlantish version on a node)."""
        ray = self._ray = import_ray()
        self.members, self.start_s = [], []
        self._join(ray)
        self._check_resources(ray)
        suite = ray.put(evaluator.suite)
        options: dict[str, Any] = {
            "samples": evaluator.samples,
            "arms": [arm.name for arm in evaluator.arms],
            "limit": len(evaluator.scenarios),
            "concurrency": evaluator.concurrency,
            "transport_retries": evaluator.transport_retries,
            "ruler": evaluator._ruler,  # a ruler the caller chose; else each replica's own
        }
        actor_class = ray.remote(Replica).options(
            num_cpus=self.cpus, num_gpus=self.gpus, max_concurrency=1000, max_restarts=0
        )
        for index in range(self.replicas):
            actor = actor_class.remote(
                index, suite, options, self.backend, self.backend_options, self._cores(index)
            )
            self.members.append(_Member(index, actor))
        self._per_replica = self.in_flight or evaluator.concurrency
        described = await self._described()
        expected = (parlantish_version(), plan_digest(evaluator.plan()))
        for info in described:
            if (info["version"], info["plan"]) != expected:
                raise UserError(
                    f"replica {info['index']} runs parlantish {info['version']} and plans "
                    f"other work than this process (parlantish {expected[0]})",
                    hint="install the same parlantish version on every node of the cluster",
                )
        first = described[0]
        self._stand_in.name = f"ray[{self.replicas}]:{first['name']}"
        self._stand_in.model = first["model"]
        self._stand_in.model_defaults = first["model_defaults"]
        self._stand_in.ruler_name = first["ruler"]
        self.start_s = [d["start_s"] for d in described]

    def _join(self, ray: Any) -> None:
        """Start a local cluster (no address) or join one; Ray's own SIGTERM handler (an
        exit without our clean-up) is taken back out."""
        if ray.is_initialized():
            return
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,  # Ray's start-up lines would mix with ours
        }
        main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main else None
        try:
            if self.address is None:
                ray.init(address="local", **options)  # never someone else's cluster
                self.started_cluster = True
                return
            _reachable(self.address)
            try:
                ray.init(address=self.address, **options)
            except Exception as e:
                raise UserError(
                    f"cannot join the Ray cluster at {self.address}: {_cause(e)}",
                    hint="start one with `ray start --head` and give --cluster "
                    "ray://HOST:PORT (its GCS port, 6379 unless set) or ray://auto on its "
                    "head node",
                ) from e
        finally:
            if main and sigterm is not None:
                signal.signal(signal.SIGTERM, sigterm)

    def _cores(self, index: int) -> list[int] | None:
        """The cores replica ``index`` binds its CPU engine to, on a local cluster this run
        started whose cores can be split so; otherwise ``None`` (the engine's own binding)."""
        if not self.started_cluster or self.gpus or self.cpus < 1 or self.cpus % 1:
            return None
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        width = int(self.cpus)
        if width * self.replicas > len(allowed):
            return None
        return allowed[index * width : (index + 1) * width]

    def _check_resources(self, ray: Any) -> None:
        total = ray.cluster_resources()
        for name, each in (("CPU", self.cpus), ("GPU", self.gpus)):
            need = each * self.replicas
            if need and total.get(name, 0) + 1e-9 < need:
                raise UserError(
                    f"{self.replicas} replicas × {each:g} {name}s need {need:g} {name}s; "
                    f"the cluster has {total.get(name, 0):g}",
                    hint="use fewer --replicas, or fewer CPUs/GPUs per replica",
                )

    async def _described(self) -> list[dict[str, Any]]:
        ray = self._ray
        calls = asyncio.gather(*[_awaitable(m.actor.describe.remote()) for m in self.members])
        try:
            described = await asyncio.wait_for(calls, self.start_timeout_s)
        except asyncio.TimeoutError as e:
            raise BackendUnavailableError(
                f"the replicas did not all start within {self.start_timeout_s:g} s"
            ) from e
        except ray.exceptions.RayError as e:
            raise BackendUnavailableError(f"a replica failed to start: {_cause(e)}") from e
        finally:
            if not calls.done():
                calls.cancel()
            elif not calls.cancelled():
                calls.exception()  # retrieved: a failure is reported once, above
        for member, info in zip(self.members, described, strict=True):
            member.pid = info["pid"]
        return list(described)

    async def stop(self) -> None:
        """Stop every actor (closing the engines of those that started, for a few seconds at
        most), and the cluster when this run started it."""
        ray = self._ray
        if ray is None:
            return
        try:
            started = [m for m in self.members if m.alive and m.pid is not None]
            closing = asyncio.gather(
                *[_awaitable(m.actor.close.remote()) for m in started], return_exceptions=True
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing, CLOSE_SECONDS)
            for member in self.members:
                with contextlib.suppress(Exception):
                    ray.kill(member.actor, no_restart=True)
                member.alive = False
        finally:
            if self.started_cluster and ray.is_initialized():
                ray.shutdown()
            self.started_cluster = False

    # -- running ---------------------------------------------------------------------------------

    async def run(
        self,
        items: Sequence[WorkItem],
        saved: Mapping[str, dict[str, Any]],
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run ``items`` over the replicas; an item whose replica dies goes to another."""
        dispatch = _Dispatch(unfinished=len(items))
        for item in items:
            dispatch.queue.put_nowait(item)
        if not items:
            return
        workers = [  # interleaved, so that the replicas take turns at the queue
            asyncio.create_task(self._work(member, dispatch, saved, emit))
            for _ in range(self._per_replica)
            for member in self.members
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
        if dispatch.unfinished:
            raise BackendUnavailableError(
                f"every replica stopped ({dispatch.last_loss}) with {dispatch.unfinished} items "
                "unfinished; the rows done are saved: run the same command to resume"
            )

    async def _work(
        self,
        member: _Member,
        dispatch: _Dispatch,
        saved: Mapping[str, dict[str, Any]],
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        ray = self._ray
        lost = (
            ray.exceptions.RayActorError,
            ray.exceptions.ActorUnavailableError,
            ray.exceptions.ObjectLostError,
        )
        while member.alive:
            item = await dispatch.queue.get()
            if item is None:
                dispatch.queue.put_nowait(None)  # wake the next worker too
                return
            mine = {key: saved[key] for key in item.record_keys if key in saved}
            try:
                answer = await _awaitable(member.actor.run.remote(item.key, mine))
            except lost as e:
                dispatch.queue.put_nowait(item)  # another replica takes it
                self._lose(member, dispatch, e)
                return
            for row in answer["rows"]:
                emit(row)
            member.records += len(answer["rows"])
            if answer["error"] is not None:
                raise _item_error(member.index, item.key, answer["error"])
            dispatch.unfinished -= 1
            if not dispatch.unfinished:
                dispatch.queue.put_nowait(None)

    def _lose(self, member: _Member, dispatch: _Dispatch, error: BaseException) -> None:
        """Retire a replica that died or cannot be reached (killed, so that it frees what it
        holds); when none is left, wake every worker so that the run ends."""
        if member.alive:
            member.alive = False
            dispatch.last_loss = f"replica {member.index}: {_cause(error)}"
            log.warning(
                "replica %d stopped (%s); its items go to the others", member.index, _cause(error)
            )
            with contextlib.suppress(Exception):
                self._ray.kill(member.actor, no_restart=True)
        if not any(m.alive for m in self.members):
            dispatch.queue.put_nowait(None)


def _item_error(replica: int, key: str, error: dict[str, Any]) -> Exception:
    message = f"replica {replica}, item {key!r}: {error['message']}"
    if error["user"]:
        return UserError(message, hint=error["hint"])
    return RunError(message)


def _reachable(address: str) -> None:
    """Refuse at once a ``HOST:PORT`` nobody answers on (Ray would retry for minutes)."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError as e:
        hint = "is the cluster up (`ray start --head`)? give its GCS port (6379 unless set)"
        if port == "10001":
            hint = "10001 is Ray Client's port; give the cluster's GCS port (6379 unless set)"
        raise UserError(f"cannot reach a Ray cluster at {address}: {e}", hint=hint) from e


async def _awaitable(ref: Any) -> Any:
    return await ref


def _cause(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    useful = [line for line in text if line.strip() and not line.startswith(" ")]
    return useful[-1] if useful else type(error).__name__
