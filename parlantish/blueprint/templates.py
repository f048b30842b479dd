"""Untrusted templates: jinja2 in a sandbox with strict undefined variables.

Blueprint files may come from anywhere, so templates get no file access (no loader: no
include/import/extends), no unsafe attributes (``__class__`` and friends raise), and every
undefined name is an error instead of an empty string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SecurityError

from parlantish.blueprint.sandbox import TemplateLimitError, make_environment, render_bounded
from parlantish.errors import Location, UserError

__all__ = ["TemplateRenderError", "check_template", "clear_template_cache", "render_template"]


class TemplateRenderError(UserError):
    """A template failed to render (undefined name, unsafe access, runtime error)."""


_ENV = make_environment()


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    return _ENV.guarded_template(source)


def clear_template_cache() -> None:
    """Forget compiled templates (benchmarks of a first compile call this)."""
    _compile.cache_clear()


def _offset(location: Location, template_line: int | None) -> Location:
    """Map a line inside a template onto the file (block scalars start on the next line)."""
    if location.line is None or not template_line or template_line <= 1:
        return location
    return Location(location.path, location.line + template_line - 1, None)


def check_template(
    source: str, allowed_names: set[str], location: Location
) -> list[tuple[Location, str]]:
    """Problems in a template without rendering it: syntax errors and names not allowed.

    Returns (location, message) pairs; an empty list means the template is fine.
    """
    try:
        ast = _ENV.parse(source)
    except TemplateSyntaxError as e:
        return [(_offset(location, e.lineno), f"template syntax error: {e.message}")]
    problems: list[tuple[Location, str]] = []
    for name in sorted(meta.find_undeclared_variables(ast) - allowed_names - set(_ENV.globals)):
        known = ", ".join(sorted(allowed_names)) or "none declared"
        problems.append((location, f"template uses undefined variable {name!r} (known: {known})"))
    for node in ast.find_all((nodes.Getattr,)):
        if node.attr.startswith("_"):
            problems.append(
                (
                    _offset(location, node.lineno),
                    f"template accesses private attribute {node.attr!r}",
                )
            )
    return problems


def render_template(source: str, context: dict[str, Any], location: Location) -> str:
    """Render ``source`` in the sandbox; any failure is a located ``TemplateRenderError``."""
    try:
        return render_bounded(_compile(source), context)
    except TemplateLimitError as e:
        raise TemplateRenderError(
            f"template refused: {e}",
            location=location,
            hint="templates are bounded in size, loops and time (see the README's threat model)",
        ) from e
    except SecurityError as e:
        raise TemplateRenderError(f"unsafe template refused: {e}", location=location) from e
    except TemplateSyntaxError as e:
        raise TemplateRenderError(
            f"template syntax error: {e.message}", location=_offset(location, e.lineno)
        ) from e
    except TemplateError as e:
        raise TemplateRenderError(f"template error: {e.message or e}", location=location) from e
    except (
        ArithmeticError,
        TypeError,
        ValueError,
        OverflowError,
        RecursionError,
        LookupError,
        AttributeError,
        MemoryError,
    ) as e:
        raise TemplateRenderError(
            f"template failed: {type(e).__name__}: {e}", location=location
        ) from e
