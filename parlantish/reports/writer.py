"""Writing the report files of an output folder, each atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from parlantish.errors import UserError
from parlantish.eval.analysis import build_report
from parlantish.eval.runner import MANIFEST_FILE
from parlantish.eval.store import RESULTS_FILE, read_results, write_atomic
from parlantish.reports.html import report_html
from parlantish.reports.junit import junit_xml

__all__ = ["REPORT_FILES", "rebuild_reports", "write_reports"]

REPORT_FILES = ("report.json", "report.html", "junit.xml")


def write_reports(
    out: str | Path, records: list[dict[str, Any]], manifest: dict[str, Any] | None
) -> dict[str, Any]:
    """Build the report from ``records`` and write report.json, report.html and junit.xml."""
    out = Path(out)
    report = build_report(records, manifest)
    write_atomic(out / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out / "report.html", report_html(report))
    write_atomic(out / "junit.xml", junit_xml(report))
    return report


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
