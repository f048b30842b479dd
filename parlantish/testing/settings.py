"""Run-wide settings of consistency tests: which backend, how many samples, which seed, and
whether generations are recorded or replayed. The pytest plugin fills them from its options;
outside pytest they come from the environment (``PARLANTISH_BACKEND``)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from parlantish.backends import Backend, resolve_backend
from parlantish.testing.recording import RecordingBackend, ReplayBackend

__all__ = ["RunSettings", "activate", "active"]


@dataclass
class RunSettings:
    """What every consistency call in a run shares.

    ``samples`` overrides each call's maximum; ``seed`` is the base seed of calls that name
    none; with ``replay`` every backend is replaced by the recordings (no model is loaded),
    with ``record`` every backend is wrapped to store what it generates.
    """

    backend: str | Backend = field(
        default_factory=lambda: os.environ.get("PARLANTISH_BACKEND", "embedded")
    )
    samples: int | None = None
    seed: int | None = None  # None: 0 for calls, a suite's own seed for suite items
    record: Path | None = None
    replay: Path | None = None
    current_test: str = ""
    _session: Backend | None = field(default=None, repr=False)
    _wrapped: dict[int, Backend] = field(default_factory=dict, repr=False)
    _replayer: ReplayBackend | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def test_name(self) -> str:
        return self.current_test

    def resolve(self, backend: str | Backend | None = None) -> Backend:
        """The backend a call uses: ``backend`` when given, else the run's (started once);
        replaced by the recordings when replaying, wrapped when recording."""
        with self._lock:
            if self.replay is not None:
                if self._replayer is None:
                    self._replayer = ReplayBackend(self.replay, test=self.test_name)
                return self._replayer
            if backend is None:
                if self._session is None:
                    self._session = resolve_backend(self.backend)
                live = self._session
                first = True
            else:
                live = resolve_backend(backend)
                first = live is self._session
            if self.record is None:
                return live
            wrapped = self._wrapped.get(id(live))
            if wrapped is None:
                wrapped = RecordingBackend(
                    live, self.record, test=self.test_name, manifest=first or not self._wrapped
                )
                self._wrapped[id(live)] = wrapped
            return wrapped

    @property
    def replayer(self) -> ReplayBackend | None:
        return self._replayer

    @property
    def started(self) -> bool:
        """Whether the run's own backend was started."""
        return self._session is not None

    def close(self) -> None:
        """Close the run's backend (an in-process engine is shut down)."""
        with self._lock:
            session, self._session = self._session, None
            self._wrapped.clear()
        if session is not None:
            session.close()


_active = RunSettings()
_active_lock = threading.Lock()


def active() -> RunSettings:
    """The settings in force (the plugin's during a pytest run)."""
    return _active


def activate(settings: RunSettings) -> RunSettings:
    """Make ``settings`` the ones in force; returns the previous ones."""
    global _active
    with _active_lock:
        previous, _active = _active, settings
    return previous
