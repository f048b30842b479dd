"""Case in excluded strings: every case form of a word, and the characters a case rule bans."""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

__all__ = ["MAX_FORMS_PER_WORD", "case_forms", "not_lower", "not_upper"]

#: At most this many case forms per excluded word (a longer word is cut to a prefix).
MAX_FORMS_PER_WORD = 256
_LAST_CODE_POINT = 0x10FFFF


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


@lru_cache(maxsize=1)
def not_lower() -> tuple[str, ...]:
    """Every character that keeps a text from ``str.islower()``: the cased characters that are
    not lowercase (a text without them, holding one cased character, is lowercase)."""
    return tuple(c for c in map(chr, range(_LAST_CODE_POINT + 1)) if not ("a" + c).islower())


@lru_cache(maxsize=1)
def not_upper() -> tuple[str, ...]:
    """Every character that keeps a text from ``str.isupper()``: the cased characters that are
    not uppercase."""
    return tuple(c for c in map(chr, range(_LAST_CODE_POINT + 1)) if not ("A" + c).isupper())
