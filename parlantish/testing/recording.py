"""Record and replay: generations stored by a hash of their request, answered back without a
model.

``RecordingBackend`` wraps a live backend and writes every result to ``DIR/<key>.json``
(one file per request, written atomically, so parallel test workers can share a folder);
``ReplayBackend`` answers from those files only. A request it has no file for raises
``RecordingMissing`` naming the test and the key: never a silent live call.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parlantish.backends import Backend, GenerationRequest, GenerationResult
from parlantish.errors import RunError, UserError

__all__ = ["MANIFEST", "RecordingBackend", "RecordingMissing", "ReplayBackend", "request_key"]

#: The recorded backend's description, beside the recordings.
MANIFEST = "backend.json"


def request_key(request: GenerationRequest) -> str:
    """A stable hash of everything that determines a generation: messages or prompt, every
    sampling setting (the seed included), the constraint and continuation."""
    data = request.model_dump(mode="json", exclude={"constraint"})
    constraint = request.constraint
    data["constraint"] = None if constraint is None else [constraint.kind.value, constraint.key]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class RecordingMissing(RunError):
    """A replayed run asked for a generation that was never recorded."""

    retryable = False


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


class RecordingBackend(Backend):
    """Generates with ``inner`` and stores each result under its request's key in ``folder``.
    ``test`` says which test is running (stored with the recording, for readers)."""

    def __init__(
        self,
        inner: Backend,
        folder: str | Path,
        *,
        test: Callable[[], str] = lambda: "",
        manifest: bool = True,
    ):
        self.inner = inner
        self.folder = Path(folder)
        self.test = test
        self.name = inner.name
        self.model = getattr(inner, "model", None)
        self.max_concurrency = inner.max_concurrency
        self.supports_continuation = inner.supports_continuation
        self.folder.mkdir(parents=True, exist_ok=True)
        if manifest:
            description = {
                "name": inner.name,
                "model": self.model,
                "supports_continuation": inner.supports_continuation,
            }
            _write_atomic(self.folder / MANIFEST, json.dumps(description, indent=2) + "\n")

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        result = await self.inner.agenerate(request)
        key = request_key(request)
        entry = {
            "key": key,
            "test": self.test(),
            "backend": self.inner.name,
            "request": request.model_dump(mode="json", exclude={"constraint"}),
            "result": result.model_dump(mode="json"),
        }
        _write_atomic(self.folder / f"{key}.json", json.dumps(entry, ensure_ascii=False) + "\n")
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReplayBackend(Backend):
    """Answers only from the recordings in ``folder``; loads no model. Every miss is kept in
    ``misses`` as ``(test, key)``."""

    def __init__(self, folder: str | Path, *, test: Callable[[], str] = lambda: ""):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UserError(
                f"no recordings folder {self.folder}",
                hint="record one first with --parlantish-record DIR",
            )
        self.test = test
        self.misses: list[tuple[str, str]] = []
        manifest = self._manifest()
        self.name = f"replay:{manifest.get('name', 'unknown')}"
        self.model = manifest.get("model")
        self.supports_continuation = bool(manifest.get("supports_continuation", False))

    def _manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    async def agenerate(self, request: GenerationRequest) -> GenerationResult:
        key = request_key(request)
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            test = self.test() or "(no test)"
            self.misses.append((test, key))
            raise RecordingMissing(
                f"no recording for test {test}: request key {key} is not in {self.folder} "
                "(record it again with --parlantish-record)"
            ) from None
        return GenerationResult.model_validate(entry["result"])
