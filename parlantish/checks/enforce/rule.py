"""What a reply's constraint guarantees about its text (:class:`TextRule`), how two rules
merge, and the format-tree elements a rule's shaped parts compile to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BULLET_BODY",
    "MAX_EXCLUDES",
    "MAX_MARKS",
    "Part",
    "TextRule",
    "line_breaks_then",
    "merge",
]

#: At most this many excluded strings over a plan's checks.
MAX_EXCLUDES = 8192
#: At most this many highlights, placeholders or bullets are forced (more is refused).
MAX_MARKS = 12
_LEAD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

#: A shaped part of the reply: ``("title", "")`` (a ``<<title>>`` line), ``("choice", "A|B")``
#: (one of the phrases), ``("highlights" | "placeholders", N)``, ``("responses", "")`` (a first
#: response and the separator before the body, the second), ``("paragraphs", N)`` (N - 1
#: paragraphs, each closed by a ``***`` line: the body is the last), ``("sections", "N|Name")``
#: (headers ``Name 1`` to ``Name N``, each section but the last with its words: the body is the
#: last), ``("bullets", N)`` (N bullet lines closing the reply), ``("postscript", marker)`` (a
#: last line opening with the marker).
Part = tuple[str, str]
#: Free-word budget of each kind of shaped part (per mark, per bullet).
PART_TOKENS = {
    "title": 16,
    "choice": 0,
    "highlights": 12,
    "placeholders": 12,
    "responses": 160,
    "paragraphs": 80,
    "sections": 80,
    "bullets": 30,
    "postscript": 40,
}
#: Opener and closer of each mark, and what a mark's words exclude besides the rule's.
_MARKS = {"highlights": ("*", "*\n", ("\n", "*")), "placeholders": ("[", "] ", ("\n", "[", "]"))}
RESPONSE_OPENER, RESPONSE_SEPARATOR = "Response 1: ", "\n******\nResponse 2: "
BULLET_FIRST, BULLET_NEXT = "\n\n* ", "\n* "
PARAGRAPH_BREAK = "\n***\n"
#: A forced text that would start a bullet line of its own (IFEval's bullet count reads
#: ``^\s*\*[^*]`` and ``^\s*-``; a fragment's start is taken as a line start, conservatively).
_BULLET_LINE = re.compile(r"^\s*[*-]", re.MULTILINE)


def line_breaks_then(*starts: str) -> tuple[str, ...]:
    """Strings whose exclusion keeps every line of a text from opening (after whitespace) with
    one of ``starts``: a line break followed by one of them or by whitespace other than a line
    break (the text's own start is kept by a lead character)."""
    # No character above U+3000 matches ``\s``.
    blanks = [c for c in map(chr, range(0x3001)) if re.match(r"\s", c) and c != "\n"]
    return tuple("\n" + s for s in (*starts, *blanks))


#: What a bullet count keeps out of the free text: lines opening with '*' or '-'.
BULLET_BODY = line_breaks_then("*", "-")


@dataclass(frozen=True)
class TextRule:
    """What the constraint guarantees about the reply text: ``excludes`` never appear in it,
    ``body_excludes`` never in its free body text, it starts with ``prefix`` then the
    ``opening`` parts and ends with the ``closing`` parts then ``suffix`` (all inside the quotes
    when ``quote``)."""

    excludes: tuple[str, ...] = ()
    prefix: str = ""
    suffix: str = ""
    quote: bool = False
    #: Whether a suffix inside the quotes still satisfies its check (IFEval's end phrase does).
    suffix_in_quote: bool = True
    opening: tuple[Part, ...] = ()
    closing: tuple[Part, ...] = ()
    #: Excluded from the free text only (not from the parts' own fixed text): a second
    #: separator, a line that would count as one more bullet. Every stretch of free body text
    #: then opens with a lead character.
    body_excludes: tuple[str, ...] = ()

    @property
    def head(self) -> str:
        """Forced text at the start of the reply (before the opening parts)."""
        return ('"' if self.quote else "") + self.prefix

    @property
    def tail(self) -> str:
        """Forced text at the end of the reply (after the closing parts)."""
        return self.suffix + ('"' if self.quote else "")

    @property
    def free_excludes(self) -> tuple[str, ...]:
        """Every string the free text leaves out."""
        return tuple(dict.fromkeys((*self.excludes, *self.body_excludes)))

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

    def body_lead(self, first: bool) -> str | None:
        """The lead regex of one stretch of free body text (the first, or a later segment)."""
        if self.body_excludes and self.lead_chars:
            return f"[{self.lead_chars}]"
        return self.lead if first else None

    @property
    def empty(self) -> bool:
        shaped = self.opening or self.closing or self.body_excludes
        return not (self.excludes or self.prefix or self.suffix or self.quote or shaped)

    @property
    def forced(self) -> tuple[str, ...]:
        """Every fixed string the rule writes (checked against the excluded strings)."""
        parts = [_fixed(part) for part in (*self.opening, *self.closing)]
        return (self.head, self.tail, *(text for texts in parts for text in texts))

    def body_elements(self, max_tokens: int, *, first: bool) -> list[dict[str, Any]]:
        """Format-tree elements of one stretch of free body text: its lead character where one
        is needed, then text without the excluded strings."""
        lead = self.body_lead(first)
        elements: list[dict[str, Any]] = [{"type": "regex", "pattern": lead}] if lead else []
        free: dict[str, Any] = {"type": "any_text", "max_tokens": max_tokens}
        if self.free_excludes:
            free["excludes"] = list(self.free_excludes)
        return [*elements, free]

    def _words(self, max_tokens: int, also: tuple[str, ...]) -> list[dict[str, Any]]:
        free: dict[str, Any] = {"type": "any_text", "max_tokens": max_tokens}
        free["excludes"] = list(dict.fromkeys((*self.free_excludes, *also)))
        return [{"type": "regex", "pattern": f"[{self.lead_chars}]"}, free]

    def part_elements(self, part: Part) -> list[dict[str, Any]]:
        """The format-tree elements of one shaped part."""
        kind, value = part
        budget = PART_TOKENS[kind]
        if kind == "title":
            inner = self._words(budget, ("\n", "<", ">"))
            return [_const("<<"), *inner, _const(">>\n")]
        if kind == "choice":
            options = [_const(option + " ") for option in value.split("|")]
            return [{"type": "or", "elements": options}]
        if kind in _MARKS:  # N '*highlight*' lines, or N '[placeholder]'s
            opener, closer, also = _MARKS[kind]
            one = [_const(opener), *self._words(budget, also), _const(closer)]
            return one * int(value)
        if kind == "responses":
            words = self._words(budget, ("*",))
            return [_const(RESPONSE_OPENER), *words, _const(RESPONSE_SEPARATOR)]
        if kind == "paragraphs":
            return [*self._words(budget, ("*",)), _const(PARAGRAPH_BREAK)] * (int(value) - 1)
        if kind == "sections":
            count, name = _sections(value)
            section = [*self._words(budget, ("\n",)), _const("\n\n")]
            heads = [[_const(f"{name} {i}\n"), *section] for i in range(1, count)]
            return [*(e for head in heads for e in head), _const(f"{name} {count}\n")]
        if kind == "bullets":
            line = self._words(budget, ("\n",))
            rest = [_const(BULLET_NEXT), *line] * (int(value) - 1)
            return [_const(BULLET_FIRST), *line, *rest]
        # A postscript: the marker opens a last line of free words.
        return [_const(f"\n{value} "), *self._words(budget, ("\n",))]

    def opening_elements(self) -> list[dict[str, Any]]:
        return [e for part in self.opening for e in self.part_elements(part)]

    def closing_elements(self) -> list[dict[str, Any]]:
        return [e for part in self.closing for e in self.part_elements(part)]

    @property
    def shaped_tokens(self) -> int:
        """Tokens the opening and closing parts may take (their free words, at most)."""
        parts = (*self.opening, *self.closing)
        fixed = sum(len(text) * _count(part) for part in parts for text in _fixed(part))
        return fixed + sum((PART_TOKENS[part[0]] + 1) * _count(part) for part in parts)

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
        if kind == "responses":
            return f"{RESPONSE_OPENER}{word}{RESPONSE_SEPARATOR}"
        if kind == "paragraphs":
            return f"{word}{PARAGRAPH_BREAK}" * (int(value) - 1)
        if kind == "sections":
            count, name = _sections(value)
            return "".join(f"{name} {i}\n{word}\n\n" for i in range(1, count)) + f"{name} {count}\n"
        if kind == "bullets":
            return BULLET_FIRST + word + f"{BULLET_NEXT}{word}" * (int(value) - 1)
        return f"\n{value} {word}"


def _const(value: str) -> dict[str, Any]:
    return {"type": "const_string", "value": value}


def _count(part: Part) -> int:
    """How many times the part's pieces repeat (marks, bullets, paragraphs, sections), else 1."""
    if part[0] == "sections":
        return _sections(part[1])[0]
    return int(part[1]) if part[0] in (*_MARKS, "bullets", "paragraphs") else 1


def _sections(value: str) -> tuple[int, str]:
    count, name = value.split("|", 1)
    return int(count), name


def _fixed(part: Part) -> tuple[str, ...]:
    kind, value = part
    if kind == "title":
        return ("<<", ">>\n")
    if kind == "choice":
        return tuple(option + " " for option in value.split("|"))
    if kind in _MARKS:
        return _MARKS[kind][:2]
    if kind == "responses":
        return (RESPONSE_OPENER, RESPONSE_SEPARATOR)
    if kind == "bullets":
        return (BULLET_FIRST, BULLET_NEXT)
    if kind == "paragraphs":
        return (PARAGRAPH_BREAK,)
    if kind == "sections":
        count, name = _sections(value)
        return (*(f"{name} {i}\n" for i in range(1, count + 1)), "\n\n")
    return (f"\n{value} ",)


def merge(rule: TextRule, piece: TextRule) -> TextRule | str:
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
    excludes = _prune(tuple(dict.fromkeys((*rule.excludes, *piece.excludes))))
    body_excludes = tuple(dict.fromkeys((*rule.body_excludes, *piece.body_excludes)))
    if len(excludes) + len(body_excludes) > MAX_EXCLUDES:
        return f"the plan would exclude {len(excludes)} strings (limit {MAX_EXCLUDES})"
    problem = _clash_of_parts(rule, piece)
    if problem:
        return problem
    opening = tuple(dict.fromkeys((*rule.opening, *piece.opening)))
    closing = tuple(sorted(dict.fromkeys((*rule.closing, *piece.closing)), key=_closing_order))
    merged = TextRule(
        excludes, prefix, suffix, quote, suffix_in_quote, opening, closing, body_excludes
    )
    return _straddle(merged)


def _closing_order(part: Part) -> int:
    return 0 if part[0] == "bullets" else 1  # bullets, then the postscript


def _clash_of_parts(rule: TextRule, piece: TextRule) -> str | None:
    """Why the shaped parts of ``rule`` and ``piece`` cannot stand together, or ``None``."""
    parts = {*rule.opening, *rule.closing, *piece.opening, *piece.closing}
    kinds = [kind for kind, _ in parts]
    for kind in ("postscript", "bullets", "responses", "paragraphs", "sections"):
        if kinds.count(kind) > 1:
            return f"the reply can hold one {kind} part only"
    # One side's free-text-only exclusions must not appear in the other side's fixed text.
    for one, other in ((rule, piece), (piece, rule)):
        for word in one.body_excludes:
            if any(word in text for text in other.forced):
                return f"the forced text {word!r} would break a shaped part"
    if "highlights" in kinds:  # a '*' just before one would pair with its opener instead
        own = set(_MARKS["highlights"][:2])
        if any(t.endswith("*") for t in (*rule.forced, *piece.forced) if t not in own):
            return "forced text ending in '*' would take a highlight's opening mark"
    body = {*rule.body_excludes, *piece.body_excludes}
    if set(BULLET_BODY) <= body:  # a bullet count (N = 0 too): no other line may start one
        own = {BULLET_FIRST, BULLET_NEXT}
        forced = (*rule.forced, *piece.forced)
        if any(_BULLET_LINE.search(text) for text in forced if text not in own):
            return "other forced text would start a line counted as a bullet"
    return None


def _prune(excludes: tuple[str, ...]) -> tuple[str, ...]:
    """``excludes`` without the strings that hold an excluded single character (they can no
    longer appear; a case rule bans thousands of characters, a word list would repeat them)."""
    single = {w for w in excludes if len(w) == 1}
    if not single:
        return excludes
    return tuple(w for w in excludes if len(w) == 1 or not any(c in single for c in w))


def _straddle(rule: TextRule) -> TextRule | str:
    """``rule``, or why an excluded string could still appear in the reply (in forced text,
    across forced and free text, or across the end of the body and the closing text)."""
    forced = rule.forced
    single = {w for w in rule.excludes if len(w) == 1}
    if "\n" in single:
        return "segments join at a line break, which is excluded"
    for text in forced:
        found = next((c for c in text if c in single), None)
        if found is not None:
            return f"the forced text contains the excluded {found!r}"
    for word in (w for w in rule.excludes if len(w) > 1):
        if any(word in text for text in forced):
            return f"the forced text contains the excluded {word!r}"
        for cut in range(1, len(word)):
            if any(t.endswith(word[:cut]) or t.startswith(word[cut:]) for t in forced if t):
                return f"the excluded {word!r} could run across the forced text"
        if "\n" in word:  # segments join at a line break
            return f"the excluded {word!r} could form where two segments join"
    # Free text (body or a part's words) may end with anything and opens with a lead letter,
    # so a body exclusion could form across it and any forced text after it (or two forced
    # texts side by side: taken as one of those, conservatively).
    lead = set(rule.lead_chars)
    for word in rule.body_excludes:
        for cut in range(1, len(word)):
            head, rest = word[:cut], word[cut:]
            if any(t.startswith(rest) for t in forced if t) or (
                rest[0] in lead and any(t.endswith(head) for t in forced if t)
            ):
                return f"{word!r} could run across free and forced text"
    if (rule.opening or rule.closing or rule.body_excludes) and not rule.lead_chars:
        return "the excluded strings leave no letter to open the free words with"
    return rule
