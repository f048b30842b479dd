"""The ``parlantish`` command group and its single error boundary.

User mistakes and run failures become one ``error: …`` message and exit code 1; only a bug in
parlantish itself shows a traceback. SIGTERM is handled like Ctrl-C (``KeyboardInterrupt``), so
``finally`` blocks and exit handlers run and an in-process engine is closed, never orphaned.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

import click

from parlantish import __version__
from parlantish.backends.engine_log import VERBOSE_ENV
from parlantish.errors import ParlantishError

__all__ = ["cli", "main"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install_signal_handlers() -> None:
    """Make SIGTERM unwind the program as Ctrl-C does (SIGINT already raises
    ``KeyboardInterrupt``)."""
    signal.signal(signal.SIGTERM, _terminate)


def _progress_logging() -> None:
    """parlantish's own progress lines (engine starting, ready) on stderr."""
    logger = logging.getLogger("parlantish")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("parlantish: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parlantish")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    envvar=VERBOSE_ENV,
    help="Show the engine's own log (vLLM, torch) instead of writing it to PARLANTISH_HOME/logs.",
)
def cli(verbose: bool) -> None:
    """Keep LLM agents on their instructions: blueprints, constrained generation, evaluation."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"


def _register() -> None:
    from parlantish.cli import (
        check,
        compare,
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

    for module in (lint, render, run, generate, check, compare, schema, doctor, provision, serve):
        cli.add_command(module.command)
    cli.add_command(evaluate.eval_command)
    cli.add_command(evaluate.report_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    _register()
    install_signal_handlers()
    _progress_logging()
    try:
        cli.main(args=argv, prog_name="parlantish", standalone_mode=False)
    except click.exceptions.Abort as e:  # click turns KeyboardInterrupt into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo("terminated", err=True)
            sys.exit(143)
        click.echo("interrupted" if e.__cause__ else "aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code if e.exit_code != 2 else 2)
    except ParlantishError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt as e:
        click.echo("terminated" if isinstance(e, Terminated) else "interrupted", err=True)
        sys.exit(143 if isinstance(e, Terminated) else 130)
    sys.exit(0)
