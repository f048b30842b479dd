"""Reading a YAML (or JSON) file into plain data plus the line and column of every node.

ruamel.yaml keeps positions on its round-trip containers; this module copies the data into
plain dicts and lists and records, for each path (a tuple of keys and indexes), where its key
and its value start. Any bytes produce either data or located ``Problem``s, never a traceback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from parlantish.errors import Location

__all__ = ["Problem", "SourceDocument", "parse_source", "read_source"]

PathKey = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's file, at a place in it."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def sort_key(self) -> tuple[str, int, int]:
        return (self.location.path, self.location.line or 0, self.location.column or 0)


@dataclass
class SourceDocument:
    """A parsed file: plain ``data`` and the 1-based positions of its nodes by path."""

    path: str
    text: str
    data: Any
    value_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey, *, key: bool = False) -> Location:
        """The position of ``path`` (its key when ``key``), else of its nearest located parent."""
        probe = tuple(path)
        while True:
            table = self.key_positions if key else self.value_positions
            position = table.get(probe) or self.value_positions.get(probe)
            if position is not None:
                return Location(self.path, *position)
            if not probe:
                return Location(self.path, 1, 1)
            probe = probe[:-1]
            key = False


def _plain(node: Any, path: PathKey, doc: SourceDocument) -> Any:
    if isinstance(node, CommentedMap):
        result = {}
        for key, value in node.items():
            child = (*path, key)
            try:
                line, col = node.lc.key(key)
                doc.key_positions[child] = (line + 1, col + 1)
                vline, vcol = node.lc.value(key)
                doc.value_positions[child] = (vline + 1, vcol + 1)
            except (KeyError, TypeError, AttributeError):
                pass
            result[key] = _plain(value, child, doc)
        return result
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            child = (*path, index)
            try:
                line, col = node.lc.item(index)
                doc.value_positions[child] = (line + 1, col + 1)
            except (KeyError, TypeError, AttributeError, IndexError):
                pass
            items.append(_plain(value, child, doc))
        return items
    if isinstance(node, str):
        return str(node)  # ruamel's scalar string subclasses become plain str
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def parse_source(text: str, path: str = "<string>") -> tuple[SourceDocument | None, list[Problem]]:
    """Parse YAML/JSON text; returns the document, or ``None`` and the problems."""
    if not text.strip():
        return None, [
            Problem(Location(path, 1, 1), "the file is empty (expected a blueprint mapping)")
        ]
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        raw = yaml.load(io.StringIO(text))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        reason = (e.problem or e.context or "invalid YAML").strip()
        return None, [Problem(where, f"YAML syntax error: {reason}")]
    except (YAMLError, RecursionError, ValueError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None, [Problem(Location(path, 1, 1), f"YAML syntax error: {first}")]
    doc = SourceDocument(path=path, text=text, data=None)
    doc.data = _plain(raw, (), doc)
    doc.value_positions.setdefault((), (1, 1))
    return doc, []


def read_source(path: str | Path) -> tuple[SourceDocument | None, list[Problem]]:
    """Read and parse a file; unreadable, binary or non-UTF-8 files are located problems."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        return None, [Problem(Location(name), f"cannot read the file: {e.strerror or e}")]
    if b"\x00" in raw:
        return None, [Problem(Location(name, 1, 1), "not a text file (contains NUL bytes)")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = e.start - (before.rfind(b"\n") + 1) + 1
        return None, [Problem(Location(name, line, column), "not UTF-8 text")]
    return parse_source(text, name)
