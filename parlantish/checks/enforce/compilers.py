"""Per check type, how it compiles into the reply's constraint: a :class:`TextRule` piece, a
:class:`Partial` one (the constraint holds part of the check, the rest is reminded), or the
reason it cannot compile."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from parlantish.checks.enforce.case import case_forms, not_lower, not_upper
from parlantish.checks.enforce.rule import BULLET_BODY, MAX_EXCLUDES, MAX_MARKS, TextRule

__all__ = ["COMPILERS", "CONSTRAINED", "Compiled", "Partial"]

_WORD = re.compile(r"[^\W_]+(?:[ '\-][^\W_]+)*")


@dataclass(frozen=True)
class Partial:
    """A piece the constraint takes although it guarantees only part of the check (``left``
    says what it does not): the check stays at the remind tier."""

    piece: TextRule
    left: str


Compiled = TextRule | Partial | str  # the piece, or why the check cannot be compiled
Compiler = Callable[[Any], Compiled]
COMPILERS: dict[str, Compiler] = {}


def _compiles(*names: str) -> Callable[[Compiler], Compiler]:
    def decorate(function: Compiler) -> Compiler:
        for name in names:
            COMPILERS[name] = function
        return function

    return decorate


@_compiles("punctuation:no_comma")
def _no_comma(p: Any) -> Compiled:
    """Excluded from the reply text: ``,``."""
    return TextRule(excludes=(",",))


def _excluded_words(words: Iterable[str]) -> Compiled:
    excludes: list[str] = []
    for word in sorted(set(words)):
        if "\u0307" in word.lower() or not _WORD.fullmatch(word.strip()):
            return f"{word!r} is not a plain word or phrase"
        excludes.extend(case_forms(word.strip()))
        if len(excludes) > MAX_EXCLUDES:
            return f"too many strings to exclude (over {MAX_EXCLUDES} case forms)"
    return TextRule(excludes=tuple(excludes))


@_compiles("keywords:forbidden_words")
def _forbidden_words(p: Any) -> Compiled:
    """Excluded from the reply text: every case form of each word (or of its first letters)."""
    return _excluded_words(p.forbidden_words)


@_compiles("keywords:frequency")
def _rare_keyword(p: Any) -> Compiled:
    """Excluded from the reply text: every case form of the keyword, so it appears fewer than
    the given number of times."""
    if p.relation != "less than":
        return "'at least' asks for words to be written, which a constraint cannot choose well"
    if p.frequency < 1:
        return f"fewer than {p.frequency} occurrences cannot be met"
    return _excluded_words([p.keyword.strip()])


@_compiles("keywords:letter_frequency")
def _rare_letter(p: Any) -> Compiled:
    """Excluded from the reply text: every case form of the letter, so it appears fewer than
    the given number of times."""
    letter = p.letter.strip().lower()
    if p.let_relation != "less than":
        return "'at least' asks for letters to be written, which a constraint cannot choose well"
    if p.let_frequency < 1:
        return f"fewer than {p.let_frequency} occurrences cannot be met"
    if len(letter) != 1:
        return "the letter is whitespace or reads as several characters"
    return TextRule(excludes=tuple(case_forms(letter)))


@_compiles("not_contains")
def _not_contains(p: Any) -> Compiled:
    """Excluded from the reply text: the text (in every case form unless case-sensitive)."""
    if p.case_sensitive:
        return TextRule(excludes=(p.text,))
    if "\u0307" in p.text.lower() or len(p.text) > 200:
        return "the text is too long or has a combining dot"
    return TextRule(excludes=tuple(case_forms(p.text.lower())))


@_compiles("startend:end_checker")
def _end_phrase(p: Any) -> Compiled:
    """Forced at the end of the reply: the end phrase."""
    phrase = p.end_phrase.strip()
    if phrase.startswith('"') or phrase.endswith('"'):
        return "an end phrase in quotes is read without its quotes"
    return TextRule(suffix=phrase)


@_compiles("ends_with")
def _ends_with(p: Any) -> Compiled:
    """Forced at the end of the reply: the text."""
    if p.text != p.text.rstrip():
        return "the text ends in whitespace, which the check strips"
    return TextRule(suffix=p.text, suffix_in_quote=False)


@_compiles("combination:repeat_prompt")
def _repeat_prompt(p: Any) -> Compiled:
    """Forced at the start of the reply: the request, repeated word for word."""
    return TextRule(prefix=p.prompt_to_repeat.strip())


@_compiles("starts_with")
def _starts_with(p: Any) -> Compiled:
    """Forced at the start of the reply: the text."""
    if p.text != p.text.lstrip():
        return "the text starts with whitespace, which the check strips"
    return TextRule(prefix=p.text)


@_compiles("startend:quotation")
def _quotation(p: Any) -> Compiled:
    """Forced: a ``"`` opening and closing the reply."""
    return TextRule(quote=True)


