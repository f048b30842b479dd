"""Which of a plan's checks its constraint enforces: each check's decision, in order, and the
merged rule."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from parlantish.checks.base import Check
from parlantish.checks.enforce.compilers import COMPILERS, Compiled, Partial
from parlantish.checks.enforce.rule import TextRule, merge
from parlantish.errors import UserError

__all__ = [
    "COMPILE_SECONDS",
    "Decision",
    "EnforceError",
    "EnforceMode",
    "Enforcement",
    "Tier",
    "plan_enforcement",
    "resolve_mode",
]

#: ``auto`` enforces what compiles; ``True`` also makes a check that cannot compile an error;
#: ``False`` never enforces.
EnforceMode = Literal["auto"] | bool
Tier = Literal["enforced", "repaired", "reminded", "none"]
#: Wall-clock bound of one plan's enforcement compile, in seconds.
COMPILE_SECONDS = 2.0


class EnforceError(UserError):
    """A check marked ``enforce: true`` cannot be compiled into the constraint."""


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


def _reason(doc: str | None) -> str:
    """A compiler's docstring's first sentence, as a lower-case reason."""
    text = " ".join((doc or "compiled into the constraint.").split())
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0].rstrip(".").replace("``", "'")
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
        after, enforced, why = _compile_one(check, rule, layout_note)
        if time.perf_counter() - started > COMPILE_SECONDS:
            why = f"compiling the checks took over {COMPILE_SECONDS:g} s"
            if mode is True:
                raise EnforceError(f"check {check.name!r} cannot be enforced: {why}")
            decisions.append(Decision(check.name, False, why))
            break
        if not enforced and mode is True:
            at = f"{where(index)}: " if where else ""
            raise EnforceError(
                f"{at}check {check.name!r} has enforce: true but cannot be enforced: {why}",
                hint="set enforce: auto (remind where it cannot be enforced) or false",
            )
        rule = after
        decisions.append(Decision(check.name, enforced, why))
    return Enforcement(rule, tuple(decisions))


def _compile_one(
    check: Check, rule: TextRule, layout_note: str | None
) -> tuple[TextRule, bool, str]:
    """The rule with ``check`` merged in, whether that enforces the check, and why (or why
    not). A :class:`Partial` piece is merged, yet leaves its check at the remind tier."""
    if layout_note is not None:
        return rule, False, layout_note
    compiler = COMPILERS.get(check.type.name)
    if compiler is None:
        return rule, False, "not expressible as a constraint"
    compiled: Compiled = compiler(check.params)
    piece = compiled.piece if isinstance(compiled, Partial) else compiled
    if isinstance(piece, str):
        return rule, False, piece
    merged = merge(rule, piece)
    if isinstance(merged, str):
        return rule, False, merged
    why = _reason(compiler.__doc__)
    if isinstance(compiled, Partial):
        return merged, False, f"in part: {why}; {compiled.left}"
    return merged, True, why
