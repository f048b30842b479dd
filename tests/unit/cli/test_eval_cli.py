"""``parlantish eval`` without a model: validation before any backend exists, a finished run
reported without one, a partly done run resumed, SIGTERM leaving a resumable run."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from parlantish.cli import evaluate
from parlantish.cli.main import main
from parlantish.eval import read_results

from ..eval.conftest import SUITE, comma_sometimes, plan_shaped
from ..eval.test_runner import evaluator

ROOT = Path(__file__).parents[3]


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


@pytest.fixture
def backends(monkeypatch, suite_file, tmp_path):
    """Records every backend resolution; answers with plan-shaped scripted outputs."""
    resolved = []

    def resolve(specs, **options):
        resolved.append(specs)
        return plan_shaped(evaluator(suite_file, tmp_path / "unused"), comma_sometimes)

    monkeypatch.setattr(evaluate, "resolve_backend", resolve)
    return resolved


def run(args, capsys):
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_an_arm_typo_is_reported_before_any_backend_is_resolved(
    suite_file, tmp_path, backends, capsys
):
    args = ["eval", str(suite_file), "--out", str(tmp_path / "out"), "--arms", "direct,blueprnt"]
    code, _, err = run(args, capsys)
    assert code == 1 and backends == []
    assert "unknown arm 'blueprnt'" in err
    assert "direct, cot, blueprint" in err  # the valid names


def test_a_bad_scenario_is_reported_before_any_backend_is_resolved(tmp_path, backends, capsys):
    suite = tmp_path / "bad.yaml"
    suite.write_text(SUITE.replace("customer_name: Dana", "customer_nam: Dana"))
    code, _, err = run(["eval", str(suite), "--out", str(tmp_path / "out")], capsys)
    assert code == 1 and backends == []
    assert "refund" in err and "Traceback" not in err


def test_a_finished_run_is_reported_without_a_backend(suite_file, tmp_path, backends, capsys):
    out = tmp_path / "out"
    code, first, _ = run(["eval", str(suite_file), "--out", str(out), "--quiet"], capsys)
    assert code == 0 and len(backends) == 1
    code, second, err = run(["eval", str(suite_file), "--out", str(out), "--quiet"], capsys)
    assert code == 0 and len(backends) == 1  # no second resolution: no engine starts
    assert "nothing to generate" in err
    assert second.splitlines()[0] == first.splitlines()[0]  # the same verdict
    assert "report:" in second


def test_a_partly_done_run_resumes(suite_file, tmp_path, backends, capsys):
    out = tmp_path / "out"
    assert run(["eval", str(suite_file), "--out", str(out), "--quiet"], capsys)[0] == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:5]))
    assert run(["eval", str(suite_file), "--out", str(out), "--quiet"], capsys)[0] == 0
    assert len(backends) == 2
    assert len(read_results(results)) == len(lines)
    # With --retry-errors a finished run that holds no backend error is still finished.
    assert run(["eval", str(suite_file), "--out", str(out), "--retry-errors"], capsys)[0] == 0
    assert len(backends) == 2


SLOW_EVAL = textwrap.dedent(
    """
    import sys
    from parlantish.cli import evaluate
    from parlantish.cli.main import main
    from tests.unit.eval.conftest import comma_sometimes, plan_shaped
    from tests.unit.eval.test_runner import evaluator

    suite, out = sys.argv[1], sys.argv[2]

    def resolve(specs, **options):
        backend = plan_shaped(evaluator(suite, out + "-plans"), comma_sometimes, delay_s=0.2)
        return backend

    evaluate.resolve_backend = resolve
    main(["eval", suite, "--out", out, "--quiet", "--concurrency", "2"])
    """
)


def test_sigterm_stops_an_eval_that_stays_resumable(suite_file, tmp_path):
    out = tmp_path / "out"
    results = out / "results.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_EVAL, str(suite_file), str(out)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_results(results)) < 3:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 143, err[-2000:]
    saved = len(read_results(results))
    assert 3 <= saved < 18
    assert f"interrupted: {saved} samples are saved" in err
    assert "run the same command to resume" in err and "Traceback" not in err


def test_verbose_lets_the_engine_log_through(monkeypatch, capsys):
    monkeypatch.delenv("PARLANTISH_VERBOSE", raising=False)
    code, _, _ = run(
        ["--verbose", "lint", str(ROOT / "blueprints" / "support-refunds.yaml")], capsys
    )
    assert code == 0 and os.environ["PARLANTISH_VERBOSE"] == "1"
