"""Running the CLI as a user does: a real subprocess, the last stdout line read as JSON."""

import json
import subprocess
import sys


def run_cli_json(*args: str) -> dict:
    """``python -m parlantish ARGS``; asserts exit 0 and returns the last line as JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "parlantish", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
