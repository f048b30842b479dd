"""One replica of a cluster run, as a Ray actor runs it: an engine and an evaluator planned like
the driver's, running the work items the driver sends; and what stands for the replicas'
backend in the driver."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

from parlantish.backends import Backend, resolve_backend
from parlantish.core import GenerationRequest, GenerationResult
from parlantish.errors import BackendUnavailableError, UserError
from parlantish.eval.runner import Evaluator
from parlantish.eval.work import WorkItem

__all__ = ["BackendSource", "Replica", "ReplicaStandIn", "parlantish_version", "plan_digest"]

#: What a replica's engine is made from: a backend spec (or several), or a function returning
#: a Backend, called inside the actor.
BackendSource = str | Sequence[str] | Callable[[], Backend]


class ReplicaStandIn(Backend):
    """Stands for the replicas' backend in the driver: its ``name``, ``model`` and
    ``model_defaults`` are the first replica's once started. It generates nothing."""

    def __init__(self, name: str):
        self.name = name
        self.model: str | None = None
        self.model_defaults: dict[str, Any] | None = None
        self.ruler_name: str | None = None

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        raise BackendUnavailableError("the driver of a cluster run does not generate")


class Replica:
    """The body of one Ray actor: an engine and an evaluator planned like the driver's."""

    def __init__(
        self,
        index: int,
        suite: Any,
        options: dict[str, Any],
        backend: BackendSource,
        backend_options: dict[str, Any],
        cores: list[int] | None,
    ):
        started = time.perf_counter()
        self.index = index
        if cores and "VLLM_CPU_OMP_THREADS_BIND" not in os.environ:
            # Two CPU engines on one machine must not bind their threads to the same cores.
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = ",".join(map(str, cores))
        engine = backend() if callable(backend) else resolve_backend(backend, **backend_options)
        self.evaluator = Evaluator(suite, engine, ".", **options)
        planned = self.evaluator.plan()
        self.items = {item.key: item for item in planned}
        self.plan_digest = plan_digest(planned)
        self.limit: asyncio.Semaphore | None = None
        self.start_s = time.perf_counter() - started

    async def describe(self) -> dict[str, Any]:
        """Who this replica is; awaiting it waits for the engine to start."""
        backend = self.evaluator.backend
        return {
            "index": self.index,
            "pid": os.getpid(),
            "name": backend.name,
            "model": getattr(backend, "model", None),
            "model_defaults": getattr(backend, "model_defaults", None),
            "ruler": self.evaluator.ruler.name,
            "start_s": self.start_s,
            "version": parlantish_version(),
            "plan": self.plan_digest,
        }

    async def run(self, key: str, saved: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """One work item: ``rows`` (each stamped with this replica's index), and ``error``
        (``None``, or what stopped the item: the rows finished before it are kept)."""
        if self.limit is None:
            self.limit = asyncio.Semaphore(self.evaluator.concurrency)
        rows: list[dict[str, Any]] = []
        error: dict[str, Any] | None = None
        try:
            await self.evaluator.run_item(self.items[key], saved, rows.append, self.limit)
        except UserError as e:
            error = {"user": True, "message": e.message, "hint": e.hint}
        except Exception as e:  # reported by the driver, with the rows saved so far
            error = {"user": False, "message": f"{type(e).__name__}: {e}", "hint": None}
        return {"rows": [{**row, "replica": self.index} for row in rows], "error": error}

    async def close(self) -> None:
        await self.evaluator.backend.aclose()


def parlantish_version() -> str | None:
    try:
        return metadata.version("parlantish")
    except metadata.PackageNotFoundError:
        return None


def plan_digest(items: Sequence[WorkItem]) -> str:
    """What a replica must agree on with the driver: every item's key and compiled plan."""
    pairs = sorted(f"{item.key}\t{item.plan.key}" for item in items)
    return hashlib.sha256("\n".join(pairs).encode()).hexdigest()[:16]
