"""The enforce tier: checks whose rule the reply's constraint can guarantee, compiled into it.

Each enforceable check type compiles to a :class:`TextRule` piece: strings excluded from the
reply's free text (xgrammar ``any_text`` ``excludes``), a forced start, a forced end, or a
wrapping in quotes. A plan merges the pieces of its checks in order; a piece that would clash
with the ones before it (two different endings, a forced text holding an excluded word, an
excluded word that could straddle free and forced text) is not enforced, and says why. The
checks still run after generation: an enforced check that fails is a defect.

Compilation is bounded: a check whose excluded strings pass :data:`MAX_EXCLUDES` (thousands of
forbidden words, each in every case form) is refused with the reason, never compiled slowly.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from parlantish.checks.base import Check
from parlantish.errors import UserError

__all__ = [
    "COMPILERS",
    "MAX_EXCLUDES",
    "Decision",
    "EnforceError",
    "EnforceMode",
    "Enforcement",
    "TextRule",
    "case_forms",
    "plan_enforcement",
    "resolve_mode",
]

#: ``auto`` enforces what compiles; ``True`` also makes a check that cannot compile an error;
#: ``False`` never enforces.
EnforceMode = Literal["auto"] | bool
Tier = Literal["enforced", "repaired", "reminded", "none"]
#: At most this many excluded strings over a plan's checks, and case forms per word.
MAX_EXCLUDES = 4096
MAX_FORMS_PER_WORD = 256
#: Wall-clock bound of one plan's enforcement compile, in seconds.
COMPILE_SECONDS = 2.0
_WORD = re.compile(r"[^\W_]+(?:[ '\-][^\W_]+)*")
_LEAD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class EnforceError(UserError):
    """A check marked ``enforce: true`` cannot be compiled into the constraint."""


#: A shaped part of the reply: ``("title", "")`` (a ``<<title>>`` line),
#: ``("choice", "A|B")`` (one of the phrases), ``("postscript", marker)`` (a last line opening
#: with the marker). Free words inside one keep the rule's excluded strings out too.
Part = tuple[str, str]
TITLE_TOKENS = 16
POSTSCRIPT_TOKENS = 40
MARK_TOKENS = 12  # the words of one highlight or placeholder
#: At most this many highlights or placeholders are forced (more is refused, with the reason).
MAX_MARKS = 12
#: Free-word budget and fixed text of each kind of shaped part.
_PART_TOKENS = {
    "title": TITLE_TOKENS,
    "postscript": POSTSCRIPT_TOKENS,
    "choice": 0,
    "highlights": MARK_TOKENS,
    "placeholders": MARK_TOKENS,
}
_MARKS = {"highlights": ("*", "*\n", ("\n", "*")), "placeholders": ("[", "] ", ("\n", "[", "]"))}


@dataclass(frozen=True)
class TextRule:
    """What the constraint guarantees about the reply text: ``excludes`` never appear in it,
    it starts with ``prefix`` then the ``opening`` parts and ends with the ``closing`` parts then
    ``suffix`` (all inside the quotes when ``quote``)."""

    excludes: tuple[str, ...] = ()
    prefix: str = ""
    suffix: str = ""
    quote: bool = False
    #: Whether a suffix inside the quotes still satisfies its check (IFEval's end phrase does).
    suffix_in_quote: bool = True
    opening: tuple[Part, ...] = ()
    closing: tuple[Part, ...] = ()

    @property
    def head(self) -> str:
        """Forced text at the start of the reply (before the opening parts)."""
        return ('"' if self.quote else "") + self.prefix

    @property
    def tail(self) -> str:
        """Forced text at the end of the reply (after the closing parts)."""
        return self.suffix + ('"' if self.quote else "")

    @property
    def lead_chars(self) -> str:
        """ASCII letters and digits that start no excluded string (one of them may open free
        text without completing an excluded string across it)."""
        starts = {w[0] for w in self.excludes}
        return "".join(c for c in _LEAD_CHARS if c not in starts)

    @property
    def lead(self) -> str | None:
        """A one-character regex opening the free text when nothing forced keeps the reply from
        being empty (IFEval fails every empty reply): an ASCII letter or digit that starts no
        excluded string. ``None`` when not needed."""
        if (self.head + self.tail).strip() or self.opening or self.closing:
            return None
        return f"[{self.lead_chars}]" if self.lead_chars else None

    @property
    def empty(self) -> bool:
        shaped = self.opening or self.closing
        return not (self.excludes or self.prefix or self.suffix or self.quote or shaped)

    @property
    def forced(self) -> tuple[str, ...]:
        """Every fixed string the rule writes (checked against the excluded strings)."""
        parts = [_fixed(part) for part in (*self.opening, *self.closing)]
        return (self.head, self.tail, *(text for texts in parts for text in texts))

    def _free(self, max_tokens: int, also: tuple[str, ...]) -> list[dict[str, Any]]:
        free: dict[str, Any] = {"type": "any_text", "max_tokens": max_tokens}
        free["excludes"] = list(dict.fromkeys((*self.excludes, *also)))
        return [{"type": "regex", "pattern": f"[{self.lead_chars}]"}, free]

    def part_elements(self, part: Part) -> list[dict[str, Any]]:
        """The format-tree elements of one shaped part."""
        kind, value = part
        if kind == "title":
            inner = self._free(TITLE_TOKENS, ("\n", "<", ">"))
            return [{"type": "const_string", "value": "<<"}, *inner, _const(">>\n")]
        if kind == "choice":
            options = [_const(option + " ") for option in value.split("|")]
            return [{"type": "or", "elements": options}]
        if kind in _MARKS:  # N '*highlight*' lines, or N '[placeholder]'s
            opener, closer, also = _MARKS[kind]
            one = [_const(opener), *self._free(MARK_TOKENS, also), _const(closer)]
            return one * int(value)
        # A postscript: the marker opens a last line of free words.
        return [_const(f"\n{value} "), *self._free(POSTSCRIPT_TOKENS, ("\n",))]

    def opening_elements(self) -> list[dict[str, Any]]:
        return [e for part in self.opening for e in self.part_elements(part)]

    def closing_elements(self) -> list[dict[str, Any]]:
        return [e for part in self.closing for e in self.part_elements(part)]

    @property
    def shaped_tokens(self) -> int:
        """Tokens the opening and closing parts may take (their free words, at most)."""
        parts = (*self.opening, *self.closing)
        fixed = sum(len(text) * _count(part) for part in parts for text in _fixed(part))
        return fixed + sum((_PART_TOKENS[part[0]] + 1) * _count(part) for part in parts)

    def example_start(self) -> str:
        """Text the start of the reply accepts: the forced start, then each opening part."""
        return self.head + "".join(self.part_example(part) for part in self.opening)

    def example_end(self) -> str:
        """Text the end of the reply accepts: each closing part, then the forced end."""
        return "".join(self.part_example(part) for part in self.closing) + self.tail

    def part_example(self, part: Part) -> str:
        """Text one shaped part accepts (for examples and scripted tests)."""
        kind, value = part
        word = self.lead_chars[:1]
        if kind == "title":
            return f"<<{word}>>\n"
        if kind == "choice":
            return value.split("|")[0] + " "
        if kind in _MARKS:
            opener, closer, _ = _MARKS[kind]
            return f"{opener}{word}{closer}" * int(value)
        return f"\n{value} {word}"


def _const(value: str) -> dict[str, Any]:
    return {"type": "const_string", "value": value}


def _count(part: Part) -> int:
    """How many times the part's pieces repeat (marks), else 1."""
    return int(part[1]) if part[0] in _MARKS else 1


