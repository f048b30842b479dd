"""General checks on text: presence, patterns, JSON, counts, case, language, lists.

Counting uses the same definitions as IFEval (words are ``\\w+`` runs, sentences come from Punkt,
bullets are lines starting with ``*`` or ``-``), so a blueprint check and an IFEval check agree.
Paragraphs here are blocks separated by blank lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
from pydantic import Field, field_validator, model_validator

from parlantish.checks.base import CheckParams, register
from parlantish.checks.patterns import pattern_problem, safe_search, safe_validator
from parlantish.checks.textutil import count_sentences, count_words, detect_language

__all__ = ["COUNTERS", "CountParams"]


class TextParams(CheckParams):
    text: str = Field(min_length=1)
    case_sensitive: bool = False


def _find(haystack: str, needle: str, case_sensitive: bool) -> bool:
    return needle in haystack if case_sensitive else needle.lower() in haystack.lower()


@register("contains", TextParams, family="text", primary="text")
def contains(text: str, p: TextParams) -> tuple[bool, str]:
    """The text contains ``text`` (case-insensitive unless ``case_sensitive``)."""
    found = _find(text, p.text, p.case_sensitive)
    return found, "" if found else f"{p.text!r} not found"


@register("not_contains", TextParams, family="text", primary="text", locatable=True)
def not_contains(text: str, p: TextParams) -> tuple[bool, str]:
    """The text does not contain ``text`` (case-insensitive unless ``case_sensitive``)."""
    found = _find(text, p.text, p.case_sensitive)
    return not found, f"{p.text!r} found" if found else ""


class PatternParams(CheckParams):
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        problem = pattern_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


@register("matches", PatternParams, family="text", primary="pattern")
def matches(text: str, p: PatternParams) -> tuple[bool, str]:
    """The regex is found somewhere in the text (``re.search``; use ``(?i)`` etc. for flags)."""
    found = safe_search(p.pattern, text)
    return bool(found), "" if found else f"no match for {p.pattern!r}"


@register("not_matches", PatternParams, family="text", primary="pattern", locatable=True)
def not_matches(text: str, p: PatternParams) -> tuple[bool, str]:
    """The regex is found nowhere in the text."""
    found = safe_search(p.pattern, text)
    return not found, f"matched {found.group(0)[:80]!r} at {found.start()}" if found else ""


class NoParams(CheckParams):
    pass


@register("json_valid", NoParams, family="text")
def json_valid(text: str, p: NoParams) -> tuple[bool, str]:
    """The whole text (surrounding whitespace aside) is one JSON value."""
    try:
        json.loads(text)
    except ValueError as e:
        return False, f"not JSON: {e}"
    return True, ""


class SchemaParams(CheckParams):
    schema_: dict[str, Any] = Field(alias="schema")

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        jsonschema.validators.validator_for(value).check_schema(value)
        return value


@register("json_schema", SchemaParams, family="text", primary="schema")
def json_schema(text: str, p: SchemaParams) -> tuple[bool, str]:
    """The text is JSON valid against ``schema``."""
    try:
        value = json.loads(text)
    except ValueError as e:
        return False, f"not JSON: {e}"
    error = jsonschema.exceptions.best_match(safe_validator(p.schema_).iter_errors(value))
    if error is None:
        return True, ""
    return False, f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"


class CountParams(CheckParams):
    """Bounds on a count; give at least one."""

    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)
    exactly: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> CountParams:
        if self.at_least is None and self.at_most is None and self.exactly is None:
            raise ValueError("give at_least, at_most or exactly")
        return self

    def holds(self, count: int) -> bool:
        return (
            (self.at_least is None or count >= self.at_least)
            and (self.at_most is None or count <= self.at_most)
            and (self.exactly is None or count == self.exactly)
        )


class BoundParams(CheckParams):
    n: int = Field(ge=0)


def _paragraphs(text: str) -> int:
    return sum(1 for block in re.split(r"\n\s*\n", text) if block.strip())


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE)) + len(
        re.findall(r"^\s*-.*$", text, flags=re.MULTILINE)
    )


def _numbered(text: str) -> int:
    return len(re.findall(r"^\s*\d+[.)]\s", text, flags=re.MULTILINE))


def _placeholders(text: str) -> int:
    return len(re.findall(r"\[.*?\]", text))


def _sections(text: str) -> int:
    return len(re.split(r"\s?(?:Section|SECTION)\s?\d+\s?", text)) - 1


#: What each count check counts: name → (counter, unit).
COUNTERS: dict[str, tuple[Callable[[str], int], str]] = {
    "words": (count_words, "words"),
    "sentences": (count_sentences, "sentences"),
    "paragraphs": (_paragraphs, "paragraphs"),
    "characters": (len, "characters"),
    "bullets": (_bullets, "bullet lines"),
    "numbered_items": (_numbered, "numbered lines"),
    "placeholders": (_placeholders, "[placeholders]"),
    "sections": (_sections, "'Section N' markers"),
}


def _register_counts(name: str, counter: Callable[[str], int], unit: str) -> None:
    def bounded(text: str, p: CountParams) -> tuple[bool, str]:
        count = counter(text)
        return p.holds(count), f"{count} {unit}"

    bounded.__doc__ = f"The number of {unit} is within the bounds (at_least, at_most, exactly)."
    register(
        f"{name}_count",
        CountParams,
        family="count",
        locatable=lambda p: p.at_least is None and p.exactly is None,
    )(bounded)

    def at_most(text: str, p: BoundParams) -> tuple[bool, str]:
        count = counter(text)
        return count <= p.n, f"{count} {unit}"

    def at_least(text: str, p: BoundParams) -> tuple[bool, str]:
        count = counter(text)
        return count >= p.n, f"{count} {unit}"

    at_most.__doc__ = f"At most n {unit}."
    at_least.__doc__ = f"At least n {unit}."
    register(f"max_{name}", BoundParams, family="count", primary="n", locatable=True)(at_most)
    register(f"min_{name}", BoundParams, family="count", primary="n")(at_least)


for _name, (_counter, _unit) in COUNTERS.items():
    _register_counts(_name, _counter, _unit)


@register("starts_with", TextParams, family="text", primary="text")
def starts_with(text: str, p: TextParams) -> bool:
    """The text, leading whitespace removed, starts with ``text``."""
    head = text.lstrip()
    return head.startswith(p.text) if p.case_sensitive else head.lower().startswith(p.text.lower())


@register("ends_with", TextParams, family="text", primary="text")
def ends_with(text: str, p: TextParams) -> bool:
    """The text, trailing whitespace removed, ends with ``text``."""
    tail = text.rstrip()
    return tail.endswith(p.text) if p.case_sensitive else tail.lower().endswith(p.text.lower())


class LanguageParams(CheckParams):
    code: str = Field(min_length=2, max_length=8, description="ISO 639-1 code, e.g. en, fr")


@register("language", LanguageParams, family="text", primary="code")
def language(text: str, p: LanguageParams) -> tuple[bool, str]:
    """langdetect (seeded, deterministic) names the language ``code``; text it cannot place
    fails here (unlike IFEval's rule, which lets it pass)."""
    detected = detect_language(text)
    return detected == p.code, f"detected {detected or 'nothing'}"


@register("lowercase", NoParams, family="text", locatable=True)
def lowercase(text: str, p: NoParams) -> bool:
    """Every cased character is lowercase, and there is at least one (``str.islower``)."""
    return text.islower()


@register("uppercase", NoParams, family="text", locatable=True)
def uppercase(text: str, p: NoParams) -> bool:
    """Every cased character is uppercase, and there is at least one (``str.isupper``)."""
    return text.isupper()


class WordsParams(CheckParams):
    words: list[str] = Field(min_length=1)


@register("forbidden_words", WordsParams, family="text", primary="words", locatable=True)
def forbidden_words(text: str, p: WordsParams) -> tuple[bool, str]:
    """None of the words appears as a whole word, case-insensitively."""
    found = [
        w for w in p.words if re.search(r"\b" + re.escape(w) + r"\b", text, flags=re.IGNORECASE)
    ]
    return not found, f"found {found}" if found else ""


@register("no_comma", NoParams, family="text", locatable=True)
def no_comma(text: str, p: NoParams) -> bool:
    """No ASCII comma."""
    return "," not in text


@register("quoted", NoParams, family="text")
def quoted(text: str, p: NoParams) -> bool:
    """The stripped text is wrapped in double quotes (and longer than one character)."""
    value = text.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


class DegenerationParams(CheckParams):
    ngram: int = Field(4, ge=1, le=32, description="words per n-gram")
    max_repeats: int = Field(4, ge=1, description="most occurrences allowed for one n-gram")
    max_run: int = Field(24, ge=2, description="longest run of a repeated 1-4 character unit")


# A unit of one to four characters repeated back to back ("!!!!", "\n\n\n", "hahaha", "2 2 2 ").
_RUN = re.compile(r"(.{1,4}?)\1+", flags=re.DOTALL)


@register("not_degenerate", DegenerationParams, family="text", locatable=True)
def not_degenerate(text: str, p: DegenerationParams) -> tuple[bool, str]:
    """The text does not loop: no word n-gram (``ngram`` words, case-insensitive) occurs more
    than ``max_repeats`` times, and no unit of 1-4 characters repeats back to back over more
    than ``max_run`` characters. Small models at low temperature fall into such loops."""
    for run in _RUN.finditer(text):
        if len(run.group(0)) > p.max_run:
            return False, f"{run.group(1)!r} repeated over {len(run.group(0))} characters"
    words = [w.lower() for w in re.findall(r"\w+", text)]
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - p.ngram + 1):
        gram = tuple(words[i : i + p.ngram])
        counts[gram] = counts.get(gram, 0) + 1
    if counts:
        gram, count = max(counts.items(), key=lambda item: item[1])
        if count > p.max_repeats:
            return False, f"{' '.join(gram)!r} occurs {count} times"
    return True, ""
