"""``parlantish compare RUN_A RUN_B``: two finished runs compared pair by pair.

Reads each output folder's results.jsonl (and run.json, when there is one), pairs the samples,
and prints the table, or writes the comparison as JSON (``--json FILE``, ``-`` for stdout). A
folder that is not a run, an unreadable row or runs with nothing in common is one located
error; runs of different suites are compared with a warning on stderr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console

from parlantish.errors import Location, UserError
from parlantish.eval.compare import compare_runs
from parlantish.eval.compare_model import RunComparison, RunRef
from parlantish.eval.manifest import MANIFEST_FILE
from parlantish.eval.records import SampleRecord, first_validation_error, load_record
from parlantish.eval.store import RESULTS_FILE, read_results, write_atomic
from parlantish.reports.compare_table import print_comparison

__all__ = ["Run", "command", "comparison_json", "read_run"]

HINT = "a run is the --out folder of `parlantish eval`; results.jsonl is written by it"


@dataclass(frozen=True)
class Run:
    """One run folder as read: what it is, its records and its declared arm order."""

    ref: RunRef
    records: list[SampleRecord]
    arms: list[str]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as e:
        raise UserError(
            f"not a run manifest: {e.msg}", location=Location(str(path), e.lineno, e.colno)
        ) from e
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise UserError(
            "not a run manifest: a JSON object is expected", location=Location(str(path))
        )
    return data


def _records(path: Path) -> list[SampleRecord]:
    rows = read_results(path)  # a line that is not JSON is located there
    if not rows:
        raise UserError(f"{path} holds no finished samples", hint=HINT)
    records = []
    for row in rows:
        try:
            records.append(load_record(row))
        except ValidationError as e:
            raise UserError(
                f"results record {row['key']!r} does not match the results schema: "
                f"{first_validation_error(e)}",
                location=Location(str(path)),
                hint=HINT,
            ) from e
    return records


def read_run(folder: str) -> Run:
    """The run saved in ``folder`` (a ``UserError`` when it holds none)."""
    out = Path(folder)
    if not out.is_dir():
        raise UserError(f"{folder}: no such folder", hint=HINT)
    results = out / RESULTS_FILE
    if not results.is_file():
        raise UserError(f"no {RESULTS_FILE} in {folder}", hint=HINT)
    records = _records(results)
    manifest = _manifest(out / MANIFEST_FILE)
    suite = manifest.get("suite")
    declared = manifest.get("arms")
    arms = [a.get("name") if isinstance(a, dict) else a for a in (declared or [])]
    ref = RunRef(
        path=folder,
        suite=_text(suite.get("name") if isinstance(suite, dict) else None) or records[0].suite,
        model=_text(manifest.get("model")),
        backend=_text(manifest.get("backend")) or records[0].backend,
        records=len(records),
    )
    return Run(ref, records, [a for a in arms if isinstance(a, str)])


def comparison_json(comparison: RunComparison) -> str:
    """The JSON ``--json`` writes: full precision, 2-space indent, trailing newline."""
    return json.dumps(comparison.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


@click.command("compare")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    metavar="FILE",
    help="Also write the comparison as JSON to FILE; '-' writes it to stdout instead of the table.",
)
def command(run_a: str, run_b: str, json_file: str | None) -> None:
    """Compare two finished runs of the same suite: samples paired by scenario, arm, length,
    sample and turn; per arm, per turn and overall, the pass rates of A and B, the difference
    B-A with a bootstrap interval and the exact McNemar test."""
    a, b = read_run(run_a), read_run(run_b)
    comparison = compare_runs(a.records, b.records, a=a.ref, b=b.ref, arms=[*a.arms, *b.arms])
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
    if json_file == "-":
        click.echo(comparison_json(comparison), nl=False)
        return
    print_comparison(comparison, Console())
    if json_file:
        try:
            write_atomic(Path(json_file), comparison_json(comparison))
        except OSError as e:
            raise UserError(f"cannot write {json_file}: {e.strerror or e}") from e
        click.echo(f"wrote {json_file}", err=True)
