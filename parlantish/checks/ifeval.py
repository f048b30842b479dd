"""The 25 instruction types of IFEval (Zhou et al. 2023), under their IFEval ids and kwargs.

Semantics follow the paper's public reference implementation (google-research,
``instruction_following_eval/instructions.py``), edge cases included; each function's docstring
states its rule. Strict mode checks the response as is; loose mode (``mode: loose``) also
accepts it with its first line, its last line, or both removed, each with and without ``*``.

Where the reference would pick a random argument for a missing kwarg, parlantish asks for it
instead (a missing kwarg is a parameter error), so verdicts are reproducible.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from parlantish.checks.base import CheckParams, register
from parlantish.checks.patterns import pattern_problem, safe_findall, safe_search, safe_split
from parlantish.checks.textutil import count_sentences, count_words, detect_language, word_tokens

__all__ = ["IFEVAL_IDS", "ifeval_verdict", "loose_variants"]

Relation = Literal["less than", "at least"]
Mode = Literal["strict", "loose"]
IFEVAL_IDS: list[str] = []


def _compare(actual: int, relation: str, threshold: int) -> bool:
    return actual < threshold if relation == "less than" else actual >= threshold


def loose_variants(response: str) -> list[str]:
    """The eight texts loose mode tries, in the reference's order."""
    lines = response.split("\n")
    remove_first = "\n".join(lines[1:]).strip()
    remove_last = "\n".join(lines[:-1]).strip()
    remove_both = "\n".join(lines[1:-1]).strip()
    variants = [response, response.replace("*", ""), remove_first, remove_last, remove_both]
    variants += [
        remove_first.replace("*", ""),
        remove_last.replace("*", ""),
        remove_both.replace("*", ""),
    ]
    return variants


def ifeval_verdict(rule: Callable[[str], bool], response: str, mode: Mode) -> bool:
    """IFEval's verdict: a non-empty response (or, loose, any non-empty variant) that follows."""
    candidates = loose_variants(response) if mode == "loose" else [response]
    return any(text.strip() and rule(text) for text in candidates)


def _ifeval(
    instruction_id: str, params: type[CheckParams], locatable: Any = False
) -> Callable[..., Any]:
    """Register ``rule(text, params) -> bool`` as an IFEval check with strict/loose modes."""

    def decorate(rule: Callable[[str, Any], bool]) -> Callable[[str, Any], bool]:
        def check(text: str, bound: Any) -> tuple[bool, str]:
            passed = ifeval_verdict(lambda candidate: rule(candidate, bound), text, bound.mode)
            return passed, "" if passed else f"IFEval {instruction_id} ({bound.mode}) not followed"

        check.__doc__ = rule.__doc__
        register(instruction_id, params, family="ifeval", locatable=locatable)(check)
        IFEVAL_IDS.append(instruction_id)
        return rule

    return decorate


class _Params(CheckParams):
    mode: Mode = Field("strict", description="IFEval strict or loose verdict.")


def _usable(pattern: str) -> str:
    # The reference uses keywords as regexes; one that is not a valid regex is matched literally.
    return pattern if pattern_problem(pattern) is None else re.escape(pattern)


def _search(pattern: str, text: str) -> Any:
    return safe_search(_usable(pattern), text, flags=re.IGNORECASE)


def _findall(pattern: str, text: str) -> list[Any]:
    return safe_findall(_usable(pattern), text, flags=re.IGNORECASE)


# -- keywords ---------------------------------------------------------------------------------


class KeywordsExistence(_Params):
    keywords: list[str]


@_ifeval("keywords:existence", KeywordsExistence)
def keywords_existence(text: str, p: KeywordsExistence) -> bool:
    """Every keyword is found by a case-insensitive regex search (inside longer words too)."""
    return all(_search(keyword, text) for keyword in sorted(p.keywords))


class KeywordsFrequency(_Params):
    keyword: str
    frequency: int
    relation: Relation


@_ifeval("keywords:frequency", KeywordsFrequency, lambda p: p.relation == "less than")
def keywords_frequency(text: str, p: KeywordsFrequency) -> bool:
    """Case-insensitive regex occurrences of the (stripped) keyword: < frequency ("less than")
    or >= frequency ("at least")."""
    return _compare(len(_findall(p.keyword.strip(), text)), p.relation, p.frequency)


class ForbiddenWords(_Params):
    forbidden_words: list[str]


@_ifeval("keywords:forbidden_words", ForbiddenWords, True)
def forbidden_words(text: str, p: ForbiddenWords) -> bool:
    """No forbidden word appears as a whole word (``\\bword\\b``), case-insensitively."""
    return not any(_search(r"\b" + word + r"\b", text) for word in sorted(set(p.forbidden_words)))


