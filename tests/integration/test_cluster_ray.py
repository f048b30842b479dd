"""Evaluation runs on Ray replicas: the work is shared, every key lands once, a replica killed
mid-run has its items run by another, Ctrl-C stops every actor, and no Ray or engine process
is left behind. The scripted tests run real Ray actors on the strict scripted backend; one
test runs the issue's command on two embedded engines."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import jsonschema
import psutil
import pytest

from parlantish.backends import ScriptedBackend
from parlantish.compiler.answers import example_answer
from parlantish.errors import BackendUnavailableError, UserError
from parlantish.eval import Evaluator, load_suite, read_results
from parlantish.eval.analysis import build_report
from parlantish.eval.cluster import RayCluster
from parlantish.eval.ruler import TokenRuler

ray = pytest.importorskip("ray")  # the ray extra
ROOT = Path(__file__).parents[2]
BLUEPRINTS = ROOT / "blueprints"
SUITE = f"""
suite: cluster
arms: [direct, blueprint]
samples: 3
seed: 5
scenarios:
  - id: chat
    blueprint: {BLUEPRINTS / "support-refunds.yaml"}
    variables: {{customer_name: Dana}}
    turns:
      - user: "I was charged twice."
        checks: [no_comma]
      - user: "Can you just refund it?"
        checks: [{{max_words: 40}}]
  - id: single
    blueprint: {BLUEPRINTS / "support-refunds.yaml"}
    variables: {{customer_name: Dana}}
    messages: [{{role: user, content: "Refund me now!"}}]
    checks: [no_comma]
"""
# 3 samples × 2 arms × (2 turns + 1) rows
ROWS = 18
RAY_PROCESSES = ("gcs_server", "raylet", "ray::")

# The backend factories travel to the actors by value (the tests folder is not installed).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def reply_for(request):
    """A reply naming the turn it answers, in the request's own shape."""
    users = sum(1 for m in request.messages if m.role == "user")
    text = f"Hello Dana. Turn {users} answered."
    if request.constraint is None:
        return text
    value = example_answer(request.constraint.payload)
    value["reply"] = text
    return json.dumps(value)


def slow_backend():
    return ScriptedBackend(reply_for, delay_s=0.4)


def quick_backend():
    return ScriptedBackend(reply_for, delay_s=0.05)


def ray_processes() -> set[int]:
    found = set()
    for process in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if any(name in line for name in RAY_PROCESSES):
            found.add(process.info["pid"])
    return found


def no_new_ray_process(before: set[int], within_s: float = 30.0) -> bool:
    """Whether every Ray process started since ``before`` is gone (within a grace period)."""
    deadline = time.monotonic() + within_s
    while ray_processes() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    return not (ray_processes() - before)


