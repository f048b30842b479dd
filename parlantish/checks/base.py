"""Checks: named, typed, pure functions text → verdict, kept in one registry.

A *check type* is a function plus a pydantic model of its parameters, registered under a name
(``not_matches``, ``punctuation:no_comma``, or a user's own). A *check* is a type with its
parameters bound, built from the form authors write in blueprint and suite files:
``{not_matches: "(?i)refund approved"}``, ``{max_sentences: 3}``,
``{keywords:existence: {keywords: [a, b]}}`` or just ``no_comma``.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from parlantish.checks.patterns import PatternTimeout
from parlantish.errors import UserError

__all__ = [
    "Check",
    "CheckParams",
    "CheckResult",
    "CheckSpecError",
    "CheckType",
    "build_check",
    "build_checks",
    "check_names",
    "first_failure",
    "get_check_type",
    "register",
]


class CheckParams(BaseModel):
    """Base of every check's parameters: unknown parameters are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(CheckParams):
    """For checks without parameters."""


class CheckSpecError(UserError):
    """A check named in a file is unknown or has bad parameters; ``path`` says where in the list."""

    def __init__(self, message: str, *, path: tuple[Any, ...] = (), hint: str | None = None):
        self.path = path
        super().__init__(message, hint=hint)


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one text (or one segment of it, ``span``)."""

    name: str
    passed: bool
    detail: str = ""
    deterministic: bool = True
    span: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "passed": self.passed, "detail": self.detail}
        if not self.deterministic:
            data["deterministic"] = False
        if self.span is not None:
            data["span"] = list(self.span)
        return data


Verdict = bool | tuple[bool, str]


@dataclass(frozen=True)
class CheckType:
    """A registered kind of check."""

    name: str
    function: Callable[[str, Any], Verdict]
    params: type[CheckParams]
    doc: str
    family: str
    deterministic: bool = True
    primary: str | None = None  # the parameter a bare scalar fills: {max_words: 50}
    #: Whether a failure on a prefix of a text is a failure of every longer text (``no_comma``,
    #: ``max_words``): only then can the evaluator say *where* along an output it was broken.
    #: A bool, or a function of the bound parameters (``number_words`` with ``less than``).
    locatable: bool | Callable[[Any], bool] = False

    def bind(self, raw: Any, path: tuple[Any, ...] = ()) -> Check:
        """Bind parameters written in a file (a mapping, a scalar for ``primary``, or nothing)."""
        if raw is None:
            raw = {}
        elif (
            isinstance(raw, dict)
            and self.primary is not None
            and raw
            and not set(raw) & self._param_names()
        ):
            # No key is a parameter name: the mapping is the primary value itself, as in
            # {json_schema: {type: object}} or {not: {contains: refund}}.
            raw = {self.primary: raw}
        elif not isinstance(raw, dict):
            if self.primary is None:
                raise CheckSpecError(
                    f"check {self.name!r} takes a mapping of parameters, got {raw!r}",
                    path=path,
                    hint=_param_hint(self),
                )
            raw = {self.primary: raw}
        try:
            params = self.params.model_validate(raw)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(map(str, first["loc"])) or "parameters"
            raise CheckSpecError(
                f"check {self.name!r}: {where}: {first['msg']}", path=path, hint=_param_hint(self)
            ) from e
        return Check(self, params)

    def _param_names(self) -> set[str]:
        fields = self.params.model_fields
        return set(fields) | {f.alias for f in fields.values() if f.alias}


def _param_hint(check_type: CheckType) -> str:
    fields = (
        ", ".join(f.alias or name for name, f in check_type.params.model_fields.items()) or "none"
    )
    return f"{check_type.name} parameters: {fields}"


@dataclass(frozen=True)
class Check:
    """A check with its parameters: call it on a text."""

    type: CheckType
    params: CheckParams
    label: str = field(default="")
    #: Whether the reply's constraint should guarantee this check: ``"auto"``, ``True``,
    #: ``False``, or ``None`` (the blueprint's or the arm's choice).
    enforce: bool | str | None = None

    @property
    def name(self) -> str:
        return self.label or self.type.name

    @property
    def locatable(self) -> bool:
        """True when a violation can be located along a text (see ``CheckType.locatable``)."""
        rule = self.type.locatable
        return bool(rule(self.params) if callable(rule) else rule)

    def __call__(self, text: str, *, span: tuple[int, int] | None = None) -> CheckResult:
        """Run on ``text`` (or on ``text[start:end]`` when ``span`` is given)."""
        target = text if span is None else text[span[0] : span[1]]
        try:
            verdict = self.type.function(target, self.params)
        except PatternTimeout as e:  # a user pattern that backtracks: a failure, not a hang
            verdict = (False, str(e))
        passed, detail = verdict if isinstance(verdict, tuple) else (verdict, "")
        return CheckResult(self.name, bool(passed), detail, self.type.deterministic, span)

    def describe(self) -> dict[str, Any]:
        return {self.type.name: self.params.model_dump(exclude_defaults=True)}


_registry: dict[str, CheckType] = {}
_lock = threading.Lock()


def register(
    name: str,
    params: type[CheckParams] | None = None,
    *,
    family: str = "custom",
    deterministic: bool = True,
    primary: str | None = None,
    locatable: bool | Callable[[Any], bool] = False,
    replace: bool = False,
) -> Callable[[Callable[[str, Any], Verdict]], Callable[[str, Any], Verdict]]:
    """Register a check function under ``name``.

    The function takes the text and its parameters (an instance of ``params``) and returns
    ``passed`` or ``(passed, detail)``. ``locatable`` marks checks whose failure on a prefix
    means failure of the whole text (a bool or a function of the parameters). Use it for your
    own checks::

        class Mentions(CheckParams):
            product: str

        @register("mentions_product", Mentions, primary="product")
        def mentions_product(text, params):
            return params.product in text, f"looked for {params.product!r}"
    """

    def decorate(function: Callable[[str, Any], Verdict]) -> Callable[[str, Any], Verdict]:
        with _lock:
            if name in _registry and not replace:
                raise ValueError(f"a check named {name!r} is already registered")
            _registry[name] = CheckType(
                name=name,
                function=function,
                params=params or NoParams,
                doc=(function.__doc__ or "").strip(),
                family=family,
                deterministic=deterministic,
                primary=primary,
                locatable=locatable,
            )
        return function

    return decorate


def _ensure_builtins() -> None:
    # Importing the families registers their checks; done lazily to keep `import` cheap.
    from parlantish.checks import combinators, ifeval, judge, text  # noqa: F401


def check_names() -> list[str]:
    """Every registered check name."""
    _ensure_builtins()
    return sorted(_registry)


def get_check_type(name: str, path: tuple[Any, ...] = ()) -> CheckType:
    """The check type registered as ``name`` (a ``CheckSpecError`` with a did-you-mean if none)."""
    _ensure_builtins()
    check_type = _registry.get(name)
    if check_type is None:
        close = difflib.get_close_matches(name, list(_registry), n=1, cutoff=0.6)
        raise CheckSpecError(
            f"unknown check {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            path=path,
            hint="list them with: parlantish check list",
        )
    return check_type


def build_check(spec: Any, path: tuple[Any, ...] = ()) -> Check:
    """A check from its file form: ``"name"``, ``{name: params}``, or
    ``{check: name, label: …, <params>}``; either mapping may add ``enforce: auto|true|false``."""
    label = ""
    enforce: bool | str | None = None
    if isinstance(spec, dict) and "enforce" in spec:
        spec = dict(spec)
        enforce = spec.pop("enforce")
        if enforce not in ("auto", True, False):
            raise CheckSpecError(
                f"enforce must be auto, true or false, got {enforce!r}",
                path=path,
                hint="enforce: auto enforces the check where the constraint can guarantee it",
            )
    if isinstance(spec, str):
        name, raw = spec, None
    elif isinstance(spec, dict) and "check" in spec:
        rest = dict(spec)
        name = rest.pop("check")
        label = str(rest.pop("label", ""))
        raw = rest
    elif isinstance(spec, dict) and len(spec) == 1:
        ((name, raw),) = spec.items()
    else:
        raise CheckSpecError(
            "a check is a name, or a mapping with one key (the check's name)",
            path=path,
            hint="e.g. {max_sentences: 3} or {not_matches: 'refund'}",
        )
    if not isinstance(name, str):
        raise CheckSpecError(f"a check name must be text, got {name!r}", path=path)
    check = get_check_type(name, path).bind(raw, path)
    return (
        Check(check.type, check.params, label, enforce) if label or enforce is not None else check
    )


def build_checks(specs: Sequence[Any], path: tuple[Any, ...] = ("checks",)) -> list[Check]:
    """Checks from a list in a file; every bad entry is reported (the first raises)."""
    return [build_check(spec, (*path, index)) for index, spec in enumerate(specs)]


def first_failure(check: Check, text: str, boundaries: Sequence[int]) -> int | None:
    """The first boundary ``b`` such that the check fails on ``text[:b]``, or ``None``.

    For locating where along a long output an instruction was first broken: ``boundaries`` are
    cut points (segment ends or token-window ends), increasing.
    """
    for boundary in boundaries:
        if not check(text[:boundary]).passed:
            return boundary
    return None