class LetterFrequency(_Params):
    letter: str = Field(min_length=1, max_length=1)
    let_frequency: int
    let_relation: Relation


@_ifeval("keywords:letter_frequency", LetterFrequency, lambda p: p.let_relation == "less than")
def letter_frequency(text: str, p: LetterFrequency) -> bool:
    """Occurrences of the letter in the lowercased text, compared with ``let_frequency``."""
    counts = collections.Counter(text.lower())
    return _compare(counts[p.letter.strip().lower()], p.let_relation, p.let_frequency)


# -- language and case -------------------------------------------------------------------------


class ResponseLanguage(_Params):
    language: str


@_ifeval("language:response_language", ResponseLanguage)
def response_language(text: str, p: ResponseLanguage) -> bool:
    """langdetect (seeded) names the expected ISO 639-1 language; undetectable text passes."""
    detected = detect_language(text)
    return detected is None or detected == p.language


def _english_and(cased: bool, text: str) -> bool:
    # The case test comes first and short-circuits, as in the reference.
    if not cased:
        return False
    detected = detect_language(text)
    return detected is None or detected == "en"


@_ifeval("change_case:english_capital", _Params)
def english_capital(text: str, p: _Params) -> bool:
    """``str.isupper()``, and then detected as English (text langdetect cannot place passes)."""
    return _english_and(text.isupper(), text)


@_ifeval("change_case:english_lowercase", _Params)
def english_lowercase(text: str, p: _Params) -> bool:
    """``str.islower()``, and then detected as English (text langdetect cannot place passes)."""
    return _english_and(text.islower(), text)


class CapitalWordFrequency(_Params):
    capital_frequency: int
    capital_relation: Relation


@_ifeval(
    "change_case:capital_word_frequency",
    CapitalWordFrequency,
    lambda p: p.capital_relation == "less than",
)
def capital_word_frequency(text: str, p: CapitalWordFrequency) -> bool:
    """Tokens of ``nltk.word_tokenize`` with ``isupper()``, compared with ``capital_frequency``."""
    capitals = sum(1 for word in word_tokens(text) if word.isupper())
    return _compare(capitals, p.capital_relation, p.capital_frequency)


# -- length --------------------------------------------------------------------------------------


class NumberWords(_Params):
    num_words: int
    relation: Relation


@_ifeval("length_constraints:number_words", NumberWords, lambda p: p.relation == "less than")
def number_words(text: str, p: NumberWords) -> bool:
    """Words are runs of ``\\w`` characters."""
    return _compare(count_words(text), p.relation, p.num_words)


class NumberSentences(_Params):
    num_sentences: int
    relation: Relation


@_ifeval(
    "length_constraints:number_sentences", NumberSentences, lambda p: p.relation == "less than"
)
def number_sentences(text: str, p: NumberSentences) -> bool:
    """Sentences by NLTK's Punkt English tokenizer."""
    return _compare(count_sentences(text), p.relation, p.num_sentences)


class NumberParagraphs(_Params):
    num_paragraphs: int


@_ifeval("length_constraints:number_paragraphs", NumberParagraphs)
def number_paragraphs(text: str, p: NumberParagraphs) -> bool:
    """Paragraphs are split by ``***`` (with one optional space either side); an empty first or
    last piece is not counted, an empty piece in between fails; the count must be exact."""
    paragraphs = re.split(r"\s?\*\*\*\s?", text)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False
    return count == p.num_paragraphs


class NthParagraphFirstWord(_Params):
    num_paragraphs: int
    nth_paragraph: int = Field(ge=1)
    first_word: str


