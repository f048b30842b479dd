"""Writing the report files of an output folder, each atomically.

``report.json`` is the ``Report`` model dumped at full precision; the HTML page and the JUnit
file are rendered from the same model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from parlantish.errors import UserError
from parlantish.eval.analysis import build_report
from parlantish.eval.records import SampleRecord
from parlantish.eval.report_model import Report
from parlantish.eval.runner import MANIFEST_FILE
from parlantish.eval.store import RESULTS_FILE, read_results, write_atomic
from parlantish.reports.html import report_html
from parlantish.reports.junit import junit_xml

__all__ = ["REPORT_FILES", "rebuild_reports", "report_json", "write_reports"]

REPORT_FILES = ("report.json", "report.html", "junit.xml")


def report_json(report: Report) -> str:
    """The text of ``report.json``: 2-space indent, trailing newline."""
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def write_reports(
    out: str | Path,
    records: Sequence[SampleRecord | Mapping[str, Any]],
    manifest: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Build the report from ``records`` and write report.json, report.html and junit.xml.
    Returns what report.json holds (the report as JSON data)."""
    out = Path(out)
    report = build_report(records, manifest)
    text = report_json(report)
    write_atomic(out / "report.json", text)
    write_atomic(out / "report.html", report_html(report))
    write_atomic(out / "junit.xml", junit_xml(report))
    data: dict[str, Any] = json.loads(text)
    return data


def rebuild_reports(out: str | Path) -> dict[str, Any]:
    """Rebuild every report of ``out`` from its results.jsonl (and run.json, when present)."""
    out = Path(out)
    results = out / RESULTS_FILE
    if not results.is_file():
        raise UserError(
            f"no {RESULTS_FILE} in {out}", hint="run `parlantish eval SUITE --out OUT` first"
        )
    records = read_results(results)
    if not records:
        raise UserError(f"{results} holds no finished samples")
    manifest = None
    manifest_path = out / MANIFEST_FILE
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise UserError(f"cannot read {manifest_path}: {e}") from e
    return write_reports(out, records, manifest)
