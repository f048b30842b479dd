"""An exclusive lock on an output folder for the length of a run.

Two runs writing one ``--out`` would both sample every case and append every record twice. The
lock is an ``fcntl.flock`` on ``OUT/.lock`` holding the owner's PID: the kernel drops it when
the process ends (even by kill -9), so a stale file never blocks the next run, and a second
acquirer fails at once with a ``UserError`` naming the PID that holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from parlantish.errors import UserError

__all__ = ["LOCK_FILE", "OutputLock", "OutputLockedError", "lock_output"]

LOCK_FILE = ".lock"


class OutputLockedError(UserError):
    """Another process holds the output folder's lock; ``pid`` is its PID when known."""

    def __init__(self, folder: Path, pid: int | None):
        self.pid = pid
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"{folder} is in use by {holder} (another run writes there)",
            hint="wait for it to finish, stop it, or choose another --out folder",
        )


class OutputLock:
    """The held lock on ``folder``; ``release()`` (or leaving the ``with`` block) frees it."""

    def __init__(self, folder: Path, fd: int):
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Free the lock (the file stays: removing it would race with the next acquirer)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    # The holder writes its PID just after taking the lock: give it a moment to appear.
    for _ in range(20):
        try:
            text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
        except OSError:
            return None
        if text.isdigit():
            return int(text)
        time.sleep(0.005)
    return None


def lock_output(folder: str | Path) -> OutputLock:
    """Take the exclusive lock on ``folder`` (created if missing) or raise
    ``OutputLockedError`` at once, naming the PID of the process that holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        raise OutputLockedError(folder, pid) from None
    except BaseException:
        os.close(fd)
        raise
    # Only the holder writes: truncate, then the PID, so a reader never sees two PIDs.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return OutputLock(folder, fd)
