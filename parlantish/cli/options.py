"""Options shared by several commands."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

__all__ = ["SAMPLING_OPTIONS", "allow_root_option", "backend_option", "sampling_options"]

backend_option = click.option(
    "--backend",
    metavar="SPEC",
    default=lambda: os.environ.get("PARLANTISH_BACKEND", "embedded"),
    show_default="embedded, or $PARLANTISH_BACKEND",
    help="'embedded', a model folder, an HF id, or http://host:port/v1.",
)


def _allow(context: click.Context, parameter: click.Parameter, value: tuple[str, ...]) -> None:
    from parlantish.blueprint.files import allow_roots

    allow_roots(value)


allow_root_option = click.option(
    "--allow-root",
    multiple=True,
    metavar="DIR",
    type=click.Path(file_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_allow,
    help="A folder that references in the files (extends, blueprint, include) may read from, "
    "besides the file's own folder and the working directory (repeatable; also "
    "$PARLANTISH_ALLOW_ROOTS).",
)


#: (flag, ``SamplingSettings`` name, type, help) of the sampling options every generating
#: command shares; each is the engine's default when not given.
SAMPLING_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("--top-p", "top_p", click.FloatRange(0, 1, min_open=True), "Nucleus sampling mass."),
    ("--top-k", "top_k", click.IntRange(min=-1), "Keep the k likeliest tokens (0 or -1: all)."),
    ("--min-p", "min_p", click.FloatRange(0, 1), "Drop tokens below MIN_P x the likeliest."),
    (
        "--repetition-penalty",
        "repetition_penalty",
        click.FloatRange(0, 2, min_open=True),
        "Penalise tokens already in the prompt or output (1: none).",
    ),
    (
        "--frequency-penalty",
        "frequency_penalty",
        click.FloatRange(-2, 2),
        "Penalise tokens by how often they were generated.",
    ),
    (
        "--presence-penalty",
        "presence_penalty",
        click.FloatRange(-2, 2),
        "Penalise tokens that were generated at all.",
    ),
    ("--min-tokens", "min_tokens", click.IntRange(min=0), "Tokens before the output may end."),
)


def sampling_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared sampling options (and a repeatable ``--stop``) to a command, which
    receives the ones given as ``sampling``: a dict of ``SamplingSettings`` fields."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for _, name, _, _ in SAMPLING_OPTIONS}
        stop = kwargs.pop("stop")
        sampling = {name: value for name, value in given.items() if value is not None}
        if len(stop) > 4:
            raise click.BadParameter(
                f"at most 4 stop strings, not {len(stop)}", param_hint="--stop"
            )
        if stop:
            sampling["stop"] = tuple(stop)
        return command(*args, sampling=sampling, **kwargs)

    decorated: Callable[..., Any] = wrapper
    decorated = click.option(
        "--stop",
        multiple=True,
        metavar="TEXT",
        help="A string that ends the output (repeatable, at most 4).",
    )(decorated)
    for flag, name, kind, text in reversed(SAMPLING_OPTIONS):
        decorated = click.option(flag, name, type=kind, default=None, help=text)(decorated)
    return decorated
