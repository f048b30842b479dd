"""``parlantish schema``: print or write the blueprint format's JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import click

from parlantish.blueprint import blueprint_json_schema


def schema_text() -> str:
    """The schema exactly as published (2-space indent, trailing newline)."""
    return json.dumps(blueprint_json_schema(), indent=2, ensure_ascii=False) + "\n"


@click.command("schema")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    multiple=True,
    help="Write the schema to this file (repeatable) instead of printing it.",
)
def command(out: tuple[str, ...]) -> None:
    """The JSON Schema of blueprint files (for editors and validators)."""
    text = schema_text()
    if not out:
        click.echo(text, nl=False)
    for path in out:
        Path(path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)
