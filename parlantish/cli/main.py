"""The ``parlantish`` command group and its single error boundary.

User mistakes and run failures become one ``error: …`` message and exit code 1; only a bug in
parlantish itself shows a traceback.
"""

from __future__ import annotations

import sys

import click

from parlantish import __version__
from parlantish.errors import ParlantishError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parlantish")
def cli() -> None:
    """Keep LLM agents on their instructions: blueprints, constrained generation, evaluation."""


def _register() -> None:
    from parlantish.cli import (
        check,
        doctor,
        evaluate,
        generate,
        lint,
        provision,
        render,
        run,
        schema,
        serve,
    )

    for module in (lint, render, run, generate, check, schema, doctor, provision, serve):
        cli.add_command(module.command)
    cli.add_command(evaluate.eval_command)
    cli.add_command(evaluate.report_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    _register()
    try:
        cli.main(args=argv, prog_name="parlantish", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code if e.exit_code != 2 else 2)
    except ParlantishError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(0)