def _fixed(part: Part) -> tuple[str, ...]:
    kind, value = part
    if kind == "title":
        return ("<<", ">>\n")
    if kind == "choice":
        return tuple(option + " " for option in value.split("|"))
    if kind in _MARKS:
        return _MARKS[kind][:2]
    return (f"\n{value} ",)


def _merge(rule: TextRule, piece: TextRule) -> TextRule | str:
    """``rule`` and ``piece`` together, or why they clash."""
    prefix, suffix = rule.prefix, rule.suffix
    if piece.prefix:
        if piece.prefix.startswith(prefix):
            prefix = piece.prefix
        elif not prefix.startswith(piece.prefix):
            return f"its start {piece.prefix!r} clashes with the forced start {prefix!r}"
    if piece.suffix:
        if piece.suffix.endswith(suffix):
            suffix = piece.suffix
        elif not suffix.endswith(piece.suffix):
            return f"its ending {piece.suffix!r} clashes with the forced ending {suffix!r}"
    quote = rule.quote or piece.quote
    suffix_in_quote = rule.suffix_in_quote and piece.suffix_in_quote
    if quote and prefix:
        return "a forced start cannot sit inside the quotes"
    if quote and suffix and not suffix_in_quote:
        return "a forced ending (outside the quotes) clashes with the quotes"
    excludes = tuple(dict.fromkeys((*rule.excludes, *piece.excludes)))
    if len(excludes) > MAX_EXCLUDES:
        return f"the plan would exclude {len(excludes)} strings (limit {MAX_EXCLUDES})"
    opening = tuple(dict.fromkeys((*rule.opening, *piece.opening)))
    closing = tuple(dict.fromkeys((*rule.closing, *piece.closing)))
    if len(closing) > 1:
        return "the reply can end with one postscript only"
    if opening and not _lead_chars(excludes):
        return "the excluded strings leave no letter to open the free words with"
    merged = TextRule(excludes, prefix, suffix, quote, suffix_in_quote, opening, closing)
    problem = _straddle(merged)
    return problem if problem else merged