def interruptible() -> None:
    """In the child, before it starts: SIGINT back to its default (a test run started in the
    background inherits it ignored, and Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def suite(tmp_path, monkeypatch):
    monkeypatch.setenv("PARLANTISH_ALLOW_ROOTS", str(BLUEPRINTS))
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return load_suite(path)


def test_two_replicas_share_the_work_and_every_key_lands_once(suite, tmp_path):
    before = ray_processes()
    cluster = RayCluster(quick_backend, replicas=2, cpus=0.5)
    Evaluator(suite, cluster, tmp_path / "out", ruler=TokenRuler()).run()

    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == ROWS
    assert len({row["key"] for row in rows}) == ROWS
    schema = json.loads((ROOT / "blueprints" / "results.schema.json").read_text())
    for row in rows:
        jsonschema.validate(row, schema)
    by_replica = Counter(row["replica"] for row in rows)
    assert set(by_replica) == {0, 1}
    # Every turn of a conversation ran on one replica, in order.
    for conversation in {row["conversation"] for row in rows if row["conversation"]}:
        turns = [row for row in rows if row["conversation"] == conversation]
        assert len({row["replica"] for row in turns}) == 1
        assert [row["turn"] for row in turns] == [1, 2]

    report = build_report(read_results(tmp_path / "out" / "results.jsonl"))
    assert {r.replica: r.records for r in report.replicas} == dict(by_replica)
    assert report.throughput is not None and report.throughput.records == ROWS
    assert report.throughput.completion_tokens == sum(
        row["usage"]["completion_tokens"] for row in rows
    )
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    assert manifest["backend"] == "ray[2]:scripted:scripted"
    assert no_new_ray_process(before), "a Ray process outlived the run"


def test_a_killed_replica_s_items_run_on_the_other(suite, tmp_path):
    cluster = RayCluster(slow_backend, replicas=2, cpus=0.5)
    killed: list[int] = []

    def kill_replica_one(progress):
        if progress.done >= 3 and not killed:
            pid = cluster.members[1].pid
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    evaluator = Evaluator(
        suite, cluster, tmp_path / "out", ruler=TokenRuler(), on_progress=kill_replica_one
    )
    evaluator.run()

    assert killed and not alive(killed[0])
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines]
    assert len(keys) == ROWS and len(set(keys)) == ROWS
    replicas = Counter(json.loads(line)["replica"] for line in lines)
    assert replicas[0] > replicas[1]  # the survivor ran the dead replica's items
    assert not cluster.members[1].alive


def test_when_every_replica_dies_the_rows_done_are_saved_and_the_run_resumes(suite, tmp_path):
    cluster = RayCluster(slow_backend, replicas=2, cpus=0.5)

    def kill_both(progress):
        if progress.done >= 2 and any(m.alive for m in cluster.members):
            for member in cluster.members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(member.pid, signal.SIGKILL)

    out = tmp_path / "out"
    evaluator = Evaluator(suite, cluster, out, ruler=TokenRuler(), on_progress=kill_both)
    with pytest.raises(BackendUnavailableError, match="every replica stopped"):
        evaluator.run()
    saved = len((out / "results.jsonl").read_text().splitlines())
    assert 2 <= saved < ROWS

    Evaluator(suite, RayCluster(quick_backend, replicas=1, cpus=0.5), out, ruler=TokenRuler()).run()
    keys = [json.loads(line)["key"] for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(keys) == ROWS and len(set(keys)) == ROWS


def refusing_backend():
    """A backend for a replica whose turn-2 plans fail to compile (as a template error in a
    later turn would): patched in the actor's own process only."""
    original = Evaluator._compile

    def compile_turn(self, scenario, arm, conversation=None, turn=1):
        if turn == 2:
            raise UserError("turn two is refused", hint="a hint travels too")
        return original(self, scenario, arm, conversation, turn)

    Evaluator._compile = compile_turn
    return ScriptedBackend(reply_for)


def test_a_user_error_in_a_replica_is_reported_as_such_and_finished_turns_are_kept(suite, tmp_path):
    out = tmp_path / "out"
    cluster = RayCluster(refusing_backend, replicas=1, cpus=0.5)
    with pytest.raises(UserError, match=r"replica 0, item 'chat\|.*turn two is refused") as raised:
        Evaluator(suite, cluster, out, ruler=TokenRuler(), concurrency=1).run()
    assert raised.value.hint == "a hint travels too"
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert any(row["turn"] == 1 for row in rows)  # saved before turn 2 failed


def model_b():
    return ScriptedBackend(reply_for, model="model-b")


def test_resuming_a_folder_with_another_model_is_refused(suite, tmp_path):
    out = tmp_path / "out"
    Evaluator(
        suite, ScriptedBackend(reply_for, model="model-a"), out, ruler=TokenRuler(), samples=1
    ).run()
    cluster = RayCluster(model_b, replicas=1, cpus=0.5)
    with pytest.raises(UserError, match="model"):
        Evaluator(suite, cluster, out, ruler=TokenRuler()).run()
    models = {json.loads(line)["backend"] for line in (out / "results.jsonl").open()}
    assert models == {"scripted:model-a"}


def test_a_replica_that_cannot_start_is_a_clear_error(suite, tmp_path):
    cluster = RayCluster("/no/such/model-folder", replicas=1, cpus=0.5)
    with pytest.raises(BackendUnavailableError, match="a replica failed to start"):
        Evaluator(suite, cluster, tmp_path / "out", ruler=TokenRuler()).run()


def test_more_replicas_than_the_cluster_holds_is_refused(suite, tmp_path):
    cpus = os.cpu_count() or 1
    cluster = RayCluster(quick_backend, replicas=cpus + 1, cpus=1)
    with pytest.raises(UserError, match=r"need \d+ CPUs; the cluster has"):
        Evaluator(suite, cluster, tmp_path / "out", ruler=TokenRuler()).run()


