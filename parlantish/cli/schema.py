"""``parlantish schema``: print or write the JSON Schema of a file format (blueprint files,
suite files, ``results.jsonl`` rows, ``report.json``, ``parlantish compare --json``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from parlantish.blueprint import blueprint_json_schema
from parlantish.eval.compare_model import compare_json_schema
from parlantish.eval.records import results_json_schema
from parlantish.eval.report_model import report_json_schema
from parlantish.eval.suite import suite_json_schema

SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "blueprint": blueprint_json_schema,
    "suite": suite_json_schema,
    "results": results_json_schema,
    "report": report_json_schema,
    "compare": compare_json_schema,
}


def schema_text(name: str = "blueprint") -> str:
    """The schema exactly as published (2-space indent, trailing newline)."""
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"


@click.command("schema")
@click.argument("name", type=click.Choice(list(SCHEMAS)), default="blueprint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    multiple=True,
    help="Write the schema to this file (repeatable) instead of printing it.",
)
def command(name: str, out: tuple[str, ...]) -> None:
    """The JSON Schema of NAME: blueprint files (the default), suite files, results.jsonl
    rows, report.json or the JSON of `parlantish compare` (for editors and validators)."""
    text = schema_text(name)
    if not out:
        click.echo(text, nl=False)
    for path in out:
        Path(path).write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)
