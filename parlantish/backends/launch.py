"""Start and stop a local vLLM OpenAI-compatible server (for tests, benchmarks and demos).

The server runs as ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm serve`` script is
broken in the CPU package) in its own process group, so stopping it stops its workers too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from parlantish.errors import BackendUnavailableError
from parlantish.paths import configure_engine_environment, logs_dir

__all__ = ["VLLMServerProcess", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _cpu_scheduler_args(max_model_len: int) -> list[str]:
    from parlantish.backends.vllm_engine import cpu_scheduler_options

    options = cpu_scheduler_options(max_model_len)
    if not options:
        return []
    return [
        "--no-enable-chunked-prefill",
        "--max-num-batched-tokens",
        str(options["max_num_batched_tokens"]),
    ]


class VLLMServerProcess:
    """A vLLM server on loopback: ``with VLLMServerProcess(model_dir) as server: server.url``."""

    def __init__(
        self,
        model: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        structured_outputs_backend: str = "xgrammar",
        enforce_eager: bool = True,
        max_model_len: int = 4096,
        dtype: str = "auto",
        extra_args: tuple[str, ...] = (),
        log_path: Path | None = None,
        startup_timeout_s: float = 600.0,
    ):
        self.model = str(model)
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}/v1"
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path or logs_dir() / f"vllm-server-{self.port}.log"
        self._args = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            self.model,
            "--host",
            host,
            "--port",
            str(self.port),
            "--max-model-len",
            str(max_model_len),
            "--dtype",
            dtype,
            "--structured-outputs-config.backend",
            structured_outputs_backend,
            "--structured-outputs-config.disable_any_whitespace",
            "true",
            *(["--enforce-eager"] if enforce_eager else []),
            "--enable-prefix-caching",  # stepwise plans resend the reply so far as a prefix
            *_cpu_scheduler_args(max_model_len),
            *extra_args,
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> VLLMServerProcess:
        """Start the server and wait until ``/health`` answers (or raise with the log's tail)."""
        configure_engine_environment()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self._args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        health = f"http://{self.host}:{self.port}/health"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise BackendUnavailableError(
                    f"vLLM server exited with {code} during start:\n{self.log_tail()}"
                )
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        self.stop()
        raise BackendUnavailableError(f"vLLM server did not become healthy:\n{self.log_tail()}")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> VLLMServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
