"""``parlantish lint``: validate blueprint files, one located line per problem."""

from __future__ import annotations

import click

from parlantish.blueprint import lint_file, load_blueprint
from parlantish.cli.options import allow_root_option
from parlantish.compiler import ARMS, explain_tiers


@click.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--explain",
    is_flag=True,
    help="Also print each check's tier (enforced, repaired, reminded, none) and why.",
)
@click.option(
    "--arm",
    type=click.Choice(ARMS),
    default="blueprint",
    show_default=True,
    help="The arm --explain describes.",
)
@allow_root_option
def command(files: tuple[str, ...], explain: bool, arm: str) -> None:
    """Check blueprint FILES; print `path:line:col: message` per problem (exit 1 if any)."""
    problems = [problem for path in files for problem in lint_file(path)]
    for problem in problems:
        click.echo(str(problem))
    if explain:
        bad = {str(p.location.path) for p in problems}
        for path in files:
            if str(path) in bad or any(str(path) == b or b.endswith(str(path)) for b in bad):
                continue
            click.echo(f"{path} ({arm} arm):")
            for name, tier, why in explain_tiers(load_blueprint(path), arm):
                click.echo(f"  {name} → {tier}: {why}")
    if problems:
        click.echo(
            f"{len(problems)} problem(s) in {len({p.location.path for p in problems})} "
            f"of {len(files)} file(s)",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"{len(files)} file(s) ok", err=True)
