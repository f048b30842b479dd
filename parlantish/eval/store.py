"""``OUT/results.jsonl``: one line per finished sample, appended at once, safe against kill -9.

Each record is written with a single ``os.write`` of the whole line on a file opened with
``O_APPEND``, so a process killed at any moment leaves at most one partial line at the end; on the
next open that tail (no final newline) is cut off and its sample runs again. Records are keyed by
``key``; a key already present is never appended twice. Small JSON files beside it (``run.json``,
reports) are written to a temporary file and renamed into place, so readers never see half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from parlantish.errors import Location, UserError

__all__ = ["RESULTS_FILE", "ResultStore", "read_results", "write_atomic"]

RESULTS_FILE = "results.jsonl"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600 files; reports are meant to be shared
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_results(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The records of a results file, in file order, one per key (the first wins).

    A last line without its newline is the trace of a killed writer: it is ignored (and cut off
    the file when ``repair``). Any other bad line is a located ``UserError``."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from e
    complete = raw[: raw.rfind(b"\n") + 1]
    if repair and len(complete) != len(raw):
        with path.open("r+b") as handle:
            handle.truncate(len(complete))
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(complete.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(
                f"not a results record: {e.msg}",
                location=Location(str(path), number, e.colno),
                hint="results.jsonl is written by `parlantish eval`; do not edit it by hand",
            ) from e
        except (RecursionError, ValueError) as e:  # nesting too deep, a number too long
            raise UserError(
                f"not a results record: {type(e).__name__}",
                location=Location(str(path), number, 1),
                hint="results.jsonl is written by `parlantish eval`; do not edit it by hand",
            ) from e
        key = record.get("key") if isinstance(record, dict) else None
        if not isinstance(key, str):
            raise UserError(
                'a results record needs a "key"', location=Location(str(path), number, 1)
            )
        if key not in seen:
            seen.add(key)
            records.append(record)
    return records


class ResultStore:
    """The results file of one output folder: what is done, and appending what finishes."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.path = self.out / RESULTS_FILE
        self._fd: int | None = None
        self.records: dict[str, dict[str, Any]] = {}

    def open(self) -> ResultStore:
        """Create the folder, repair a torn last line, and load the finished records."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.records = {r["key"]: r for r in read_results(self.path, repair=True)}
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self

    def drop(self, keys: Iterable[str]) -> None:
        """Forget some records (to run those samples again), rewriting the file atomically."""
        doomed = set(keys) & set(self.records)
        if not doomed:
            return
        self.close()
        kept = [r for k, r in self.records.items() if k not in doomed]
        write_atomic(self.path, "".join(_line(r) for r in kept))
        self.open()

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished record (ignored if its key is already there)."""
        if self._fd is None:
            raise RuntimeError("the store is not open")
        if record["key"] in self.records:
            return
        data = _line(record).encode()
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        self.records[record["key"]] = record

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ResultStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
