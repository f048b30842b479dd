"""Starting ``parlantish serve`` as a real process on a free loopback port."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parlantish.backends.launch import free_port


class ProxyProcess:
    """``parlantish serve ARGS --port FREE``; waits until ``/health`` answers 200."""

    def __init__(self, *args: str, log: Path, startup_timeout_s: float = 600):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._args = [sys.executable, "-m", "parlantish", "serve", *args, "--port", str(self.port)]
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, expect_healthy: bool = True) -> "ProxyProcess":
        self.process = subprocess.Popen(
            self._args,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"proxy exited:\n{self.log.read_text()[-3000:]}")
            try:
                status = httpx.get(f"{self.url}/health", timeout=2).status_code
                if status == 200 or (status == 503 and not expect_healthy):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"proxy did not start:\n{self.log.read_text()[-3000:]}")

    def terminate(self) -> None:
        """SIGTERM (graceful shutdown), without waiting."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
