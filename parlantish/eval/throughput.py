"""Throughput read off a run's rows: the whole run's, and each engine replica's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from parlantish.eval.records import SampleRecord
from parlantish.eval.report_model import ReplicaThroughput, Throughput

__all__ = ["replica_throughput", "run_throughput"]


def _generated(records: Sequence[SampleRecord]) -> list[SampleRecord]:
    return [r for r in records if not r.injected and r.finished_at is not None]


def _figures(records: Sequence[SampleRecord]) -> dict[str, float | int | None]:
    starts = [r.finished_at - timedelta(seconds=r.latency_s) for r in records if r.finished_at]
    ends = [r.finished_at for r in records if r.finished_at]
    span = (max(ends) - min(starts)).total_seconds()
    tokens = sum(r.usage.completion_tokens for r in records)
    return {
        "records": len(records),
        "completion_tokens": tokens,
        "span_s": round(span, 3),
        "tokens_per_s": round(tokens / span, 3) if span >= 1 else None,
    }


def run_throughput(records: Sequence[SampleRecord]) -> Throughput | None:
    """The run's completion tokens per second over its rows' span; ``None`` without rows."""
    generated = _generated(records)
    return Throughput.model_validate(_figures(generated)) if generated else None


def replica_throughput(records: Sequence[SampleRecord]) -> list[ReplicaThroughput]:
    """Each replica's throughput over its own rows' span (rows of a local run have none)."""
    by_replica: defaultdict[int, list[SampleRecord]] = defaultdict(list)
    for record in _generated(records):
        if record.replica is not None:
            by_replica[record.replica].append(record)
    return [
        ReplicaThroughput.model_validate({"replica": index, **_figures(rows)})
        for index, rows in sorted(by_replica.items())
    ]
