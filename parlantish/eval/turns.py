"""Multi-turn results: the pass rate at each turn, how much of turn 1 is retained, and the
recovery after injected replies."""

from __future__ import annotations

from collections.abc import Sequence

from parlantish.eval import stats
from parlantish.eval.records import SampleRecord
from parlantish.eval.report_model import Recovery, TurnRate

__all__ = ["per_turn", "recovery"]


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


def recovery(records: Sequence[SampleRecord]) -> Recovery | None:
    """Over conversations with injected replies: the pass rate of the turn right after each
    injected one (None when nothing was injected)."""
    injected = {(r.conversation, r.turn) for r in records if r.injected}
    if not injected:
        return None
    after = [
        r
        for r in records
        if not r.injected
        and r.error_kind != "backend"
        and r.turn is not None
        and (r.conversation, r.turn - 1) in injected
    ]
    passed = sum(1 for r in after if r.passed)
    low, high = stats.wilson_interval(passed, len(after))
    return Recovery(
        n=len(after),
        passed=passed,
        pass_rate=passed / len(after) if after else 0.0,
        ci_low=low,
        ci_high=high,
        injected=len(injected),
    )
