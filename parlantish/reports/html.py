"""``report.html``: one self-contained page (tables + matplotlib figures inlined as SVG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from parlantish.reports.plots import figures

__all__ = ["report_html"]

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def report_html(report: dict[str, Any]) -> str:
    """The HTML page of a report built by ``parlantish.eval.analysis.build_report``."""
    drawn = {name: Markup(svg) for name, svg in figures(report).items()}
    check_names = sorted({c for arm in report["arms"].values() for c in arm["per_check"]})
    return _TEMPLATES.get_template("report.html.j2").render(
        **report, figures=drawn, check_names=check_names
    )
