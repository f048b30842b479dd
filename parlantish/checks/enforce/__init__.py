"""The enforce tier: checks whose rule the reply's constraint can guarantee, compiled into it.

Each enforceable check type compiles to a :class:`TextRule` piece (``compilers``): strings
excluded from the reply's free text (xgrammar ``any_text`` ``excludes``), a forced start or
end, a wrapping in quotes, or shaped parts (a title, bullet lines, a postscript) whose words
stay free. A plan merges the pieces of its checks in order (``plan``); a piece that would clash
with the ones before it (two different endings, a forced text holding an excluded word, an
excluded word that could straddle free and forced text) is not enforced, and says why. A piece
that holds only part of its check (the case of the letters, not the language langdetect reads)
shapes the text yet leaves the check reminded. The checks still run after generation: an
enforced check that fails is a defect.

Compilation is bounded: a plan whose excluded strings pass :data:`MAX_EXCLUDES` (thousands of
forbidden words, each in every case form) is refused with the reason, never compiled slowly.
"""

from parlantish.checks.enforce.case import MAX_FORMS_PER_WORD, case_forms
from parlantish.checks.enforce.compilers import COMPILERS, CONSTRAINED, Partial
from parlantish.checks.enforce.plan import (
    COMPILE_SECONDS,
    Decision,
    EnforceError,
    Enforcement,
    EnforceMode,
    Tier,
    plan_enforcement,
    resolve_mode,
)
from parlantish.checks.enforce.rule import MAX_EXCLUDES, MAX_MARKS, Part, TextRule

__all__ = [
    "COMPILERS",
    "COMPILE_SECONDS",
    "CONSTRAINED",
    "MAX_EXCLUDES",
    "MAX_FORMS_PER_WORD",
    "MAX_MARKS",
    "Decision",
    "EnforceError",
    "EnforceMode",
    "Enforcement",
    "Part",
    "Partial",
    "TextRule",
    "Tier",
    "case_forms",
    "plan_enforcement",
    "resolve_mode",
]