def _straddle(rule: TextRule) -> str | None:
    """Why an excluded string could still appear in the reply (in forced text, or across
    forced and free text), or ``None``."""
    head, tail = rule.head, rule.tail
    forced = rule.forced
    for word in rule.excludes:
        if word in head + tail or any(word in text for text in forced):
            return f"the forced text contains the excluded {word!r}"
        for cut in range(1, len(word)):
            if any(t.endswith(word[:cut]) or t.startswith(word[cut:]) for t in forced if t):
                return f"the excluded {word!r} could run across the forced text"
    if (rule.opening or rule.closing) and not rule.lead_chars:
        return "the excluded strings leave no letter to open the free words with"
    return None


def _lead_chars(excludes: Sequence[str]) -> str:
    return TextRule(excludes=tuple(excludes)).lead_chars


@lru_cache(maxsize=1)
def _case_table() -> dict[str, frozenset[str]]:
    """Character → every character that may read as it with case ignored (by ``str.lower`` or
    a regex's IGNORECASE): a superset, which is what exclusion needs."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for point in range(0x1F000):  # no cased character lies above
        char = chr(point)
        lower, upper = char.lower(), char.upper()
        # ``str.lower`` may read one character as several (U+0130 → "i" + a dot); a regex's
        # IGNORECASE maps one character to one.
        for part in lower:
            found[part].add(char)
        if len(upper) == 1:
            found[upper].add(char)
    return {key: frozenset(value) for key, value in found.items()}


def _char_forms(char: str) -> list[str]:
    table = _case_table()
    forms = {char, char.lower(), char.upper()} if len(char.lower()) == 1 else {char}
    for key in list(forms):
        forms |= table.get(key, frozenset())
    return sorted(f for f in forms if len(f) == 1)


def case_forms(word: str, limit: int = MAX_FORMS_PER_WORD) -> list[str]:
    """Strings whose exclusion keeps ``word`` out of a text in every case form: each case form
    of the longest prefix of ``word`` that has at most ``limit`` of them (excluding a prefix
    also excludes the word)."""
    forms = [""]
    for char in word:
        options = _char_forms(char)
        if len(forms) * len(options) > limit and forms != [""]:
            break
        forms = [f + o for f in forms for o in options]
    return forms


Compiled = TextRule | str  # the piece, or why the check cannot be compiled
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


@dataclass(frozen=True)
class Decision:
    """A check's tier in a plan, before generation, and why."""

    check: str
    enforced: bool
    why: str


