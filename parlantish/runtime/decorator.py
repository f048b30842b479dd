"""``@guarded``: put a blueprint around an existing function that takes messages, returns text."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from parlantish.runtime.guard import Guard

__all__ = ["guarded"]


def guarded(blueprint: str | Path, backend: Any = "embedded", **options: Any) -> Callable[..., Any]:
    """Replace a ``fn(messages, **variables) -> str`` call site by a guarded reply.

    The decorated function keeps its signature; its body is not called: the blueprint's
    Guard generates the reply instead (with the function's keyword arguments as variables) and
    returns the reply text. The Guard is available as ``fn.guard``.
    """
    guard = Guard.from_file(blueprint, backend, **options)

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(messages: Any, **variables: Any) -> str:
                return (await guard.areply(messages, variables)).text

            async_wrapper.guard = guard  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(function)
        def wrapper(messages: Any, **variables: Any) -> str:
            return guard.reply(messages, variables).text

        wrapper.guard = guard  # type: ignore[attr-defined]
        return wrapper

    return decorate
