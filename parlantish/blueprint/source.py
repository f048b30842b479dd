"""Reading a YAML (or JSON) file into plain data plus the line and column of every node.

ruamel.yaml keeps positions on its round-trip containers; this module copies the data into
plain dicts and lists and records, for each path (a tuple of keys and indexes), where its key
and its value start. Any bytes produce either data or located ``Problem``s, never a traceback.

Files may be hostile, so loading is bounded: before anything is built, one pass over the parser's
events refuses tags (``!!set``, ``!!python/...``), keys that are not scalars, nesting deeper than
``MAX_DEPTH``, and documents whose nodes, aliases expanded, number more than ``MAX_NODES``; NUL
bytes, lone surrogates and other control characters are refused with their line and column.
"""

from __future__ import annotations

import datetime
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceStartEvent,
)

from parlantish.blueprint.files import FileRefused, read_limited
from parlantish.errors import Location

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Problem",
    "SourceDocument",
    "parse_source",
    "read_source",
]

#: Deepest nesting of mappings and lists (aliases expanded).
MAX_DEPTH = 64
#: Most nodes in one document, every alias counted as the nodes it stands for.
MAX_NODES = 100_000
#: Most aliases in one document.
MAX_ALIASES = 1_000
#: Longest number written as digits (Python refuses to convert much longer ones).
MAX_DIGITS = 1_000
_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
}
# What YAML forbids in a stream, plus NUL (reported by name); tab, newlines are fine.
_BAD_CHARACTER = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_BAD_IN_VALUE = re.compile("[\x00\ud800-\udfff]")

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
    if isinstance(node, TaggedScalar):  # `!!str 1`: the only tagged scalar let through
        return str(node.value)
    if isinstance(node, (datetime.date, datetime.datetime)):
        return node.isoformat()  # plain data only: a date is written back as text
    return node


def _describe_character(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL byte"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X})"
    return f"the control character U+{code:04X}"


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _character_problem(text: str, path: str) -> Problem | None:
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return None
    where = Location(path, *_position(text, found.start()))
    return Problem(where, f"the file contains {_describe_character(found.group())}")


class _Bounds:
    """One pass over the parser's events: refuse what loading must not build."""

    def __init__(self, path: str):
        self.path = path
        self.nodes = 0
        self.aliases = 0
        # Per open collection: is it a mapping, is its next node a key, its depth.
        self.stack: list[list[bool]] = []
        # Per anchor: (nodes it stands for, nesting depth below it).
        self.anchors: dict[str, tuple[int, int]] = {}
        self.open: list[tuple[str | None, int, int]] = []  # (anchor, nodes at start, max depth)

    def problem(self, event: Any, message: str) -> Problem:
        mark = event.start_mark
        return Problem(Location(self.path, mark.line + 1, mark.column + 1), message)

    def _grow(self, event: Any, nodes: int, depth: int) -> Problem | None:
        self.nodes += nodes
        if self.nodes > MAX_NODES:
            return self.problem(
                event,
                f"the document has more than {MAX_NODES} nodes "
                "(aliases counted as what they stand for)",
            )
        total = len(self.stack) + depth
        if total > MAX_DEPTH:
            return self.problem(event, f"nesting is deeper than {MAX_DEPTH} levels")
        if self.open:
            anchor, start, deepest = self.open[-1]
            self.open[-1] = (anchor, start, max(deepest, total))
        return None

    def _key_problem(self, event: Any) -> Problem | None:
        if not self.stack or not self.stack[-1][0]:
            return None
        frame = self.stack[-1]
        is_key, frame[1] = frame[1], not frame[1]
        if not is_key:
            return None
        if isinstance(event, AliasEvent):
            return self.problem(event, "an alias cannot be used as a key")
        if not isinstance(event, ScalarEvent):
            return self.problem(event, "a key must be a plain value, not a mapping or a list")
        return None

    def _scalar_problem(self, event: ScalarEvent) -> Problem | None:
        value = event.value
        bad = _BAD_IN_VALUE.search(value)
        if bad is not None:
            return self.problem(event, f"the value contains {_describe_character(bad.group())}")
        plain = event.style is None
        if plain and len(value) > MAX_DIGITS and value.lstrip("+-").replace("_", "").isdigit():
            return self.problem(event, f"a number longer than {MAX_DIGITS} digits")
        return None

    def feed(self, event: Any) -> Problem | None:
        if isinstance(event, NodeEvent):
            problem = self._key_problem(event)
            if problem:
                return problem
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _PLAIN_TAGS and tag != "!":
                return self.problem(event, f"the tag {tag} is not allowed (plain data only)")
        if isinstance(event, AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                return self.problem(event, f"the document has more than {MAX_ALIASES} aliases")
            nodes, depth = self.anchors.get(event.anchor, (1, 0))
            return self._grow(event, nodes, depth)
        if isinstance(event, ScalarEvent):
            problem = self._scalar_problem(event) or self._grow(event, 1, 0)
            if event.anchor is not None:
                self.anchors[event.anchor] = (1, 0)
            return problem
        if isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            problem = self._grow(event, 1, 1)
            self.stack.append([isinstance(event, MappingStartEvent), True])
            self.open.append((event.anchor, self.nodes, len(self.stack)))
            return problem
        if isinstance(event, CollectionEndEvent) and self.stack:
            self.stack.pop()
            anchor, start, deepest = self.open.pop()
            if self.open:
                outer = self.open[-1]
                self.open[-1] = (outer[0], outer[1], max(outer[2], deepest))
            if anchor is not None:
                self.anchors[anchor] = (self.nodes - start + 1, deepest - len(self.stack))
        return None


def _bounds_problem(yaml: YAML, text: str, path: str) -> Problem | None:
    bounds = _Bounds(path)
    for event in yaml.parse(io.StringIO(text)):
        problem = bounds.feed(event)
        if problem is not None:
            return problem
    return None


def parse_source(text: str, path: str = "<string>") -> tuple[SourceDocument | None, list[Problem]]:
    """Parse YAML/JSON text; returns the document, or ``None`` and the problems."""
    if not text.strip():
        return None, [
            Problem(Location(path, 1, 1), "the file is empty (expected a blueprint mapping)")
        ]
    character = _character_problem(text, path)
    if character is not None:
        return None, [character]
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        bounds = _bounds_problem(yaml, text, path)
        if bounds is not None:
            return None, [bounds]
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


def read_source(
    path: str | Path, *, limit: int | None = None
) -> tuple[SourceDocument | None, list[Problem]]:
    """Read and parse a file; unreadable, binary or non-UTF-8 files, files that are not
    regular or are over ``limit`` bytes are located problems."""
    name = str(path)
    try:
        raw = read_limited(path, limit)
    except FileRefused as e:
        return None, [Problem(Location(name), e.message)]
    except OSError as e:
        return None, [Problem(Location(name), f"cannot read the file: {e.strerror or e}")]
    if b"\x00" in raw:
        index = raw.index(b"\x00")
        before = raw[:index]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        return None, [Problem(Location(name, line, column), "not a text file (contains NUL bytes)")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        before = raw[: e.start]
        line = before.count(b"\n") + 1
        column = e.start - (before.rfind(b"\n") + 1) + 1
        return None, [Problem(Location(name, line, column), "not UTF-8 text")]
    return parse_source(text, name)
