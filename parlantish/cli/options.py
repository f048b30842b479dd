"""Options shared by several commands."""

from __future__ import annotations

import os

import click

__all__ = ["backend_option"]

backend_option = click.option(
    "--backend",
    metavar="SPEC",
    default=lambda: os.environ.get("PARLANTISH_BACKEND", "embedded"),
    show_default="embedded, or $PARLANTISH_BACKEND",
    help="'embedded', a model folder, an HF id, or http://host:port/v1.",
)
