"""Two finished runs compared pair by pair: the logic of ``parlantish compare``.

A pure function of the two runs' records. Samples are paired by (scenario, arm, length, sample,
turn): what a record's key is made of, nothing run-specific. A pair counts when it is judged in
both runs (no backend error, not a turn the suite injected). Per (arm, length) group, per turn,
and over all groups: both pass rates with Wilson intervals, the difference B - A with a
percentile bootstrap interval, and the exact McNemar test on the discordant pairs, all from
``parlantish.eval.stats``. Nothing here rounds: the table rounds what it shows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from parlantish.errors import UserError
from parlantish.eval import stats
from parlantish.eval.compare_model import (
    ArmDelta,
    BootstrapSettings,
    Discordant,
    Excluded,
    GroupDelta,
    RunComparison,
    RunRef,
    SideRate,
    TurnDelta,
)
from parlantish.eval.records import ArmGroup, SampleRecord, as_records

__all__ = ["PairKey", "compare_runs", "pair_key"]


class PairKey(NamedTuple):
    """What pairs a sample of run A with one of run B."""

    scenario: str
    arm: str
    length: int | None
    sample: int
    turn: int | None


def pair_key(record: SampleRecord) -> PairKey:
    """The pair a record belongs to: its key's parts (``WorkItem.key`` and ``turn_key``)."""
    return PairKey(record.scenario, record.arm, record.length, record.sample, record.turn)


@dataclass(frozen=True)
class _Pair:
    key: PairKey
    a: bool  # passed in run A
    b: bool  # passed in run B

    @property
    def group(self) -> ArmGroup:
        return ArmGroup(arm=self.key.arm, length=self.key.length)


@dataclass(frozen=True)
class _Settings:
    confidence: float
    resamples: int
    seed: int


def _by_pair(records: Iterable[SampleRecord]) -> dict[PairKey, SampleRecord]:
    found: dict[PairKey, SampleRecord] = {}
    for record in records:
        found.setdefault(pair_key(record), record)  # the first wins, as in read_results
    return found


def _side(passed: int, n: int, confidence: float) -> SideRate:
    return SideRate(
        passed=passed, pass_rate=passed / n, ci=stats.wilson_interval(passed, n, confidence)
    )


def _difference_ci(pairs: Sequence[_Pair], settings: _Settings) -> tuple[float, float] | None:
    """Percentile bootstrap interval of B - A, resampling scenarios with all their pairs.

    Each scenario contributes its summed difference times scenarios / pairs, so the mean of the
    values is exactly the pooled difference B - A (with equal pairs per scenario, each value is
    that scenario's own difference, as in report.json's comparisons)."""
    sums: dict[str, int] = defaultdict(int)
    for pair in pairs:
        sums[pair.key.scenario] += int(pair.b) - int(pair.a)
    if len(sums) < 2:
        return None
    scale = len(sums) / len(pairs)
    values = [sums[scenario] * scale for scenario in sorted(sums)]
    return stats.paired_bootstrap_ci(
        values, confidence=settings.confidence, resamples=settings.resamples, seed=settings.seed
    )


def _delta(pairs: Sequence[_Pair], settings: _Settings) -> dict[str, Any]:
    """The fields of a ``compare_model.Delta`` over ``pairs`` (at least one)."""
    n = len(pairs)
    passed_a = sum(p.a for p in pairs)
    passed_b = sum(p.b for p in pairs)
    only_a = sum(1 for p in pairs if p.a and not p.b)
    only_b = sum(1 for p in pairs if p.b and not p.a)
    return {
        "pairs": n,
        "scenarios": len({p.key.scenario for p in pairs}),
        "a": _side(passed_a, n, settings.confidence),
        "b": _side(passed_b, n, settings.confidence),
        "difference": passed_b / n - passed_a / n,
        "difference_ci": _difference_ci(pairs, settings),
        "mcnemar": Discordant(
            only_a_passed=only_a, only_b_passed=only_b, p_value=stats.mcnemar_exact(only_a, only_b)
        ),
    }


def _per_turn(pairs: Sequence[_Pair], settings: _Settings) -> list[TurnDelta]:
    turns = sorted({p.key.turn for p in pairs if p.key.turn is not None})
    return [
        TurnDelta(turn=turn, **_delta([p for p in pairs if p.key.turn == turn], settings))
        for turn in turns
    ]


def _group_order(groups: Iterable[ArmGroup], arms: Sequence[str]) -> list[ArmGroup]:
    """The declared arms first (in their order), then the others in the order given; lengths
    ascending within an arm."""
    names = list(dict.fromkeys([*arms, *(g.arm for g in groups)]))
    return sorted(
        set(groups),
        key=lambda g: (names.index(g.arm), -1 if g.length is None else g.length),
    )


def _suite_label(run: RunRef) -> str:
    return f"{run.path} (suite {run.suite!r})" if run.suite else run.path


def compare_runs(
    a_records: Iterable[SampleRecord | Mapping[str, Any]],
    b_records: Iterable[SampleRecord | Mapping[str, Any]],
    *,
    a: RunRef,
    b: RunRef,
    arms: Sequence[str] = (),
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> RunComparison:
    """Run B against run A over the samples they have in common: per (arm, length) group (in
    the order of ``arms``, then as found), per turn, and overall. Raises ``UserError`` when no
    pair is judged in both runs."""
    settings = _Settings(confidence, resamples, seed)
    in_a = _by_pair(as_records(a_records))
    in_b = _by_pair(as_records(b_records))
    common = [key for key in in_a if key in in_b]
    if not common:
        raise UserError(
            f"{_suite_label(a)} and {_suite_label(b)} have no sample in common",
            hint="samples are paired by scenario, arm, length, sample and turn: compare two "
            "runs of the same suite",
        )
    pairs: list[_Pair] = []
    errored = injected = 0
    for key in common:
        ra, rb = in_a[key], in_b[key]
        if ra.error_kind == "backend" or rb.error_kind == "backend":
            errored += 1
        elif ra.injected or rb.injected:
            injected += 1
        else:
            pairs.append(_Pair(key, ra.passed, rb.passed))
    if not pairs:
        reasons = [f"{errored} ended in a backend error in either run"]
        reasons += [f"{injected} are injected turns"] if injected else []
        raise UserError(
            f"{_suite_label(a)} and {_suite_label(b)} have no sample judged in both: of the "
            f"{len(common)} they have in common, {' and '.join(reasons)}",
            hint="run the failed samples again with `parlantish eval SUITE --out OUT "
            "--retry-errors`",
        )
    by_group: dict[ArmGroup, list[_Pair]] = defaultdict(list)
    for pair in pairs:
        by_group[pair.group].append(pair)
    groups = {
        group.label: ArmDelta(
            group=group,
            **_delta(by_group[group], settings),
            per_turn=_per_turn(by_group[group], settings),
        )
        for group in _group_order(by_group, arms)
    }
    warnings = []
    if a.suite and b.suite and a.suite != b.suite:
        warnings.append(
            f"the runs are of different suites ({a.suite!r} and {b.suite!r}): samples are "
            "paired by scenario id, and ids may coincide between suites"
        )
    return RunComparison(
        a=a,
        b=b,
        pairs=len(pairs),
        excluded=Excluded(
            only_in_a=len(in_a) - len(common),
            only_in_b=len(in_b) - len(common),
            errored=errored,
            injected=injected,
        ),
        confidence=confidence,
        bootstrap=BootstrapSettings(resamples=resamples, seed=seed),
        arms=groups,
        overall=GroupDelta(**_delta(pairs, settings), per_turn=_per_turn(pairs, settings)),
        warnings=warnings,
    )