@dataclass(frozen=True)
class Enforcement:
    """The checks a plan enforces: their merged rule, and a decision per check."""

    rule: TextRule = field(default_factory=TextRule)
    decisions: tuple[Decision, ...] = ()

    @property
    def enforced(self) -> frozenset[str]:
        return frozenset(d.check for d in self.decisions if d.enforced)

    def holds(self, index: int, name: str) -> bool:
        """Whether the check at ``index`` of the plan's list (named ``name``) is enforced; a
        check not at that place counts only when every check of its name is."""
        if index < len(self.decisions) and self.decisions[index].check == name:
            return self.decisions[index].enforced
        same = [d.enforced for d in self.decisions if d.check == name]
        return bool(same) and all(same)

    def key(self) -> str:
        return repr((self.rule, self.decisions))


def resolve_mode(check: Check, default: EnforceMode) -> EnforceMode:
    """A check's own ``enforce`` setting, else ``default``."""
    own = getattr(check, "enforce", None)
    return default if own is None else own


def _reason(piece: TextRule, doc: str | None) -> str:
    first = (doc or "").strip().splitlines()[0] if doc else "compiled into the constraint"
    first = first.rstrip(".").replace("``", "'")
    return first[:1].lower() + first[1:]


def plan_enforcement(
    checks: Sequence[Check],
    default: EnforceMode,
    *,
    layout_note: str | None = None,
    where: Callable[[int], str] | None = None,
    strict: bool = True,
) -> Enforcement:
    """Which of ``checks`` the reply's constraint enforces, with the merged rule.

    ``default`` applies to checks without their own ``enforce``; ``layout_note`` is why the
    layout cannot take any text rule (e.g. a JSON reply), or ``None`` when it can. A check whose
    mode is ``True`` and that cannot be enforced raises ``EnforceError`` (located by ``where``)
    when ``strict``; otherwise ``True`` reads as ``auto`` (a baseline arm).
    """
    started = time.perf_counter()
    rule = TextRule()
    decisions: list[Decision] = []
    for index, check in enumerate(checks):
        mode = resolve_mode(check, default)
        if mode is True and not strict:
            mode = "auto"
        if mode is False:
            decisions.append(Decision(check.name, False, "enforcement is off"))
            continue
        compiler = COMPILERS.get(check.type.name)
        if layout_note is not None:
            result: Compiled | TextRule = layout_note
        elif compiler is None:
            result = "not expressible as a constraint"
        else:
            result = compiler(check.params)
            if isinstance(result, TextRule):
                merged = _merge(rule, result)
                if isinstance(merged, TextRule):
                    rule = merged
                    why = _reason(result, compiler.__doc__)
                    decisions.append(Decision(check.name, True, why))
                    result = merged
                else:
                    result = merged
        if time.perf_counter() - started > COMPILE_SECONDS:
            result = f"compiling the checks took over {COMPILE_SECONDS:g} s"
            if mode is True:
                raise EnforceError(f"check {check.name!r} cannot be enforced: {result}")
            decisions.append(Decision(check.name, False, result))
            break
        if isinstance(result, str):
            if mode is True:
                at = f"{where(index)}: " if where else ""
                raise EnforceError(
                    f"{at}check {check.name!r} has enforce: true but cannot be enforced: {result}",
                    hint="set enforce: auto (remind where it cannot be enforced) or false",
                )
            decisions.append(Decision(check.name, False, result))
    return Enforcement(rule, tuple(decisions))
