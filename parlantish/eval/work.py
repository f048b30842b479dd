"""What the evaluator plans and hands out: work items (one sample, or one conversation), their
record keys and seeds, and the protocol of engine replicas that run them elsewhere."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from parlantish.backends import Backend
from parlantish.compiler import Plan
from parlantish.core import SamplingSettings
from parlantish.eval.records import ArmGroup
from parlantish.eval.scenario import LoadedScenario
from parlantish.eval.suite import ArmSpec

if TYPE_CHECKING:
    from parlantish.eval.runner import Evaluator

__all__ = ["Replicas", "WorkItem", "item_seed", "turn_key"]


@dataclass(frozen=True)
class WorkItem:
    """One sample to generate: its plan, seed, and the key it is stored under."""

    key: str
    scenario: LoadedScenario
    arm: ArmSpec
    sample: int
    length: int | None
    seed: int
    plan: Plan  # a multi-turn scenario's: the first turn's plan
    sampling: SamplingSettings

    @property
    def record_keys(self) -> list[str]:
        """The keys of the rows this item writes: one, or one per turn (``KEY|tN``)."""
        turns = len(self.scenario.turns)
        return [self.key] if not turns else [turn_key(self.key, n) for n in range(1, turns + 1)]

    @property
    def group(self) -> ArmGroup:
        """The (arm, length) group the sample is compared in."""
        return ArmGroup(arm=self.arm.name, length=self.length)


def turn_key(conversation: str, turn: int) -> str:
    """The record key of ``turn`` (1-based) of a rolled-out conversation."""
    return f"{conversation}|t{turn}"


def item_seed(*parts: Any) -> int:
    """A sample's seed from what identifies it (the same for every arm)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class Replicas(Protocol):
    """Engine replicas that run work items elsewhere (e.g. ``RayCluster``): the evaluator plans
    and owns the result store; the replicas run :meth:`Evaluator.run_item` on their engines."""

    @property
    def stand_in(self) -> Backend:
        """Stands for the replicas' backend in ``run.json`` (name, model) once started."""

    async def start(self, evaluator: Evaluator) -> None:
        """Start every replica for ``evaluator``'s run (its suite and settings)."""

    async def run(
        self,
        items: Sequence[WorkItem],
        saved: Mapping[str, dict[str, Any]],
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        """Run ``items`` on the replicas, passing every finished row to ``emit``."""

    async def stop(self) -> None:
        """Stop every replica (also after a failure or an interrupt)."""