INTERRUPTED_RUN = textwrap.dedent(
    """
    import asyncio, json, sys
    from parlantish.backends import ScriptedBackend
    from parlantish.eval import Evaluator, load_suite
    from parlantish.eval.cluster import RayCluster
    from parlantish.eval.ruler import TokenRuler

    suite, out, pids = sys.argv[1:]

    def never_done():
        return ScriptedBackend(lambda request: "x", delay_s=600, validate=False)

    class Announced(RayCluster):
        async def run(self, items, saved, emit):
            with open(pids, "w") as f:  # the actors are up: the test may interrupt now
                json.dump([m.pid for m in self.members], f)
            await super().run(items, saved, emit)

    cluster = Announced(never_done, replicas=2, cpus=0.5)
    evaluator = Evaluator(load_suite(suite), cluster, out, ruler=TokenRuler(), arms=["direct"])
    asyncio.run(evaluator.arun())
    """
)


SLOW_START = textwrap.dedent(
    """
    import sys, time
    from parlantish.backends import ScriptedBackend
    from parlantish.eval import Evaluator, load_suite
    from parlantish.eval.cluster import RayCluster
    from parlantish.eval.ruler import TokenRuler

    suite, out, ready = sys.argv[1:]

    def slow_start():
        open(ready, "w").close()  # the engine is starting: the test may interrupt now
        time.sleep(600)

    cluster = RayCluster(slow_start, replicas=2, cpus=0.5)
    Evaluator(load_suite(suite), cluster, out, ruler=TokenRuler()).run()
    """
)


def test_ctrl_c_while_the_engines_start_stops_everything_at_once(suite, tmp_path):
    ready = tmp_path / "starting"
    before = ray_processes()
    env = {**os.environ, "PARLANTISH_ALLOW_ROOTS": str(BLUEPRINTS)}
    args = [str(tmp_path / "suite.yaml"), str(tmp_path / "out"), str(ready)]
    run = subprocess.Popen(
        [sys.executable, "-c", SLOW_START, *args],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 120
    while not ready.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert ready.exists(), run.communicate()[1]
    run.send_signal(signal.SIGINT)
    # The engines would start in 600 s: exiting at all shows the stop did not wait for them
    # (the timeout only keeps a regression from hanging the suite).
    run.communicate(timeout=120)
    assert run.returncode != 0
    assert no_new_ray_process(before)


def test_ctrl_c_stops_every_actor_and_the_cluster(suite, tmp_path):
    path = tmp_path / "suite.yaml"
    pids = tmp_path / "pids.json"
    before = ray_processes()
    env = {**os.environ, "PARLANTISH_ALLOW_ROOTS": str(BLUEPRINTS)}
    run = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_RUN, str(path), str(tmp_path / "out"), str(pids)],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not pids.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    assert pids.exists(), run.communicate()[1]
    actors = json.loads(pids.read_text())
    children = [c.pid for c in psutil.Process(run.pid).children(recursive=True)]
    assert all(alive(pid) for pid in actors)
    run.send_signal(signal.SIGINT)
    run.communicate(timeout=90)
    assert run.returncode != 0
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in [*actors, *children]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in [*actors, *children] if alive(pid)]
    assert no_new_ray_process(before)


@pytest.mark.engine
def test_the_issue_command_on_two_embedded_engines(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "parlantish", "eval", str(ROOT / "examples/consistency-suite.yaml"),
        "--backend", "embedded", "--cluster", "ray", "--replicas", "2", "--samples", "2",
        "--limit", "2", "--arms", "direct,blueprint", "--out", str(out), "--quiet",
    ]  # fmt: skip
    before = ray_processes()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2 and len({r["key"] for r in rows}) == len(rows)
    assert {r["replica"] for r in rows} == {0, 1}
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads((ROOT / "blueprints/report.schema.json").read_text()))
    recount = Counter(r["replica"] for r in rows)
    assert {r["replica"]: r["records"] for r in report["replicas"]} == dict(recount)
    for arm in ("direct", "blueprint"):
        mine = [r for r in rows if r["arm"] == arm and r["error_kind"] != "backend"]
        assert report["arms"][arm]["n"] == len(mine)
        assert report["arms"][arm]["passed"] == sum(r["passed"] for r in mine)
    assert "replica 0:" in done.stdout and "replica 1:" in done.stdout
    assert no_new_ray_process(before)
