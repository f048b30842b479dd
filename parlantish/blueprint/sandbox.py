"""A jinja2 sandbox with bounds: output size, loop iterations, padding and repetition, time.

jinja2's own sandbox stops templates reaching Python internals, but a legal template can still
ask for a terabyte (``{{ "x" * 10**12 }}``, ``{{ "" | center(10**12) }}``) or loop for hours
(nested ``range``). Here every loop goes through a guard counting iterations, repetition and
padding operators and filters check their result size before building it, values read back are
measured, and a time budget is checked at each of those points. Going past a limit raises
``TemplateLimitError`` naming the limit.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import Environment, StrictUndefined, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

__all__ = [
    "MAX_ITERATIONS",
    "MAX_OUTPUT_CHARS",
    "MAX_WIDTH",
    "RENDER_BUDGET_S",
    "BoundedSandbox",
    "TemplateLimitError",
    "render_bounded",
]

#: Most characters one template renders to (and most any one value built inside it holds).
MAX_OUTPUT_CHARS = 2_000_000
#: Most loop iterations in one render, all loops together; ``range`` gives at most this many.
MAX_ITERATIONS = 100_000
#: Widest padding (``center``, ``indent``, ``ljust``, ``%10s`` and ``{:>10}`` widths).
MAX_WIDTH = 10_000
#: Seconds one render may take.
RENDER_BUDGET_S = 0.5
#: Largest integer (in bits) arithmetic in a template may build.
MAX_INT_BITS = 100_000
#: Most paragraphs ``lipsum`` writes.
MAX_LIPSUM = 20

_LOOP_GUARD = "parlantish_loop_guard"
# Filters and str methods whose integer arguments are widths or counts of what they build.
_WIDTH_FILTERS = frozenset(
    {"center", "indent", "wordwrap", "truncate", "batch", "slice", "tojson", "pprint", "round"}
)
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_WIDTH = re.compile(r"%[-+ #0]*(\*|\d+)|\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


class TemplateLimitError(Exception):
    """A render went past one of the limits; the message names it."""


class _Budget(threading.local):
    deadline: float | None = None
    iterations: int = 0


_BUDGET = _Budget()


def _tick() -> None:
    deadline = _BUDGET.deadline
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimitError(f"rendering took longer than {RENDER_BUDGET_S} s")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict)) else 0


def _checked(value: Any) -> Any:
    if _size(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(f"a value is over {MAX_OUTPUT_CHARS} characters or items")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimitError(f"a number is over {MAX_INT_BITS} bits")
    return value


def _expect(size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(f"the result would be over {MAX_OUTPUT_CHARS} characters")


def _widths(fmt: Any, args: Iterable[Any] = ()) -> None:
    """Refuse a format string (``%`` or ``str.format``) that pads wider than ``MAX_WIDTH``."""
    if not isinstance(fmt, str):
        return
    for star, digits in _WIDTH.findall(fmt):
        wanted = digits or star
        if wanted == "*":
            wide = [a for a in args if isinstance(a, int) and abs(a) > MAX_WIDTH]
            if wide:
                raise TemplateLimitError(f"a '*' width is over the limit of {MAX_WIDTH}")
        elif wanted and len(wanted) < 30 and int(wanted) > MAX_WIDTH:
            raise TemplateLimitError(f"a format width ({wanted}) is over the limit of {MAX_WIDTH}")
        elif wanted and len(wanted) >= 30:
            raise TemplateLimitError(f"a format width is over the limit of {MAX_WIDTH}")


def _small_ints(args: Iterable[Any]) -> None:
    for value in args:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
            raise TemplateLimitError(f"an argument ({value}) is over the limit of {MAX_WIDTH}")


def _replace_size(value: Any, old: Any, new: Any) -> int:
    text, old, new = str(value), str(old), str(new)
    occurrences = text.count(old) if old else len(text) + 1
    return len(text) + occurrences * len(new)


def _join_size(items: list[Any], separator: Any) -> int:
    return len(str(separator)) * max(len(items) - 1, 0) + sum(len(str(i)) for i in items)


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        values = [a for a in args if not _is_context(a)]
        if name in _WIDTH_FILTERS:
            _small_ints([*values[1:], *kwargs.values()])
        if name == "replace" and len(values) >= 3:
            _expect(_replace_size(*values[:3]))
        elif name == "join" and values:
            items = list(values[0]) if isinstance(values[0], Iterable) else []
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _expect(_join_size(items, separator))
            args = tuple(a if a is not values[0] else items for a in args)
        elif name == "indent" and values:
            width = values[1] if len(values) > 1 else kwargs.get("width", 4)
            lines = str(values[0]).count("\n") + 1
            _expect(len(str(values[0])) + lines * (len(width) if isinstance(width, str) else 4))
        elif name == "wordwrap" and values:
            wrap = values[3] if len(values) > 3 else kwargs.get("wrapstring") or "\n"
            _expect(len(str(values[0])) * (1 + len(str(wrap))))
        elif name == "format" and values:
            _widths(values[0], [*values[1:], *kwargs.values()])
        return _checked(function(*args, **kwargs))

    for attribute in ("jinja_pass_arg", "__name__", "__doc__"):
        if hasattr(function, attribute):
            setattr(bounded, attribute, getattr(function, attribute))
    return bounded


def _is_context(value: Any) -> bool:
    # Filters marked pass_context/pass_eval_context/pass_environment get it as first argument.
    return isinstance(value, (Context, nodes.EvalContext, Environment))


def _range(*args: Any) -> range:
    _tick()
    result = range(*args)
    if len(result) > MAX_ITERATIONS:
        raise TemplateLimitError(f"range() of over {MAX_ITERATIONS} items")
    return result


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if not all(isinstance(v, int) for v in (n, min, max)) or n > MAX_LIPSUM or max > 1000:
        raise TemplateLimitError(f"lipsum() is limited to {MAX_LIPSUM} paragraphs of 1000 words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _loop_guard(iterable: Any) -> Iterator[Any]:
    for item in iterable:
        _BUDGET.iterations += 1
        if _BUDGET.iterations > MAX_ITERATIONS:
            raise TemplateLimitError(f"loops ran more than {MAX_ITERATIONS} iterations")
        _tick()
        yield item


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every operator, filter and loop bounded (see module doc)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}
        self.globals.update(range=_range, lipsum=_lipsum)
        self.globals[_LOOP_GUARD] = _loop_guard

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if _size(seq) and isinstance(count, int):
                    _expect(_size(seq) * count)
            both_ints = isinstance(left, int) and isinstance(right, int)
            if both_ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimitError(f"a number would be over {MAX_INT_BITS} bits")
        elif operator == "**":
            both_ints = isinstance(left, int) and isinstance(right, int)
            if (
                both_ints
                and abs(left) > 1
                and right > 0
                and left.bit_length() * right > MAX_INT_BITS
            ):
                raise TemplateLimitError(f"a number would be over {MAX_INT_BITS} bits")
        elif operator == "%":
            _widths(left, right if isinstance(right, tuple) else (right,))
        elif operator == "+":
            _expect(_size(left) + _size(right))
        return _checked(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        # The sandbox hands out str.format wrapped; the wrapper keeps the method as __wrapped__.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            method = getattr(__obj, "__name__", "")
            if method in {"format", "format_map"}:
                _widths(owner, [*args, *kwargs.values()])
            elif method == "replace" and len(args) >= 2:
                _expect(_replace_size(owner, args[0], args[1]))
            elif method == "join" and args:
                items = list(args[0])
                _expect(_join_size(items, owner))
                args = (items, *args[1:])
            if method in _WIDTH_METHODS:
                _small_ints([*args, *kwargs.values()])
        return _checked(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return _checked(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return _checked(super().getitem(obj, argument))

    def guarded_template(self, source: str) -> Any:
        """Compile ``source`` with every ``for`` loop's iterable passed through the guard."""
        ast = self.parse(source)
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.Name(_LOOP_GUARD, "load"), [loop.iter], [], None, None, lineno=loop.lineno
            )
        return self.from_string(ast)


def make_environment() -> BoundedSandbox:
    """The environment templates are parsed and rendered with."""
    return BoundedSandbox(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, loader=None
    )


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render a compiled template within the limits (``TemplateLimitError`` past one)."""
    outer = (_BUDGET.deadline, _BUDGET.iterations)
    _BUDGET.deadline = time.monotonic() + RENDER_BUDGET_S
    _BUDGET.iterations = 0
    try:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateLimitError(f"the output is over {MAX_OUTPUT_CHARS} characters")
            _tick()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _BUDGET.deadline, _BUDGET.iterations = outer
