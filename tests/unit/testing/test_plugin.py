"""The pytest plugin, run by pytest itself (``pytester``) on a scripted agent."""

import json
import re
import subprocess
import sys

pytest_plugins = ["pytester"]

TESTS = """
from conftest import BLUEPRINT
from parlantish.testing import assert_consistent

def ask(content, **options):
    return assert_consistent(
        BLUEPRINT, [{"role": "user", "content": content}],
        variables={"customer_name": "Dana"}, **options
    )

def test_keeps_the_refund_policy():
    ask("good", samples=30)

def test_promises_refunds():
    ask("bad", samples=30)
"""


def test_one_passing_and_one_failing_consistency_test(scripted):
    scripted.makepyfile(test_agent=TESTS)
    run = scripted.runpytest("-p", "no:cacheprovider")
    run.assert_outcomes(passed=1, failed=1)
    output = run.stdout.str()
    assert "support-refunds (blueprint): fail: pass rate 0.00" in output
    assert "failed not_matches at offset" in output  # which check failed, and where
    assert "your refund has been approved" in output  # the failing sample's text


def test_sampling_stops_as_soon_as_the_verdict_is_decided(scripted):
    scripted.makepyfile(
        test_early="""
from conftest import BLUEPRINT, CALLS
from parlantish.testing import consistency

def test_clear_cases_stop_early():
    for content in ("good", "bad"):
        CALLS.clear()
        result = consistency(
            BLUEPRINT, [{"role": "user", "content": content}],
            variables={"customer_name": "Dana"}, samples=200, min_pass_rate=0.8,
        )
        assert result.stopped_early and result.samples_used < 60, result.summary()
        assert len(CALLS) == result.generated < 64
        assert max(result.error_rates) < 0.06  # 200 samples: just short of 0.05
"""
    )
    scripted.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_samples_option_overrides_the_maximum(scripted):
    scripted.makepyfile(
        test_cap="""
from conftest import BLUEPRINT
from parlantish.testing import consistency

def test_capped():
    result = consistency(BLUEPRINT, [{"role": "user", "content": "mixed"}],
                         variables={"customer_name": "Dana"}, samples=500)
    assert result.max_samples == 7 and result.samples_used <= 7
"""
    )
    run = scripted.runpytest("-p", "no:cacheprovider", "--parlantish-samples", "7")
    run.assert_outcomes(passed=1)


def _outcomes_and_rates(run):
    lines = [line for line in run.stdout.lines if "pass rate" in line]
    return run.parseoutcomes(), lines


def test_a_replayed_run_gives_the_recorded_verdicts_without_a_backend(scripted, tmp_path):
    scripted.makepyfile(test_agent=TESTS)
    folder = tmp_path / "recordings"
    recorded = scripted.runpytest("-p", "no:cacheprovider", "--parlantish-record", str(folder))
    recorded.assert_outcomes(passed=1, failed=1)
    files = [p for p in folder.glob("*.json") if p.name != "backend.json"]
    assert files
    entry = json.loads(files[0].read_text())
    assert entry["test"].startswith("test_agent.py::") and entry["key"] == files[0].stem
    replayed = scripted.runpytest("-p", "no:cacheprovider", "--parlantish-replay", str(folder))
    replayed.assert_outcomes(passed=1, failed=1)
    assert _outcomes_and_rates(replayed) == _outcomes_and_rates(recorded)
    assert "live call in replay" not in replayed.stdout.str()


def test_a_missing_recording_fails_the_test_naming_it_and_the_key(scripted, tmp_path):
    scripted.makepyfile(
        test_agent=TESTS
        + """
def test_swallows_the_error():
    try:
        ask("good", samples=5)
    except AssertionError:
        pass
"""
    )
    folder = tmp_path / "empty"
    folder.mkdir()
    run = scripted.runpytest("-p", "no:cacheprovider", "--parlantish-replay", str(folder))
    run.assert_outcomes(failed=3)
    output = run.stdout.str()
    assert re.search(
        r"no recording for test \S*test_agent.py::test_keeps_the_refund_policy: "
        r"request key [0-9a-f]{32}",
        output,
    )
    assert re.search(
        r"no recording for test \S*test_agent.py::test_swallows_the_error: "
        r"request key [0-9a-f]{32}",
        output,
    )
    assert "live call in replay" not in output


def test_record_and_replay_exclude_each_other(scripted, tmp_path):
    run = scripted.runpytest(
        "--parlantish-record", str(tmp_path), "--parlantish-replay", str(tmp_path)
    )
    assert "exclude each other" in run.stderr.str()


def test_async_variants_in_async_tests(scripted):
    scripted.makepyfile(
        test_async="""
import pytest
from conftest import BLUEPRINT
from parlantish.testing import aassert_consistent, acompare

@pytest.mark.anyio
async def test_async():
    messages = [{"role": "user", "content": "good"}]
    result = await aassert_consistent(BLUEPRINT, messages, variables={"customer_name": "Dana"})
    assert result.passed
    paired = await acompare(BLUEPRINT, messages, variables={"customer_name": "Dana"}, samples=4)
    assert paired.seeds and paired.samples == 4
"""
    )
    scripted.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_guard_fixture_uses_the_run_backend(scripted):
    scripted.makepyfile(
        test_guard="""
from conftest import BLUEPRINT

def test_guarded(guard, parlantish_backend):
    reply = guard(BLUEPRINT, temperature=0.7, seed=1).reply(
        [{"role": "user", "content": "good"}], variables={"customer_name": "Dana"}
    )
    assert reply.passed and "human agent" in reply.text
    assert reply.attempts[0].backend == parlantish_backend.name
"""
    )
    scripted.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_two_workers_recording_into_one_folder_replay_together(scripted, tmp_path):
    # What pytest-xdist workers do: separate processes, each with its own backend, one folder.
    scripted.makepyfile(test_agent=TESTS)
    folder = tmp_path / "shared"
    workers = [
        scripted.popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "--parlantish-record",
                str(folder),
                f"test_agent.py::{name}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("test_keeps_the_refund_policy", "test_promises_refunds")
    ]
    assert sorted(worker.wait(timeout=120) for worker in workers) == [0, 1]
    replayed = scripted.runpytest("-p", "no:cacheprovider", "--parlantish-replay", str(folder))
    replayed.assert_outcomes(passed=1, failed=1)
