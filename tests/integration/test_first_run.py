"""A new user's first steps on the embedded engine: a plain script with a Guard, stopping
``parlantish serve`` with a signal, a quiet ``eval`` and its instant second run."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import psutil
import pytest

from parlantish.backends.launch import free_port

pytestmark = [pytest.mark.engine]

ROOT = Path(__file__).parents[2]

PLAIN_SCRIPT = textwrap.dedent(
    """
    import json

    from parlantish import Guard

    guard = Guard.from_file("blueprints/support-refunds.yaml", backend="embedded")
    reply = guard.reply([{"role": "user", "content": "Refund me!"}], {"customer_name": "Dana"})
    print("REPLY:", json.dumps({"text": reply.text, "checkpoints": len(reply.checkpoints)}))
    """
)


def test_a_plain_script_with_a_guard_prints_its_reply_and_exits(tmp_path):
    script = tmp_path / "plain.py"  # module level, no `if __name__ == "__main__":`
    script.write_text(PLAIN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # What the model writes is its own (at temperature 0 the 135M model's reply may be empty or
    # junk): the script ran as a plain script and printed the Guard's reply with its checkpoints.
    assert done.stdout.startswith("REPLY: ")
    printed = json.loads(done.stdout.removeprefix("REPLY: "))
    assert isinstance(printed["text"], str) and printed["checkpoints"] == 3
    # The engine's own chatter went to its log, not to the user's terminal.
    assert len(done.stderr.splitlines()) <= 2, done.stderr[-3000:]


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stopped_by_a_signal_leaves_no_process(tmp_path, signum):
    port = free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "parlantish", "serve", "--upstream", "embedded",
         "--blueprints", str(ROOT / "blueprints" / "support-refunds.yaml"), "--port", str(port)],
        cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        family = [psutil.Process(process.pid), *_descendants(process.pid)]
        os.kill(process.pid, signum)  # the main process only, as a service manager does
        _gone, alive = psutil.wait_procs(family, timeout=10)
        in_session = [
            p for p in psutil.process_iter() if _pgid(p.pid) == process.pid and p.is_running()
        ]
        assert not alive and not in_session, (alive, in_session, log.read_text()[-3000:])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_eval_is_quiet_and_a_finished_run_reports_at_once(tmp_path):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "parlantish", "eval",
            str(ROOT / "examples" / "consistency-suite.yaml"), "--out", str(out),
            "--samples", "1", "--limit", "1", "--arms", "direct,blueprint"]  # fmt: skip
    first = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert first.returncode in (0, 1), first.stderr[-3000:]
    lines = (first.stderr + first.stdout).splitlines()
    # stderr: the engine starting and ready; stdout: the verdict, then the table.
    assert first.stdout.startswith("verdict: "), "\n".join(lines)
    assert len(first.stderr.splitlines()) <= 4, "\n".join(lines)
    assert "vLLM" not in first.stderr.replace("starting the vLLM engine", "")
    second = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert second.returncode == first.returncode
    assert "nothing to generate" in second.stderr and "starting" not in second.stderr
    assert second.stdout == first.stdout
