"""Scale: one evaluation run on the embedded engine three ways, side by side: in this process
(no Ray), on 1 Ray replica, on 2 Ray replicas (one core each); then the driver's own cost per
record, measured with scripted replicas that answer at once (no engine), and the result
store's cost per appended row.

On a 2-core machine two CPU engines share the cores the one engine had, so the 2/1 ratio shows
the overhead of spreading, not a speed-up; on GPUs each replica brings its own device.
Ends with one JSON line: ``replicas_2_over_1`` and ``ray_1_over_local`` (generation wall-clock
ratios, engine start left out), ``driver_ms_per_record``, ``store_ms_per_record``,
``replica_start_s`` (engine start inside an actor), ``cluster_start_s`` (Ray up, actors
created, engines ready), ``report_ms_per_record`` and ``bytes_per_record`` (what a large run's
report and results file cost), and whether the three runs wrote the same texts.

    python bench/scale.py [SAMPLES]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from parlantish.backends import ScriptedBackend, resolve_backend
from parlantish.eval import Evaluator, load_suite
from parlantish.eval.cluster import RayCluster
from parlantish.eval.ruler import TokenRuler
from parlantish.eval.store import ResultStore
from parlantish.reports import rebuild_reports

ROOT = Path(__file__).parents[1]
SUITE = ROOT / "examples" / "consistency-suite.yaml"
ARMS = ["direct", "blueprint"]
LIMIT = 3
DRIVER_SAMPLES = 400  # × 3 scenarios × 1 arm scripted rows


class TimedCluster(RayCluster):
    """A ``RayCluster`` that remembers how long its start took, as the run sees it."""

    start_wall_s = 0.0

    async def start(self, evaluator: Evaluator) -> None:
        started = time.perf_counter()
        await super().start(evaluator)
        self.start_wall_s = time.perf_counter() - started


def timed_run(backend, out: Path, samples: int, arms: list[str], **options) -> dict[str, float]:
    suite = load_suite(SUITE)
    evaluator = Evaluator(suite, backend, out, samples=samples, arms=arms, limit=LIMIT, **options)
    started = time.perf_counter()
    cpu_started = time.process_time()
    store = asyncio.run(evaluator.arun())
    wall = time.perf_counter() - started
    start = backend.start_wall_s if isinstance(backend, TimedCluster) else 0.0
    rows = list(store.records.values())
    return {
        "wall_s": wall,
        "generation_s": wall - start,
        "driver_cpu_s": time.process_time() - cpu_started,
        "rows": len(rows),
        "tokens": sum(r["usage"]["completion_tokens"] for r in rows),
        "start_s": start,
    }


def instant_reply(request) -> str:
    return "Hello there. All is well."


def instant_backend() -> ScriptedBackend:
    return ScriptedBackend(instant_reply)


def store_cost(row: dict, count: int = 2000) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = ResultStore(folder).open()
        started = time.perf_counter()
        for index in range(count):
            store.append({**row, "key": f"k{index}"})
        store.close()
        return (time.perf_counter() - started) / count * 1000


def same_rows(*folders: Path) -> bool:
    """Whether every folder holds the same keys with the same reply texts (same seeds)."""
    texts = [
        {r["key"]: r["text"] for r in map(json.loads, (f / "results.jsonl").open())}
        for f in folders
    ]
    return all(t == texts[0] for t in texts[1:])


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    os.environ.setdefault("PARLANTISH_ALLOW_ROOTS", str(ROOT))
    figures: dict[str, object] = {"samples": samples, "scenarios": LIMIT, "arms": ARMS}
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        started = time.perf_counter()
        engine = resolve_backend("embedded")
        local_start = time.perf_counter() - started
        local = timed_run(engine, base / "local", samples, ARMS)
        asyncio.run(engine.aclose())
        one = TimedCluster("embedded", replicas=1, cpus=1)
        ray_1 = timed_run(one, base / "ray1", samples, ARMS)
        two = TimedCluster("embedded", replicas=2, cpus=1)
        ray_2 = timed_run(two, base / "ray2", samples, ARMS)
        scripted = TimedCluster(instant_backend, replicas=1, cpus=1)
        driver = timed_run(
            scripted, base / "driver", DRIVER_SAMPLES, ["direct"], ruler=TokenRuler()
        )
        row = json.loads((base / "driver" / "results.jsonl").read_text().splitlines()[0])
        same = same_rows(base / "local", base / "ray1", base / "ray2")
        row_bytes = (base / "ray2" / "results.jsonl").stat().st_size / ray_2["rows"]
        started = time.perf_counter()
        rebuild_reports(base / "driver")
        report_ms = (time.perf_counter() - started) / driver["rows"] * 1000
    for name, run in (("local", local), ("ray 1", ray_1), ("ray 2", ray_2)):
        print(
            f"{name:<8}{run['generation_s']:>8.1f} s  {run['tokens']:>6} tokens  "
            f"{run['tokens'] / run['generation_s']:>7.1f} tok/s  (start {run['start_s']:.1f} s)"
        )
    driver_ms = driver["generation_s"] / driver["rows"] * 1000
    driver_cpu_ms = driver["driver_cpu_s"] / driver["rows"] * 1000
    print(f"driver  {driver_ms:.3f} ms wall and {driver_cpu_ms:.3f} ms CPU per record")
    figures |= {
        "rows": ray_2["rows"],
        "local_generation_s": round(local["generation_s"], 2),
        "ray_1_generation_s": round(ray_1["generation_s"], 2),
        "ray_2_generation_s": round(ray_2["generation_s"], 2),
        "local_tok_s": round(local["tokens"] / local["generation_s"], 1),
        "ray_1_tok_s": round(ray_1["tokens"] / ray_1["generation_s"], 1),
        "ray_2_tok_s": round(ray_2["tokens"] / ray_2["generation_s"], 1),
        "replicas_2_over_1": round(ray_2["generation_s"] / ray_1["generation_s"], 3),
        "ray_1_over_local": round(ray_1["generation_s"] / local["generation_s"], 3),
        "replica_start_s": round(statistics.median(one.start_s + two.start_s), 2),
        "cluster_start_s": {"1": round(one.start_wall_s, 2), "2": round(two.start_wall_s, 2)},
        "driver_rows": driver["rows"],
        "driver_ms_per_record": round(driver_ms, 3),
        "driver_cpu_ms_per_record": round(driver_cpu_ms, 3),
        "store_ms_per_record": round(store_cost(row), 4),
        "report_ms_per_record": round(report_ms, 3),
        "bytes_per_record": round(row_bytes),
        "local_start_s": round(local_start, 2),
        "same_texts_local_ray_1_ray_2": same,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
