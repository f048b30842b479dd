"""The evaluator on real engines: an end-to-end `parlantish eval` on the embedded engine, and one
suite spread over two vLLM servers on loopback, one of them killed mid-run."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from parlantish.backends import BackendPool
from parlantish.backends.launch import VLLMServerProcess
from parlantish.backends.vllm_server import VLLMServer
from parlantish.eval import Evaluator, load_suite, read_results

SCHEMAS = Path(__file__).parents[2] / "blueprints"

TINY = """
blueprint: tiny
instructions:
  short: Answer in one short sentence.
  no_comma: Never use a comma.
checkpoints:
  - id: greeting
    recall: [short, no_comma]
    ask: Is this a greeting?
    answer: {type: boolean}
reply: {max_length: 80}
checks: [no_comma]
"""

ESSAY = """
blueprint: essay
instructions:
  lower: Write only in lowercase letters.
system: Write a short essay about the topic the user names.
reply: {recall: [lower]}
segments: {count: {min: 2, max: 3}, max_tokens: 24, recall: [lower]}
checks: [lowercase, no_comma]
"""

SUITE = """
suite: engine-e2e
arms: [direct, blueprint]
samples: 2
seed: 3
sampling: {temperature: 0.8}
window_tokens: 16
thresholds: {case_pass_rate: 0.0}
scenarios:
  - id: hello
    blueprint: tiny.yaml
    messages: [{role: user, content: "Hello there!"}]
  - id: essay
    blueprint: essay.yaml
    messages: [{role: user, content: "Rivers."}]
"""


@pytest.fixture
def suite_file(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "essay.yaml").write_text(ESSAY)
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "parlantish", *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.engine
def test_eval_end_to_end_on_the_embedded_engine(suite_file, tmp_path, embedded_model_dir):
    out = tmp_path / "out"
    done = cli("eval", str(suite_file), "--out", str(out), "--backend", "embedded", "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "report.html" in done.stdout and "blueprint vs direct" in done.stdout
    records = read_results(out / "results.jsonl")
    assert len(records) == 2 * 2 * 2
    for record in records:
        assert record["error"] is None, record["error"]
        assert record["usage"]["completion_tokens"] > 0 and record["latency_s"] > 0
        assert record["passed"] == all(c["passed"] for c in record["checks"])
    forced = [r for r in records if r["scenario"] == "hello" and r["arm"] == "blueprint"]
    for record in forced:
        (checkpoint,) = record["checkpoints"]
        assert checkpoint["recall"] == ["Answer in one short sentence.", "Never use a comma."]
    essays = [r for r in records if r["scenario"] == "essay" and r["arm"] == "blueprint"]
    assert all(r["length_units"]["kind"] == "segments" for r in essays)
    direct_essays = [r for r in records if r["scenario"] == "essay" and r["arm"] == "direct"]
    assert all(r["length_units"]["window"] == 24 for r in direct_essays)  # segment-sized windows
    report = json.loads((out / "report.json").read_text())
    assert set(report["arms"]) == {"direct", "blueprint"}
    # Both files validate against the published schemas (with jsonschema, not the models).
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    results_schema = json.loads((SCHEMAS / "results.schema.json").read_text())
    for row in rows:
        jsonschema.validate(row, results_schema)
    jsonschema.validate(report, json.loads((SCHEMAS / "report.schema.json").read_text()))
    assert {row["schema_version"] for row in rows} == {report["schema_version"]} == {1}
    assert report["run"]["model"].endswith("SmolLM2-135M-Instruct")
    before = {
        name: (out / name).read_bytes() for name in ("report.json", "report.html", "junit.xml")
    }
    rebuilt = cli("report", str(out), "--quiet")
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert {name: (out / name).read_bytes() for name in before} == before
    again = cli("eval", str(suite_file), "--out", str(out), "--backend", "embedded", "--quiet")
    assert again.returncode == 0 and len(read_results(out / "results.jsonl")) == 8


@pytest.mark.server
def test_a_suite_spreads_over_two_servers_and_survives_losing_one(
    suite_file, tmp_path, vllm_server, embedded_model_dir
):
    with VLLMServerProcess(embedded_model_dir, dtype="float32") as second:
        pool = BackendPool(
            [VLLMServer(vllm_server.url, timeout=300), VLLMServer(second.url, timeout=300)],
            cooldown_s=600,
        )
        killed = {}

        def kill_second(progress):
            # Early, so that most of the suite is still to be spread when the server dies.
            if pool.members[1].completed >= 1 and not killed:
                killed["at"] = progress.done
                os.killpg(second.process.pid, signal.SIGKILL)

        evaluator = Evaluator(
            load_suite(suite_file),
            pool,
            tmp_path / "out",
            samples=3,
            concurrency=4,
            on_progress=kill_second,
        )
        evaluator.run()
    records = read_results(tmp_path / "out" / "results.jsonl")
    assert len(records) == 2 * 2 * 3 and killed
    assert [r["error"] for r in records if r["error"]] == []
    first, lost = pool.stats()
    assert first["completed"] > 0 and lost["completed"] > 0  # both served before the kill
    assert lost["failures"] >= 1 and not lost["in_rotation"]
    assert first["completed"] + lost["completed"] == len(records)
