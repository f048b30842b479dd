"""Reading the files that user files refer to, inside allowed folders and within a size limit.

A blueprint or suite may come from anywhere, so a reference in it (``extends``, a suite's
``blueprint`` or ``include``) is resolved, symlinks followed, and read only when it lies inside
an allowed root: the folder of the file the user named, the working directory, and any folder
named with ``--allow-root`` or ``PARLANTISH_ALLOW_ROOTS`` (paths separated by ``os.pathsep``).
Only regular files are read (never a device or a FIFO), and never more than a size limit.
Errors name the reference and where it was written, never the target's contents.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from parlantish.errors import Location, UserError

__all__ = [
    "ALLOW_ROOTS_ENV",
    "MAX_JSONL_BYTES",
    "MAX_YAML_BYTES",
    "FileRefused",
    "allow_roots",
    "default_roots",
    "read_limited",
    "resolve_reference",
    "yaml_limit",
]

ALLOW_ROOTS_ENV = "PARLANTISH_ALLOW_ROOTS"
MAX_FILE_BYTES_ENV = "PARLANTISH_MAX_FILE_BYTES"
#: Largest blueprint or suite file read (YAML/JSON); ``PARLANTISH_MAX_FILE_BYTES`` overrides.
MAX_YAML_BYTES = 1 << 20
#: Largest IFEval-format JSONL file read.
MAX_JSONL_BYTES = 64 << 20

_ALLOWED: list[Path] = []


class FileRefused(UserError):
    """A file reference points outside the allowed roots, at something that is not a regular
    file, or at a file over the size limit."""


def allow_roots(paths: Iterable[str | Path]) -> None:
    """Allow references into these folders for the rest of the process (``--allow-root``)."""
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if resolved not in _ALLOWED:
            _ALLOWED.append(resolved)


def default_roots(entry: str | Path | None = None) -> tuple[Path, ...]:
    """The roots a reference may resolve into, for a chain of files that started at ``entry``."""
    roots: list[Path] = []
    if entry is not None:
        roots.append(Path(entry).resolve().parent)
    roots.append(Path.cwd().resolve())
    roots.extend(_ALLOWED)
    for part in os.environ.get(ALLOW_ROOTS_ENV, "").split(os.pathsep):
        if part.strip():
            roots.append(Path(part.strip()).expanduser().resolve())
    return tuple(dict.fromkeys(roots))


def resolve_reference(
    ref: str, referrer: str | Path, roots: Iterable[Path], *, where: Location | None = None
) -> Path:
    """``ref`` relative to the referring file's folder, refused unless inside one of ``roots``."""
    if "\x00" in ref:
        raise FileRefused(f"the reference {ref!r} contains a NUL character", location=where)
    try:
        target = (Path(referrer).parent / ref).resolve()
    except (OSError, RuntimeError, ValueError) as e:
        raise FileRefused(f"cannot resolve {ref!r}: {e}", location=where) from e
    if not any(target == root or target.is_relative_to(root) for root in roots):
        raise FileRefused(
            f"{ref!r} resolves outside the allowed folders",
            location=where,
            hint=f"allow its folder with --allow-root or ${ALLOW_ROOTS_ENV}",
        )
    return target


def yaml_limit() -> int:
    """The size limit of blueprint and suite files: ``PARLANTISH_MAX_FILE_BYTES`` or the default."""
    raw = os.environ.get(MAX_FILE_BYTES_ENV, "").strip()
    return int(raw) if raw.isdigit() else MAX_YAML_BYTES


def read_limited(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (default ``yaml_limit()``), else
    ``FileRefused`` (or ``OSError``). The size is checked before reading and at most
    ``limit + 1`` bytes are read, so a file that grows meanwhile is still refused."""
    if limit is None:
        limit = yaml_limit()
    name = str(path)
    # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just after.
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{name} is not a regular file (a device, FIFO or folder)")
        if info.st_size > limit:
            raise FileRefused(f"{name} is larger than the limit of {limit} bytes")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise FileRefused(f"{name} is larger than the limit of {limit} bytes")
    return b"".join(chunks)
