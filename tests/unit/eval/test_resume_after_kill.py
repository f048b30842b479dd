"""kill -9 at any moment loses nothing: a real subprocess is killed mid-run, then resumed."""

import os
import signal
import time

from parlantish.eval import read_results

from .conftest import start_scripted_run


def start(suite_file, out):
    return start_scripted_run(suite_file, out, samples=8, concurrency=3, delay_s=0.03)


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
