"""Where an in-process engine's output goes: a log file under ``PARLANTISH_HOME/logs/``.

vLLM, torch and their C++ code write about sixty lines while an engine starts (Python logging,
``warnings``, tqdm bars, C++ prints straight to file descriptor 2). A terminal should show
progress and results instead, so while an engine is imported and started both descriptors 1 and
2 point at the engine's log file, and vLLM's loggers keep writing there afterwards. Set
``PARLANTISH_VERBOSE=1`` (the CLI's ``--verbose``) to let all of it through to the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from parlantish.paths import logs_dir

__all__ = ["EngineLog", "verbose"]

VERBOSE_ENV = "PARLANTISH_VERBOSE"
KEEP_LOGS = 20  # older engine logs are deleted when a new one starts


def verbose() -> bool:
    """True when the engine's own output should reach the terminal."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class EngineLog:
    """One engine's log file: ``capture()`` around its start, ``tail()`` for error messages."""

    def __init__(self, path: Path | None = None):
        if path is None:
            folder = logs_dir()
            folder.mkdir(parents=True, exist_ok=True)
            _prune(folder)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = folder / f"engine-{stamp}-{os.getpid()}.log"
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """Send file descriptors 1 and 2 (and so every print, warning and C++ message, also
        from child processes started meanwhile) to the log file; restore them on exit. vLLM's
        loggers are pointed at the file for good."""
        if verbose():
            yield
            return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved: list[tuple[int, int]] = []
        with self.path.open("a", buffering=1, encoding="utf-8", errors="replace") as log:
            for fd in (1, 2):
                try:
                    saved.append((fd, os.dup(fd)))
                    os.dup2(log.fileno(), fd)
                except OSError:  # no such descriptor (a GUI host): nothing to redirect
                    continue
            self.route_loggers()  # a vllm imported earlier already has its handlers
            try:
                # Also the Python streams: in notebooks they are not descriptors 1 and 2.
                with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                for fd, copy in saved:
                    os.dup2(copy, fd)
                    os.close(copy)
                self.route_loggers()

    def route_loggers(self) -> None:
        """Point the ``vllm`` logger (the root of all of vLLM's) at the log file."""
        if verbose():
            return
        logger = logging.getLogger("vllm")
        ours = [h for h in logger.handlers if getattr(h, "_parlantish", None) == self.path]
        for handler in list(logger.handlers):
            if handler not in ours:
                logger.removeHandler(handler)
        logger.propagate = False
        if ours:
            return
        handler = logging.FileHandler(self.path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(levelname)s %(asctime)s %(name)s: %(message)s"))
        handler._parlantish = self.path  # type: ignore[attr-defined]
        logger.addHandler(handler)

    def tail(self, lines: int = 15) -> str:
        """The log's last lines, the most telling ones (errors, tracebacks) first chosen."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        for i, line in enumerate(text):  # from the first traceback or error on, if any
            if line.startswith("Traceback") or " ERROR " in f" {line} ":
                return "\n".join(text[i:][-lines:])
        return "\n".join(text[-lines:])


def _prune(folder: Path) -> None:
    logs = sorted(folder.glob("engine-*.log"), key=lambda p: p.stat().st_mtime)
    for old in logs[: max(0, len(logs) - (KEEP_LOGS - 1))]:
        with contextlib.suppress(OSError):
            old.unlink()
