"""``parlantish check``: score IFEval-format responses, list the registered checks."""

from __future__ import annotations

import json
from pathlib import Path

import click

from parlantish.checks import CheckSpecError, check_names, get_check_type
from parlantish.checks.ifeval_data import Summary, score_record
from parlantish.errors import Location, UserError


@click.group("check")
def command() -> None:
    """Run checks outside a blueprint."""


@command.command("ifeval")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--mode", type=click.Choice(["strict", "loose", "both"]), default="both", show_default=True
)
def ifeval(file: str, mode: str) -> None:
    """Score FILE.jsonl (lines with response, instruction_id_list, kwargs) with IFEval's rules.

    Prints one JSON line per input (key, strict, loose) and the accuracies on stderr."""
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {file}: {e}") from e
    summary = Summary()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise CheckSpecError("each line must be a JSON object")
            score = score_record(record)
        except json.JSONDecodeError as e:
            raise UserError(
                f"not valid JSON: {e.msg}", location=Location(file, number, e.colno)
            ) from e
        except CheckSpecError as e:
            where = f" ({'/'.join(map(str, e.path))})" if e.path else ""
            raise UserError(
                f"{e.message}{where}", hint=e.hint, location=Location(file, number)
            ) from e
        summary.add(score)
        out: dict[str, object] = {"key": score.key}
        if mode in ("strict", "both"):
            out["strict"] = score.strict
        if mode in ("loose", "both"):
            out["loose"] = score.loose
        click.echo(json.dumps(out))
    click.echo(json.dumps(summary.to_dict()), err=True)


@command.command("list")
def list_checks() -> None:
    """Every registered check, with its family and parameters."""
    for name in check_names():
        check_type = get_check_type(name)
        params = ", ".join(check_type.params.model_fields) or "-"
        click.echo(f"{name:<46} {check_type.family:<11} {params}")
