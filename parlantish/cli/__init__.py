"""The ``parlantish`` command line."""

from parlantish.cli.main import cli, main

__all__ = ["cli", "main"]
