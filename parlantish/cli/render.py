"""``parlantish render``: show the compiled plan (messages and constraint) for a blueprint."""

from __future__ import annotations

import json

import click

from parlantish.blueprint import load_blueprint
from parlantish.cli.messages import conversation_from_flags, message_options
from parlantish.cli.options import allow_root_option
from parlantish.cli.variables import parse_var_flags
from parlantish.compiler import ARMS, compile_plan


@click.command("render")
@click.argument("file", type=click.Path(dir_okay=False))
@allow_root_option
@click.option("--var", "var_pairs", multiple=True, metavar="K=V", help="A variable (repeatable).")
@message_options
@click.option("--arm", type=click.Choice(ARMS), default="blueprint", show_default=True)
@click.option(
    "--target",
    type=click.Choice(["structural_tag", "grammar"]),
    default="structural_tag",
    show_default=True,
    help="Long-form constraint: xgrammar structural tag or Lark grammar.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True
)
def command(
    file: str,
    var_pairs: tuple[str, ...],
    message: str | None,
    messages_file: str | None,
    arm: str,
    target: str,
    fmt: str,
) -> None:
    """Compile blueprint FILE for one call and print the plan."""
    blueprint = load_blueprint(file)
    variables = parse_var_flags(var_pairs, dict(blueprint.spec.variables))
    conversation = conversation_from_flags(message, messages_file, required=False)
    plan = compile_plan(blueprint, variables, conversation, arm=arm, target=target)  # type: ignore[arg-type]
    described = plan.describe()
    if fmt == "json":
        click.echo(json.dumps(described, indent=2, ensure_ascii=False))
        return
    for m in described["messages"]:
        click.echo(f"--- {m['role']} ---\n{m['content']}")
    constraint = described["constraint"]
    click.echo(f"--- constraint: {constraint['type']} ---")
    payload = constraint["payload"]
    click.echo(
        payload if isinstance(payload, str) else json.dumps(payload, indent=2, ensure_ascii=False)
    )
