"""``--message`` / ``--messages`` flags: the conversation a command sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from parlantish.errors import Location, UserError

__all__ = ["conversation_from_flags", "message_options"]


def message_options(function: Any) -> Any:
    function = click.option(
        "--messages",
        "messages_file",
        metavar="FILE.json",
        help="The conversation: a JSON list of OpenAI chat messages.",
    )(function)
    return click.option("--message", metavar="TEXT", help="One user message.")(function)


def conversation_from_flags(
    message: str | None, messages_file: str | None, *, required: bool
) -> list[Any]:
    """The conversation from ``--message`` or ``--messages`` (exactly one when ``required``)."""
    if message is not None and messages_file is not None:
        raise UserError("give --message or --messages, not both")
    if message is not None:
        return [{"role": "user", "content": message}]
    if messages_file is None:
        if required:
            raise UserError("give the conversation with --message TEXT or --messages FILE.json")
        return []
    try:
        text = Path(messages_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {messages_file}: {e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(
            f"not valid JSON: {e.msg}", location=Location(messages_file, e.lineno, e.colno)
        ) from e
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    if not isinstance(data, list):
        raise UserError(
            "expected a JSON list of chat messages", location=Location(messages_file, 1, 1)
        )
    return data
