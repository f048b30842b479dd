"""``parlantish run``: one guarded reply from a blueprint, as a user's agent would get it."""

from __future__ import annotations

import json
from typing import Any

import click

from parlantish.blueprint import load_blueprint
from parlantish.cli.messages import conversation_from_flags, message_options
from parlantish.cli.options import allow_root_option, backend_option, sampling_options
from parlantish.cli.variables import parse_var_flags
from parlantish.errors import AttemptsExhaustedError


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@allow_root_option
@backend_option
@click.option("--var", "var_pairs", multiple=True, metavar="K=V", help="A variable (repeatable).")
@message_options
@click.option("--temperature", type=click.FloatRange(0, 5), default=0.0, show_default=True)
@click.option("--seed", type=int, default=None)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Most tokens of the visible reply (the checkpoints get their own budget on top).",
)
@sampling_options
@click.option(
    "--retries", type=click.IntRange(0, 20), default=None, help="Override on_fail.retries."
)
@click.option(
    "--deadline",
    "deadline_s",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Total seconds for the call, retries included.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print reply, checkpoints, checks, usage, attempts, raw, blueprint as JSON.",
)
def command(
    file: str,
    backend: str,
    var_pairs: tuple[str, ...],
    message: str | None,
    messages_file: str | None,
    temperature: float,
    seed: int | None,
    retries: int | None,
    deadline_s: float | None,
    as_json: bool,
    max_tokens: int | None,
    sampling: dict[str, Any],
) -> None:
    """Generate a guarded reply with blueprint FILE and print it."""
    from parlantish.runtime import Guard

    blueprint = load_blueprint(file)
    variables = parse_var_flags(var_pairs, dict(blueprint.spec.variables))
    conversation = conversation_from_flags(message, messages_file, required=True)
    guard = Guard(
        blueprint,
        backend,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        sampling=sampling,
        deadline_s=deadline_s,
        retries=retries,
    )
    try:
        reply = guard.reply(conversation, variables)
    except AttemptsExhaustedError as e:
        if as_json:
            click.echo(
                json.dumps(
                    {"error": str(e), "attempts": [a.model_dump(mode="json") for a in e.attempts]},
                    ensure_ascii=False,
                )
            )
        raise
    if as_json:
        click.echo(json.dumps(reply.to_dict(), ensure_ascii=False))
    else:
        click.echo(reply.text)
