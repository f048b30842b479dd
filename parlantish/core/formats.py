"""Structural-tag format trees, and their translations.

A layout describes its output once, as an xgrammar structural-tag ``format`` tree
(``sequence``, ``const_string``, ``regex``, ``json_schema``, ``any_text``, ``optional``, ``or``,
``tag``). Each target gets one translation of that tree: the tree itself (xgrammar structural
tags), :func:`format_to_lark` (an llguidance Lark grammar), and :func:`format_error` (an
engine-free conformance check, used by the scripted backend to refuse text the constraint could
not have produced).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema

__all__ = ["format_error", "format_to_lark"]

# A generous ceiling on characters per token, to bound ``any_text`` without a tokenizer.
MAX_CHARS_PER_TOKEN = 32


def _lark_literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def format_to_lark(fmt: dict[str, Any]) -> str:
    """An llguidance Lark grammar equivalent to a structural-tag format tree."""
    rules: list[str] = []

    def emit(node: dict[str, Any]) -> str:
        kind = node["type"]
        if kind == "const_string":
            return _lark_literal(node["value"])
        if kind == "regex":
            return "/" + node["pattern"].replace("/", "\\/") + "/"
        if kind == "any_text":
            if node.get("excludes") or node.get("max_chars") is not None:
                raise ValueError("no Lark form for any_text with excludes or max_chars")
            name = f"text_{len(rules)}"
            options = f"[max_tokens={node['max_tokens']}]" if node.get("max_tokens") else ""
            rules.append(f"{name}{options}: /(?s:.*)/")
            return name
        if kind == "json_schema":
            name = f"json_{len(rules)}"
            rules.append(f"{name}: %json {json.dumps(node['json_schema'])}")
            return name
        if kind == "sequence":
            return " ".join(emit(e) for e in node["elements"]) or '""'
        if kind == "optional":
            return f"({emit(node['content'])})?"
        if kind == "or":
            return "(" + " | ".join(emit(e) for e in node["elements"]) + ")"
        if kind == "tag":
            inner = emit(node["content"])
            return f"{_lark_literal(node['begin'])} {inner} {_lark_literal(node['end'])}"
        raise ValueError(f"no Lark form for structural-tag element {kind!r}")

    start = emit(fmt)
    return "\n".join([f"start: {start}", *rules]) + "\n"


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class _Matcher:
    """Every way a text can be read by a format tree, by memoised backtracking: ``ends(node,
    position)`` lists the offsets where ``node`` can end when it starts at ``position``."""

    def __init__(self, text: str):
        self.text = text
        self.memo: dict[tuple[int, int], list[int]] = {}
        self.sequences: dict[tuple[int, int, int], list[int]] = {}
        self.problem: tuple[int, str] | None = None  # the furthest point reached, and why

    def note(self, position: int, why: str) -> None:
        if self.problem is None or position >= self.problem[0]:
            self.problem = (position, why)

    def ends(self, node: dict[str, Any], position: int) -> list[int]:
        key = (id(node), position)
        if key not in self.memo:
            self.memo[key] = sorted(set(self._ends(node, position)), reverse=True)
        return self.memo[key]

    def _ends(self, node: dict[str, Any], position: int) -> Iterator[int]:
        text, kind = self.text, node.get("type")
        if kind == "const_string":
            value = node["value"]
            if text.startswith(value, position):
                yield position + len(value)
            else:
                found = text[position : position + len(value)]
                self.note(position, f"expected {value!r}, found {found!r}")
        elif kind == "regex":
            pattern = _regex(node["pattern"])
            matched = False
            for end in range(len(text), position - 1, -1):
                # On the slice: with a start position, ``^`` would not match there.
                if pattern.fullmatch(text[position:end]):
                    matched = True
                    yield end
            if not matched:
                self.note(position, f"expected text matching /{node['pattern']}/")
        elif kind == "any_text":
            longest = len(text)
            limit = node.get("max_tokens")
            if limit is not None:
                longest = min(longest, position + limit * MAX_CHARS_PER_TOKEN)
            if node.get("max_chars") is not None:
                longest = min(longest, position + node["max_chars"])
            for excluded in node.get("excludes", ()):
                # The text may stop just short of completing the first excluded string.
                hit = text.find(excluded, position)
                if hit >= 0 and hit + len(excluded) - 1 < longest:
                    longest = hit + len(excluded) - 1
                    self.note(hit, f"excluded text {excluded!r}")
            yield from range(longest, position - 1, -1)
        elif kind == "json_schema":
            yield from self._json(node["json_schema"], position)
        elif kind == "sequence":
            yield from self._sequence(node.get("elements", []), 0, position)
        elif kind == "optional":
            yield from self.ends(node["content"], position)
            yield position
        elif kind == "or":
            for element in node.get("elements", []):
                yield from self.ends(element, position)
        elif kind == "tag":
            begin, end_text = node.get("begin", ""), node.get("end", "")
            if not text.startswith(begin, position):
                self.note(position, f"expected {begin!r}")
                return
            for inner in self.ends(node["content"], position + len(begin)):
                if text.startswith(end_text, inner):
                    yield inner + len(end_text)
                else:
                    self.note(inner, f"expected {end_text!r}")
        else:
            raise ValueError(f"unknown structural-tag element {kind!r}")

    def _sequence(self, elements: list[dict[str, Any]], index: int, position: int) -> list[int]:
        if index == len(elements):
            return [position]
        key = (id(elements), index, position)
        if key not in self.sequences:
            found: set[int] = set()
            for end in self.ends(elements[index], position):
                found.update(self._sequence(elements, index + 1, end))
            self.sequences[key] = sorted(found, reverse=True)
        return self.sequences[key]

    def _json(self, schema: dict[str, Any], position: int) -> Iterator[int]:
        try:
            value, end = json.JSONDecoder().raw_decode(self.text, position)
        except ValueError as e:
            self.note(position, f"expected JSON: {e}")
            return
        error = jsonschema.exceptions.best_match(
            jsonschema.validators.validator_for(schema)(schema).iter_errors(value)
        )
        if error is not None:
            self.note(position, f"JSON does not match its schema: {error.message}")
            return
        yield end


def format_error(fmt: dict[str, Any], text: str) -> str | None:
    """Why ``text`` cannot be produced under the format tree ``fmt``, or ``None`` when it can.

    ``any_text`` bounds in tokens are checked loosely (at most ``MAX_CHARS_PER_TOKEN``
    characters per token), since no tokenizer is at hand; its ``excludes`` (strings that must
    not appear in it) and ``max_chars`` are checked exactly."""
    matcher = _Matcher(text)
    if len(text) in matcher.ends(fmt, 0):
        return None
    if matcher.problem is None:
        return "the text goes on past the end of the format"
    position, why = matcher.problem
    return f"at offset {position}: {why}"
