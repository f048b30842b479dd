"""``parlantish generate``: one constrained generation, printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from parlantish.backends import (
    ChatMessage,
    Constraint,
    GenerationRequest,
    SamplingSettings,
    resolve_backend,
)
from parlantish.cli.options import backend_option, sampling_options
from parlantish.errors import ConstraintError, Location, UserError


def _read_json_file(path: str, what: str) -> object:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {what} file {path}: {e}") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConstraintError(
            f"{what} is not valid JSON: {e.msg}", location=Location(path, e.lineno, e.colno)
        ) from e


def _read_text_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {what} file {path}: {e}") from e


def build_constraint(
    json_schema: str | None,
    regex: str | None,
    choice: str | None,
    grammar: str | None,
    structural_tag: str | None,
) -> Constraint | None:
    """The one constraint the flags ask for (at most one may be given)."""
    given = [
        n
        for n, v in (
            ("--json-schema", json_schema),
            ("--regex", regex),
            ("--choice", choice),
            ("--grammar", grammar),
            ("--structural-tag", structural_tag),
        )
        if v
    ]
    if len(given) > 1:
        raise UserError(f"give at most one constraint, not {' and '.join(given)}")
    try:
        if json_schema:
            schema = _read_json_file(json_schema, "JSON schema")
            return Constraint.json_schema(schema)  # type: ignore[arg-type]
        if regex:
            return Constraint.regex(regex)
        if choice:
            return Constraint.choice([c.strip() for c in choice.split(",") if c.strip()])
        if grammar:
            return Constraint.grammar(_read_text_file(grammar, "grammar"))
        if structural_tag:
            return Constraint.structural_tag(_read_json_file(structural_tag, "structural tag"))  # type: ignore[arg-type]
    except ConstraintError as e:
        source = json_schema or grammar or structural_tag
        if e.location is None and source:
            e.location = Location(source)
            raise ConstraintError(e.message, hint=e.hint, location=e.location) from e
        raise
    return None


@click.command("generate")
@click.argument("prompt")
@click.option("--json-schema", metavar="FILE", help="Constrain the output to this JSON schema.")
@click.option("--regex", metavar="R", help="Constrain the output to match this regex.")
@click.option("--choice", metavar="A,B", help="Constrain the output to one of these strings.")
@click.option("--grammar", metavar="FILE", help="Constrain the output to this Lark grammar.")
@click.option(
    "--structural-tag", metavar="FILE", help="Constrain with an xgrammar structural tag (JSON)."
)
@backend_option
@click.option("--system", metavar="TEXT", help="A system message before the prompt.")
@click.option("--raw", is_flag=True, help="Send PROMPT as a raw prompt, without the chat template.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--temperature", type=click.FloatRange(0, 5), default=0.0, show_default=True)
@click.option("--seed", type=int, default=None)
@sampling_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object: text, finish_reason, usage, latency_s.",
)
def command(
    prompt: str,
    json_schema: str | None,
    regex: str | None,
    choice: str | None,
    grammar: str | None,
    structural_tag: str | None,
    backend: str,
    system: str | None,
    raw: bool,
    max_tokens: int,
    temperature: float,
    seed: int | None,
    as_json: bool,
    sampling: dict[str, Any],
) -> None:
    """Generate a completion for PROMPT, optionally under one structured-output constraint."""
    constraint = build_constraint(json_schema, regex, choice, grammar, structural_tag)
    settings = SamplingSettings(
        max_tokens=max_tokens, temperature=temperature, seed=seed, **sampling
    )
    if raw:
        if system:
            raise UserError("--system cannot be used with --raw")
        request = GenerationRequest(prompt=prompt, sampling=settings, constraint=constraint)
    else:
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        request = GenerationRequest(messages=messages, sampling=settings, constraint=constraint)
    result = resolve_backend(backend).generate(request)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        click.echo(result.text)