@_ifeval("length_constraints:nth_paragraph_first_word", NthParagraphFirstWord)
def nth_paragraph_first_word(text: str, p: NthParagraphFirstWord) -> bool:
    """Paragraphs split on ``\\n\\n``, empty ones not counted; the count must be exact and the
    nth piece (counted over all pieces) must start with the word, compared in lowercase after
    stripping leading quotes and cutting at the first of ``. , ? ! ' "``."""
    paragraphs = re.split(r"\n\n", text)
    count = len(paragraphs) - sum(1 for paragraph in paragraphs if not paragraph.strip())
    if p.nth_paragraph > count:
        return False
    paragraph = paragraphs[p.nth_paragraph - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for letter in word:
        if letter in {".", ",", "?", "!", "'", '"'}:
            break
        first += letter.lower()
    return count == p.num_paragraphs and first == p.first_word.lower()


# -- detectable content and format ---------------------------------------------------------------


class Placeholders(_Params):
    num_placeholders: int


@_ifeval("detectable_content:number_placeholders", Placeholders)
def number_placeholders(text: str, p: Placeholders) -> bool:
    """At least N non-greedy ``[...]`` spans (on one line)."""
    return len(re.findall(r"\[.*?\]", text)) >= p.num_placeholders


class Postscript(_Params):
    postscript_marker: str


@_ifeval("detectable_content:postscript", Postscript)
def postscript(text: str, p: Postscript) -> bool:
    """A line (lowercased text, multiline search) containing the marker: ``P.S.`` allows
    ``p. s.``-style spacing, ``P.P.S`` likewise; other markers are used as a regex."""
    marker = p.postscript_marker.strip()
    if marker == "P.P.S":
        pattern = r"\s*p\.\s?p\.\s?s.*$"
    elif marker == "P.S.":
        pattern = r"\s*p\.\s?s\..*$"
    else:
        pattern = r"\s*" + marker.lower() + r".*$"
    return bool(safe_findall(_usable(pattern), text.lower(), flags=re.MULTILINE))


class BulletLists(_Params):
    num_bullets: int


@_ifeval("detectable_format:number_bullet_lists", BulletLists)
def number_bullet_lists(text: str, p: BulletLists) -> bool:
    """Exactly N lines starting (after whitespace) with ``*`` not followed by ``*``, or ``-``."""
    stars = re.findall(r"^\s*\*[^\*].*$", text, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", text, flags=re.MULTILINE)
    return len(stars) + len(dashes) == p.num_bullets


@_ifeval("detectable_format:constrained_response", _Params)
def constrained_response(text: str, p: _Params) -> bool:
    """Contains "My answer is yes.", "My answer is no." or "My answer is maybe."."""
    stripped = text.strip()
    return any(
        option in stripped
        for option in ("My answer is yes.", "My answer is no.", "My answer is maybe.")
    )


class Highlights(_Params):
    num_highlights: int


@_ifeval("detectable_format:number_highlighted_sections", Highlights)
def number_highlighted_sections(text: str, p: Highlights) -> bool:
    """``*x*`` spans within a line with non-blank content, plus ``**x**`` spans counted again."""
    count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", text) if h.strip("*").strip())
    count += sum(
        1
        for h in re.findall(r"\*\*[^\n\*]*\*\*", text)
        if h.removeprefix("**").removesuffix("**").strip()
    )
    return count >= p.num_highlights


class Sections(_Params):
    section_spliter: str
    num_sections: int


@_ifeval("detectable_format:multiple_sections", Sections)
def multiple_sections(text: str, p: Sections) -> bool:
    """At least N section markers ``<spliter> <number>`` (case-sensitive, used as a regex)."""
    pattern = r"\s?" + p.section_spliter.strip() + r"\s?\d+\s?"
    return len(safe_split(_usable(pattern), text)) - 1 >= p.num_sections


@_ifeval("detectable_format:json_format", _Params)
def json_format(text: str, p: _Params) -> bool:
    """The text, stripped and without a leading ```` ```json ```` / ```` ``` ```` fence and a
    trailing ```` ``` ````, parses as JSON."""
    value = (
        text.strip()
        .removeprefix("```json")
        .removeprefix("```Json")
        .removeprefix("```JSON")
        .removeprefix("```")
        .removesuffix("```")
        .strip()
    )
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


@_ifeval("detectable_format:title", _Params)
def title(text: str, p: _Params) -> bool:
    """A ``<<title>>`` on one line with non-blank content."""
    return any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", text))


# -- combinations, start and end, punctuation ----------------------------------------------------


@_ifeval("combination:two_responses", _Params)
def two_responses(text: str, p: _Params) -> bool:
    """Split on ``******``: exactly two non-blank, different responses (blank pieces only at
    the ends)."""
    pieces = text.split("******")
    valid = []
    for index, piece in enumerate(pieces):
        if not piece.strip():
            if index not in (0, len(pieces) - 1):
                return False
        else:
            valid.append(piece)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


class RepeatPrompt(_Params):
    prompt_to_repeat: str


@_ifeval("combination:repeat_prompt", RepeatPrompt)
def repeat_prompt(text: str, p: RepeatPrompt) -> bool:
    """The stripped, lowercased text starts with the stripped, lowercased prompt."""
    return text.strip().lower().startswith(p.prompt_to_repeat.strip().lower())


class EndPhrase(_Params):
    end_phrase: str


@_ifeval("startend:end_checker", EndPhrase)
def end_checker(text: str, p: EndPhrase) -> bool:
    """The text, stripped of whitespace then of ``"``, lowercased, ends with the phrase."""
    return text.strip().strip('"').lower().endswith(p.end_phrase.strip().lower())


@_ifeval("startend:quotation", _Params)
def quotation(text: str, p: _Params) -> bool:
    """The stripped text is longer than one character and starts and ends with ``"``."""
    value = text.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'


@_ifeval("punctuation:no_comma", _Params, True)
def no_comma(text: str, p: _Params) -> bool:
    """No ASCII comma anywhere."""
    return "," not in text
