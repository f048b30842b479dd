"""Multi-turn results: the pass rate at each turn, and how much of turn 1 is retained."""

from __future__ import annotations

from collections.abc import Sequence

from parlantish.eval import stats
from parlantish.eval.records import SampleRecord
from parlantish.eval.report_model import TurnRate

__all__ = ["per_turn"]


def per_turn(judged: Sequence[SampleRecord]) -> list[TurnRate]:
    """Pass rate per turn of multi-turn records, with retention of turn 1's instructions."""
    turns = sorted({r.turn for r in judged if r.turn is not None})
    first = {r.conversation: {c.name for c in r.checks} for r in judged if r.turn == 1}
    result = []
    for turn in turns:
        at = [r for r in judged if r.turn == turn]
        passed = sum(1 for r in at if r.passed)
        low, high = stats.wilson_interval(passed, len(at))
        retention = None
        if turn > 1:
            kept = checked = 0
            for record in at:
                names = first.get(record.conversation, set())
                for check in record.checks:
                    if check.name in names:
                        checked += 1
                        kept += check.passed
            retention = kept / checked if checked else None
        result.append(
            TurnRate(
                turn=turn,
                n=len(at),
                passed=passed,
                pass_rate=passed / len(at),
                ci_low=low,
                ci_high=high,
                retention=retention,
            )
        )
    return result
