"""``parlantish lint``: validate blueprint files, one located line per problem."""

from __future__ import annotations

import click

from parlantish.blueprint import lint_file
from parlantish.cli.options import allow_root_option


@click.command("lint")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@allow_root_option
def command(files: tuple[str, ...]) -> None:
    """Check blueprint FILES; print `path:line:col: message` per problem (exit 1 if any)."""
    problems = [problem for path in files for problem in lint_file(path)]
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(
            f"{len(problems)} problem(s) in {len({p.location.path for p in problems})} "
            f"of {len(files)} file(s)",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"{len(files)} file(s) ok", err=True)
