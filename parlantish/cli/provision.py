"""``parlantish setup``: convert the embedded model now instead of on first use."""

from __future__ import annotations

import click

from parlantish.backends.embedded import provision_embedded_model


@click.command("setup")
@click.option("--quiet", is_flag=True, help="Print only the model folder.")
def command(quiet: bool) -> None:
    """Provision the embedded model (idempotent: a second run only checks it is there)."""
    click.echo(provision_embedded_model(quiet=quiet))
