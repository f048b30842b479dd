"""Options shared by several commands."""

from __future__ import annotations

import os

import click

__all__ = ["allow_root_option", "backend_option"]

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
