"""kill -9 at any moment loses nothing: a real subprocess is killed mid-run, then resumed."""

import os
import signal
import subprocess
import sys
import textwrap
import time

from parlantish.eval import read_results

RUNNER = textwrap.dedent(
    """
    import sys
    from parlantish.backends import ScriptedBackend
    from parlantish.compiler import example_output
    from parlantish.eval import Evaluator, load_suite
    from parlantish.eval.ruler import TokenRuler

    suite, out = sys.argv[1], sys.argv[2]
    ev = Evaluator(load_suite(suite), ScriptedBackend(), out, samples=8, concurrency=3,
                   ruler=TokenRuler())
    plans = {}
    for item in ev.plan():
        key = item.plan.constraint.key if item.plan.constraint else None
        plans[(item.plan.messages, key)] = item.plan

    def answer(request):
        key = request.constraint.key if request.constraint else None
        plan = plans[(tuple(request.messages), key)]
        text = ["alpha beta", "gamma delta"]
        return example_output(plan, text if plan.mode == "longform" else " ".join(text))

    ev.backend = ScriptedBackend(answer, delay_s=0.03)
    ev.run()
    """
)


def start(suite_file, out):
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(suite_file), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def lines(path):
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_sigkill_mid_run_then_resume_gives_every_sample_once(suite_file, tmp_path):
    out = tmp_path / "out"
    results = out / "results.jsonl"
    expected = 2 * 3 * 8
    for kill_after in (3, 17, 30):  # kill three times, at different points
        process = start(suite_file, out)
        deadline = time.monotonic() + 120
        while lines(results) < kill_after and process.poll() is None:
            assert time.monotonic() < deadline, "the run did not progress"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert lines(results) < expected, "the run finished before it could be killed"
    finished = start(suite_file, out)
    assert finished.wait(timeout=120) == 0, finished.stderr.read().decode()[-2000:]
    records = read_results(results)
    raw_keys = [line for line in results.read_text().splitlines() if line]
    keys = [r["key"] for r in records]
    assert len(raw_keys) == len(keys) == len(set(keys)) == expected
    assert {(r["scenario"], r["arm"], r["sample"]) for r in records} == {
        (s, a, i)
        for s in ("refund", "article")
        for a in ("direct", "cot", "blueprint")
        for i in range(8)
    }