@_compiles("detectable_format:title")
def _title(p: Any) -> Compiled:
    """Forced: a '<<title>>' line opening the reply, its words free."""
    return TextRule(opening=(("title", ""),))


CONSTRAINED = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@_compiles("detectable_format:constrained_response")
def _constrained(p: Any) -> Compiled:
    """Forced: the reply opens with one of IFEval's three answers (the model picks which)."""
    return TextRule(opening=(("choice", "|".join(CONSTRAINED)),))


def _marks(kind: str, count: int) -> Compiled:
    if count > MAX_MARKS:
        return f"forcing {count} of them is refused (at most {MAX_MARKS})"
    return TextRule(opening=((kind, str(max(count, 1))),))


@_compiles("detectable_format:number_highlighted_sections")
def _highlights(p: Any) -> Compiled:
    """Forced: the reply opens with the asked number of '*highlighted*' lines, their words
    free."""
    return _marks("highlights", p.num_highlights)


@_compiles("detectable_content:number_placeholders")
def _placeholders(p: Any) -> Compiled:
    """Forced: the reply opens with the asked number of '[placeholders]', their words free."""
    return _marks("placeholders", p.num_placeholders)


@_compiles("detectable_content:postscript")
def _postscript(p: Any) -> Compiled:
    """Forced: a last line opening with the postscript marker, its words free."""
    marker = p.postscript_marker.strip()
    if not marker or "\n" in marker or len(marker) > 40:
        return "the marker is empty, too long or spans lines"
    known = {"P.S.": r"\s*p\.\s?s\..*$", "P.P.S": r"\s*p\.\s?p\.\s?s.*$"}
    pattern = known.get(marker, r"\s*" + marker.lower() + r".*$")
    try:
        found = re.search(pattern, f"\n{marker} x".lower(), flags=re.MULTILINE)
    except re.error:
        found = re.search(re.escape(marker.lower()), f"\n{marker} x".lower())
    if not found:
        return "the marker, read as the check reads it, does not find itself"
    return TextRule(closing=(("postscript", marker),))


@_compiles("change_case:english_lowercase")
def _lowercase(p: Any) -> Compiled:
    """Excluded from the reply text: every cased character that is not lowercase."""
    return Partial(TextRule(excludes=not_lower()), "langdetect's English verdict is reminded")


@_compiles("change_case:english_capital")
def _capital(p: Any) -> Compiled:
    """Excluded from the reply text: every cased character that is not uppercase."""
    return Partial(TextRule(excludes=not_upper()), "langdetect's English verdict is reminded")


@_compiles("detectable_format:number_bullet_lists")
def _bullets(p: Any) -> Compiled:
    """Forced: the asked number of '* ' bullet lines closing the reply, their words free; no
    other line can open with '*' or '-'."""
    body = BULLET_BODY
    if p.num_bullets < 1:
        return TextRule(body_excludes=body)
    if p.num_bullets > MAX_MARKS:
        return f"forcing {p.num_bullets} bullets is refused (at most {MAX_MARKS})"
    return TextRule(closing=(("bullets", str(p.num_bullets)),), body_excludes=body)


@_compiles("combination:two_responses")
def _two_responses(p: Any) -> Compiled:
    """Forced: 'Response 1: ' and its words, the '******' separator and 'Response 2: ' opening
    the second (the rest of the reply), which holds no other separator."""
    return TextRule(opening=(("responses", ""),), body_excludes=("******",))


@_compiles("length_constraints:number_paragraphs")
def _paragraphs(p: Any) -> Compiled:
    """Forced: the asked number of paragraphs, each but the last (the body) closed by a '***'
    line, their words free; no other '***' can be written."""
    if p.num_paragraphs < 1:
        return "no reply has fewer than one paragraph"
    if p.num_paragraphs > MAX_MARKS:
        return f"forcing {p.num_paragraphs} paragraphs is refused (at most {MAX_MARKS})"
    opening = (("paragraphs", str(p.num_paragraphs)),) if p.num_paragraphs > 1 else ()
    return TextRule(opening=opening, body_excludes=("***",))


@_compiles("detectable_format:multiple_sections")
def _sections(p: Any) -> Compiled:
    """Forced: section headers 'Name 1' to 'Name N', each section's words free (the last
    section is the body)."""
    name = p.section_spliter.strip()
    if not re.fullmatch(r"[A-Za-z]{1,40}", name):
        return "the section name is not a plain word (it is read as a regex)"
    if p.num_sections > MAX_MARKS:
        return f"forcing {p.num_sections} sections is refused (at most {MAX_MARKS})"
    return TextRule(opening=(("sections", f"{max(p.num_sections, 1)}|{name}"),))
